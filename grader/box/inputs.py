"""The tests' inputs: seeded data, the course's seeded helpers, hand-made
parameters, and IDX (MNIST) files written from arrays.  Inputs only: no
function here computes what the code under test should return.

Every draw goes through ``rng(seed)`` or ``seed_global(seed)``, which mix
in ``SALT``: with salt 0 (a student's run) the inputs are those that the
public tests' expected.npz was written for; the grader runs the same tests
with a salt of its own, so that outputs typed in for the public inputs
earn nothing.
"""
import gzip
import math
import struct

import numpy as np

SALT = 0  # set by the suites' plugin (--salt)


def rng(seed) -> np.random.Generator:
    """A generator for ``seed`` under the run's salt."""
    return np.random.default_rng(seed if not SALT else [SALT, *np.atleast_1d(seed).tolist()])


def salted(seed: int) -> int:
    """``seed`` under the run's salt, for NumPy's global RNG."""
    return int(seed) if not SALT else int(np.random.default_rng([SALT, int(seed)]).integers(2**31))


def seed_global(seed: int) -> None:
    """np.random.seed(seed) under the run's salt (needle's initializers and
    Dropout draw from NumPy's global RNG, as the course's do)."""
    np.random.seed(salted(seed))


# --------------------------------------------------------------------------
# Seeded data
# --------------------------------------------------------------------------

POSITIVE = (0.5, 2.0)  # "positive" data: safe for log, division and fractional powers
POSITIVE_WIDE = (0.4, 2.5)  # a wider range, for other inputs of the same ops


def sample(kind, shape, generator, positive=POSITIVE):
    """float64 data of ``shape``: "normal", "positive" (uniform over
    ``positive``), "nonzero" (|x| in [0.5, 2), random signs: a safe divisor,
    away from ReLU's kink) or "near-one" (within 1e-3 of 1)."""
    if kind == "normal":
        data = generator.standard_normal(shape)
    elif kind == "positive":
        data = generator.uniform(*positive, shape)
    elif kind == "nonzero":
        data = generator.uniform(0.5, 2.0, shape) * generator.choice([-1.0, 1.0], shape)
    elif kind == "near-one":
        data = generator.uniform(0.999, 1.001, shape)
    else:
        raise ValueError(kind)
    return np.asarray(data, dtype=np.float64)


def normal(shape, seed=0, dtype="float64"):
    """Standard-normal data of ``shape`` (a 0-d array for shape ())."""
    return sample("normal", shape, rng(seed)).astype(dtype)


def positive(shape, seed=0, low=POSITIVE[0], high=POSITIVE[1], dtype="float64"):
    """Data in [low, high)."""
    return sample("positive", shape, rng(seed), positive=(low, high)).astype(dtype)


def away_from_zero(shape, seed=0, dtype="float64"):
    """Magnitudes in [0.5, 2) with random signs: a safe divisor."""
    return sample("nonzero", shape, rng(seed)).astype(dtype)


def integers(low, high, shape, seed=0, dtype=np.int64):
    return rng(seed).integers(low, high, shape).astype(dtype)


def randn(*shape, seed=0, scale=1.0, dtype=np.float32):
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def random_tensor(shape, seed, dtype="float64", kind="normal", positive=POSITIVE):
    """A Tensor of ``sample(kind, shape)`` under ``seed``."""
    import needle as ndl

    return ndl.Tensor(sample(kind, shape, rng(seed), positive).astype(dtype))


def tensor(array, dtype="float32", requires_grad=True):
    import needle as ndl

    return ndl.Tensor(np.asarray(array), dtype=dtype, requires_grad=requires_grad)


# Input specs for the op cases: (kind, shape).
def N(*shape):
    return ("normal", shape)


def P(*shape):
    return ("positive", shape)


def NZ(*shape):
    return ("nonzero", shape)


def make_arrays(specs, seed, positive=POSITIVE):
    """One float64 array per (kind, shape) spec, drawn in turn from one generator."""
    generator = rng(seed)
    return [sample(kind, shape, generator, positive) for kind, shape in specs]


def extreme(kind, shape, seed, dtype):
    """Large-magnitude, finite data: ``scale:S`` is normal * S (huge gaps
    between entries), ``offset:O`` is O + normal (huge values, ordinary gaps),
    ``rows-pm:O`` has a row of +O, a row of -O, and rows of normal * O."""
    name, size = kind.split(":")
    size = float(size)
    z = normal(shape, seed)
    if name == "scale":
        z = z * size
    elif name == "offset":
        z = size + z
    elif name == "rows-pm":
        z = z * size
        z[0, :] = size
        z[1, :] = -size
    else:
        raise ValueError(kind)
    return z.astype(dtype)


# (dtype, kind) of ``extreme`` data.
EXTREME_ROWS = [
    ("float64", "scale:1e4"),
    ("float64", "scale:1e6"),
    ("float64", "offset:1e6"),
    ("float64", "offset:-1e4"),
    ("float64", "rows-pm:1e6"),
    ("float32", "scale:1e4"),
    ("float32", "scale:1e6"),
]


def extreme_ids(cases):
    """Test ids of (dtype, kind) or (dtype, kind, axes) cases of ``extreme`` data."""
    return ["-".join([c[0], c[1].replace(":", "")] + [axes_id(a) for a in c[2:]]) for c in cases]


def shape_id(shape):
    return "x".join(map(str, shape)) if shape else "0d"


def axes_id(axes):
    return f"axes{axes}".replace(" ", "")


# --------------------------------------------------------------------------
# Problems for the training questions
# --------------------------------------------------------------------------

def logits_and_labels(m, k, seed, scale=1.0, shift=0.0, dtype=np.float32):
    """(m, k) logits normal * scale + shift, and m labels in [0, k)."""
    generator = rng(seed)
    Z = (generator.standard_normal((m, k)) * scale + shift).astype(dtype)
    y = generator.integers(0, k, size=m)
    return Z, y


def two_layer_problem(m, n, hidden, k, seed, x_scale=1.0):
    """float32 data, uint8 labels and float32 weights (W1 = randn / sqrt(hidden),
    W2 = randn / sqrt(k), as in the course)."""
    generator = rng(seed)
    X = (generator.standard_normal((m, n)) * x_scale).astype(np.float32)
    y = generator.integers(0, k, size=m).astype(np.uint8)
    W1 = (generator.standard_normal((n, hidden)) / math.sqrt(hidden)).astype(np.float32)
    W2 = (generator.standard_normal((hidden, k)) / math.sqrt(k)).astype(np.float32)
    return X, y, W1, W2


def synthetic_classification(n, dim, classes, seed, loud, factor):
    """n float32 rows and uint8 labels in [0, classes); the last ``loud`` rows
    are multiplied by ``factor``, so their losses stand out (a mean of batch
    means then differs from the mean over samples)."""
    generator = rng(seed)
    X = generator.standard_normal((n, dim)).astype(np.float32)
    X[n - loud:] *= factor
    y = generator.integers(0, classes, size=n).astype(np.uint8)
    return X, y


def optimizer_problem(seed, shapes, steps=3, exponents=(-2, 1)):
    """float32 initial values of parameters of ``shapes`` and float32
    gradients for each step, of magnitudes 10**e for e in [exponents[0],
    exponents[1]) (spread over decades so that eps and the bias correction
    matter)."""
    generator = rng(seed)
    thetas = [generator.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [
        [(generator.standard_normal(s) * 10.0 ** generator.integers(*exponents, size=s)).astype(np.float32)
         for s in shapes]
        for _ in range(steps)
    ]
    return thetas, grads


def make_params(thetas):
    import needle.nn as nn

    return [nn.Parameter(theta.copy()) for theta in thetas]


def set_grads(params, grads):
    import needle as ndl

    for p, g in zip(params, grads):
        p.grad = ndl.Tensor(g.copy(), requires_grad=False)


def affine(dim, seed):
    """A norm layer's weight (in [0.5, 2)) and bias, float32."""
    generator = rng(seed)
    return generator.uniform(0.5, 2.0, dim).astype(np.float32), generator.standard_normal(dim).astype(np.float32)


# --------------------------------------------------------------------------
# The course's seeded helpers
# --------------------------------------------------------------------------

def get_tensor(*shape, entropy=1):
    """The course's seeded test input: multiples of 0.05 in [0, 4.95]."""
    import needle as ndl

    seed_global(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(0, 100, size=shape) / 20, dtype="float32")


def get_int_tensor(*shape, low=0, high=10, entropy=1):
    """The course's seeded integer labels."""
    import needle as ndl

    seed_global(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(low, high, size=shape))


def course_1d_batches():
    """learn_model_1d's data: 32 in-order batches of 32 rows of
    get_tensor(1024, 64), with uint8 labels in [0, 16)."""
    X = get_tensor(1024, 64).numpy()
    y = get_int_tensor(1024, low=0, high=16).numpy().astype(np.uint8)
    return list(zip(np.array_split(X, 32), np.array_split(y, 32)))


# --------------------------------------------------------------------------
# IDX files, written from arrays (what parse_mnist and MNISTDataset read)
# --------------------------------------------------------------------------

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049


def idx_bytes(magic, dims, payload):
    """The uncompressed bytes of an IDX file: big-endian int32 magic and dims,
    then the uint8 payload."""
    return struct.pack(f">{1 + len(dims)}i", magic, *dims) + np.asarray(payload, dtype=np.uint8).tobytes()


def write_idx(path, magic, dims, payload, *, cut=0):
    """Write a gzipped IDX file (dropping the last ``cut`` payload bytes);
    return its path as a str, as the course passes file names."""
    raw = idx_bytes(magic, dims, payload)
    with gzip.open(path, "wb") as f:
        f.write(raw[: len(raw) - cut])
    return str(path)


def write_pair(folder, images, labels, prefix=""):
    """Gzipped IDX files of (N, 28, 28) ``images`` and N ``labels`` in
    ``folder``, named ``prefix`` + images-idx3-ubyte.gz and
    labels-idx1-ubyte.gz; their paths as str."""
    images = np.asarray(images, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.uint8)
    return (write_idx(folder / f"{prefix}images-idx3-ubyte.gz", IMAGE_MAGIC, (len(images), 28, 28), images),
            write_idx(folder / f"{prefix}labels-idx1-ubyte.gz", LABEL_MAGIC, (len(labels),), labels))


def mnist_paths(mnist_dir, split="t10k"):
    """The image and label files of an MNIST split ("train" or "t10k"), as str."""
    return (str(mnist_dir / f"{split}-images-idx3-ubyte.gz"), str(mnist_dir / f"{split}-labels-idx1-ubyte.gz"))
