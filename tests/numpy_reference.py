"""What the public and the hidden suites compute expected values with, and
the inputs they make: NumPy forward formulas and closed forms (each one
already stated by a public test or by the course's API reference), seeded data makers, the
course's seeded helpers (get_tensor, Linear's draws, the initializers under a
seed), and small IDX (MNIST) file writers and readers.

Nothing here asserts anything: the comparisons live in ``helpers.py``.
"""
import gzip
import math
import struct

import numpy as np

import needle as ndl
import needle.nn as nn

# --------------------------------------------------------------------------
# Seeded inputs for the ops
# --------------------------------------------------------------------------

POSITIVE = (0.5, 2.0)  # the range of "positive" data: safe for log, division and fractional powers
POSITIVE_WIDE = (0.4, 2.5)  # a wider one, for other inputs of the same ops


def sample(kind, shape, rng, positive=POSITIVE):
    """float64 data of ``shape`` drawn from ``rng``: "normal", "positive"
    (uniform over ``positive``), "nonzero" (|x| in [0.5, 2), random signs: a
    safe divisor, away from ReLU's kink) or "near-one" (within 1e-3 of 1)."""
    if kind == "normal":
        data = rng.standard_normal(shape)
    elif kind == "positive":
        data = rng.uniform(*positive, shape)
    elif kind == "nonzero":
        data = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif kind == "near-one":
        data = rng.uniform(0.999, 1.001, shape)
    else:
        raise ValueError(kind)
    return np.asarray(data, dtype=np.float64)


def normal(shape, seed=0, dtype="float64"):
    """Standard-normal data of ``shape`` (a 0-d array for shape ())."""
    return sample("normal", shape, np.random.default_rng(seed)).astype(dtype)


def positive(shape, seed=0, low=POSITIVE[0], high=POSITIVE[1], dtype="float64"):
    """Data in [low, high)."""
    return sample("positive", shape, np.random.default_rng(seed), positive=(low, high)).astype(dtype)


def away_from_zero(shape, seed=0, dtype="float64"):
    """Magnitudes in [0.5, 2) with random signs: a safe divisor."""
    return sample("nonzero", shape, np.random.default_rng(seed)).astype(dtype)


def random_tensor(shape, seed, dtype="float64", kind="normal", positive=POSITIVE):
    """A Tensor of ``sample(kind, shape)`` under ``seed``."""
    return ndl.Tensor(sample(kind, shape, np.random.default_rng(seed), positive).astype(dtype))


# Input specs for the op cases: (kind, shape).
def N(*shape):
    return ("normal", shape)


def P(*shape):
    return ("positive", shape)


def NZ(*shape):
    return ("nonzero", shape)


def make_arrays(specs, seed, positive=POSITIVE):
    """One float64 array per (kind, shape) spec, drawn in turn from one generator."""
    rng = np.random.default_rng(seed)
    return [sample(kind, shape, rng, positive) for kind, shape in specs]


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


# (dtype, kind) of ``extreme`` data, each row's logsoftmax (and gradient) of which must stay finite and exact.
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
# The ops' forwards, and softmax, in NumPy
# --------------------------------------------------------------------------

def np_logsumexp(z, axes=None):
    """Stable log(sum(exp(z))) over ``axes`` (None, int or tuple), axes
    removed; keeps z's dtype."""
    z_max = np.max(z, axis=axes, keepdims=True)
    kept = np.log(np.sum(np.exp(z - z_max), axis=axes, keepdims=True)) + z_max
    return kept.reshape(()) if axes is None else np.squeeze(kept, axis=axes)


def np_logsoftmax(z):
    """Stable z - logsumexp(z) over the last axis."""
    return z - np.expand_dims(np_logsumexp(z, -1), -1)


def np_softmax(z, axes=-1):
    """Stable softmax over ``axes`` (None, int or tuple) in float64, shape kept."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=axes, keepdims=True))
    return e / np.sum(e, axis=axes, keepdims=True)


def np_relu(a):
    return np.maximum(a, 0)


def np_swap(axes):
    """Transpose(axes)'s forward: swap two axes (the last two for None)."""
    i, j = (-1, -2) if axes is None else axes
    return lambda a: np.swapaxes(a, i, j)


# The forwards of ops with a parameter, as functions of the array alone.
def np_power_scalar(s):
    return lambda a: a ** s


def np_reshape(shape):
    return lambda a: np.reshape(a, shape)


def np_broadcast_to(shape):
    return lambda a: np.broadcast_to(a, shape)


def np_summation(axes):
    return lambda a: np.sum(a, axis=axes)


def np_logsumexp_over(axes):
    return lambda a: np_logsumexp(a, axes)


# --------------------------------------------------------------------------
# Softmax loss, and the softmax regression / two-layer network epochs
# --------------------------------------------------------------------------

def one_hot(y, k, dtype=np.float32):
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def softmax_losses(Z, y):
    """Each row's log(sum(exp(z))) - z_y, in float64, shifted by the row maximum."""
    Z = np.asarray(Z, dtype=np.float64)
    shifted = Z - Z.max(axis=1, keepdims=True)
    return np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]


def softmax_loss_value(Z, y):
    """The batch mean of ``softmax_losses``, as a float."""
    return float(np.mean(softmax_losses(Z, y)))


def logits_and_labels(m, k, seed, scale=1.0, shift=0.0, dtype=np.float32):
    """(m, k) logits normal * scale + shift, and m labels in [0, k)."""
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((m, k)) * scale + shift).astype(dtype)
    y = rng.integers(0, k, size=m)
    return Z, y


def softmax_minus_one_hot(logits, y_b):
    """(softmax(logits) - onehot(y_b)) / rows: the softmax loss's gradient."""
    S = np_softmax(logits)
    S[np.arange(len(y_b)), y_b] -= 1
    return S / len(y_b)


def numpy_nn_epoch(X, y, W1, W2, lr, batch):
    """nn_epoch in float64 with the closed-form gradients (the course's API reference 7.1)."""
    W1, W2 = W1.astype(np.float64), W2.astype(np.float64)
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start:start + batch].astype(np.float64), y[start:start + batch]
        pre = X_b @ W1
        hidden = np.maximum(pre, 0)
        S = softmax_minus_one_hot(hidden @ W2, y_b)
        grad_W2 = hidden.T @ S
        grad_W1 = X_b.T @ ((S @ W2.T) * (pre > 0))
        W1, W2 = W1 - lr * grad_W1, W2 - lr * grad_W2
    return W1, W2


def numpy_softmax_regression_epoch(X, y, theta, lr, batch):
    """softmax_regression_epoch in float64 with the closed-form gradient."""
    theta = theta.astype(np.float64)
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start:start + batch].astype(np.float64), y[start:start + batch]
        theta = theta - lr * X_b.T @ softmax_minus_one_hot(X_b @ theta, y_b)
    return theta


def two_layer_problem(m, n, hidden, k, seed, x_scale=1.0):
    """float32 data, uint8 labels and float32 weights (W1 = randn / sqrt(hidden),
    W2 = randn / sqrt(k), as in the course)."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((m, n)) * x_scale).astype(np.float32)
    y = rng.integers(0, k, size=m).astype(np.uint8)
    W1 = (rng.standard_normal((n, hidden)) / math.sqrt(hidden)).astype(np.float32)
    W2 = (rng.standard_normal((hidden, k)) / math.sqrt(k)).astype(np.float32)
    return X, y, W1, W2


# --------------------------------------------------------------------------
# Modules: inputs, NumPy's RNG, Linear's draws, the norm layers
# --------------------------------------------------------------------------

def tensor(array, dtype="float32", requires_grad=True):
    return ndl.Tensor(np.asarray(array), dtype=dtype, requires_grad=requires_grad)


def randn(*shape, seed=0, scale=1.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def rng_state_equal(a, b):
    """Whether two ``np.random.get_state()`` results are the same state."""
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def kaiming_uniform_expected(draw, fan_in):
    """kaiming_uniform's values for the np.random.rand ``draw``."""
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    return draw * (2 * bound) - bound


def draw_linear(fan_in, fan_out):
    """nn.Linear(fan_in, fan_out)'s float32 weight and bias, drawn now as
    Linear draws them: np.random.rand(fan_in, fan_out) for the weight, then
    np.random.rand(fan_out, 1) for the bias (reshaped to (1, fan_out)), each
    scaled by kaiming_uniform with its own fan_in."""
    W = kaiming_uniform_expected(np.random.rand(fan_in, fan_out), fan_in).astype(np.float32)
    b = kaiming_uniform_expected(np.random.rand(fan_out, 1), fan_out).reshape(1, fan_out).astype(np.float32)
    return W, b


def affine(dim, seed):
    """A norm layer's weight (in [0.5, 2)) and bias, float32."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, dim).astype(np.float32), rng.standard_normal(dim).astype(np.float32)


def numpy_layernorm(x, w, b, eps):
    x = x.astype(np.float64)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps) * w + b


def norm_input_gradient(x, w, g, eps, axis):
    """Closed-form input gradient of weight * (x - mean) / sqrt(var + eps)
    (biased var over ``axis``) for the upstream gradient g."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    n = x.shape[axis]
    mean = x.mean(axis=axis, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    d_hat = g * w
    return inv_std / n * (n * d_hat - d_hat.sum(axis=axis, keepdims=True)
                          - x_hat * (d_hat * x_hat).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------
# The course's seeded helpers (the course's API reference 3.1 and 9.4)
# --------------------------------------------------------------------------

def get_tensor(*shape, entropy=1):
    """The course's seeded test input: multiples of 0.05 in [0, 4.95]."""
    np.random.seed(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(0, 100, size=shape) / 20, dtype="float32")


def get_int_tensor(*shape, low=0, high=10, entropy=1):
    """The course's seeded integer labels."""
    np.random.seed(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(low, high, size=shape))


def course_1d_batches():
    """learn_model_1d's data: 32 in-order batches of 32 rows of
    get_tensor(1024, 64), with uint8 labels in [0, 16)."""
    X = get_tensor(1024, 64).numpy()
    y = get_int_tensor(1024, low=0, high=16).numpy().astype(np.uint8)
    return list(zip(np.array_split(X, 32), np.array_split(y, 32)))


# --------------------------------------------------------------------------
# Initializers: the formula on the one draw (docs/API.md section 4.3)
# --------------------------------------------------------------------------

def xavier_uniform_expected(fan_in, fan_out, gain=1.0):
    a = gain * math.sqrt(6 / (fan_in + fan_out))
    return "rand", lambda draw: draw * (2 * a) - a, a


def xavier_normal_expected(fan_in, fan_out, gain=1.0):
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    return "randn", lambda draw: draw * std, std


def kaiming_uniform_init_expected(fan_in, fan_out):
    return "rand", lambda draw: kaiming_uniform_expected(draw, fan_in), math.sqrt(2) * math.sqrt(3 / fan_in)


def kaiming_normal_expected(fan_in, fan_out):
    std = math.sqrt(2) / math.sqrt(fan_in)
    return "randn", lambda draw: draw * std, std


# name -> (the needle initializer, its expectation: (draw kind, formula on the draw, bound or std))
INITIALIZERS = {
    name: ((lambda name: lambda *a, **k: getattr(ndl.init, name)(*a, **k))(name), expectation)
    for name, expectation in [
        ("xavier_uniform", xavier_uniform_expected),
        ("xavier_normal", xavier_normal_expected),
        ("kaiming_uniform", kaiming_uniform_init_expected),
        ("kaiming_normal", kaiming_normal_expected),
    ]
}


def init_case_ids(cases):
    """Test ids of (name, seed, fan_in, fan_out, kwargs) cases."""
    return [f"{n}-seed{s}-{i}x{o}" + "".join(f"-{k}={v}" for k, v in kw.items()) for n, s, i, o, kw in cases]


def seeded_init(name, seed, *args, **kwargs):
    """needle's initializer ``name``(*args, **kwargs) under np.random.seed(seed)."""
    np.random.seed(seed)
    return INITIALIZERS[name][0](*args, **kwargs)


def init_draw(kind, shape):
    return np.random.rand(*shape) if kind == "rand" else np.random.randn(*shape)


def init_expected(name, seed, fan_in, fan_out, kwargs, dtype="float32"):
    """Initializer ``name``'s values under ``np.random.seed(seed)``."""
    kind, formula, _ = INITIALIZERS[name][1](fan_in, fan_out, **kwargs)
    np.random.seed(seed)
    return formula(init_draw(kind, (fan_in, fan_out))).astype(dtype)


# --------------------------------------------------------------------------
# Optimizers: hand-made parameters and the closed forms (the course's API reference 5)
# --------------------------------------------------------------------------

def optimizer_problem(seed, shapes, steps=3, exponents=(-2, 1)):
    """float32 initial values of parameters of ``shapes`` and float32
    gradients for each step, of magnitudes 10**e for e in [exponents[0],
    exponents[1]) (spread over decades so that eps and the bias correction
    matter)."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [
        [(rng.standard_normal(s) * 10.0 ** rng.integers(*exponents, size=s)).astype(np.float32) for s in shapes]
        for _ in range(steps)
    ]
    return thetas, grads


def make_params(thetas):
    return [nn.Parameter(theta.copy()) for theta in thetas]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = ndl.Tensor(g.copy(), requires_grad=False)


def _gradient(grad, theta):
    """A step's gradient: an array, or a function of the parameter's value."""
    return grad(theta) if callable(grad) else grad


def sgd_history(thetas, grads, lr, momentum, weight_decay):
    """[(thetas, us)] after each step, in float64:
    u <- momentum u + (1 - momentum) (grad + weight_decay theta), u from 0;
    theta <- theta - lr u.  ``grads`` holds each step's gradients."""
    thetas = [t.astype(np.float64) for t in thetas]
    us = [np.zeros_like(t) for t in thetas]
    history = []
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = _gradient(grad, thetas[i])
            us[i] = momentum * us[i] + (1 - momentum) * (g + weight_decay * thetas[i])
            thetas[i] = thetas[i] - lr * us[i]
        history.append(([t.copy() for t in thetas], [u.copy() for u in us]))
    return history


def adam_history(thetas, grads, lr, beta1, beta2, eps, weight_decay):
    """[(thetas, ms, vs)] after each step, in float64: g = grad + weight_decay
    theta; m, v moving averages; t counts steps; theta <- theta - lr m_hat /
    (sqrt(v_hat) + eps) with the bias corrections.  ``grads`` holds each
    step's gradients."""
    thetas = [t.astype(np.float64) for t in thetas]
    ms = [np.zeros_like(t) for t in thetas]
    vs = [np.zeros_like(t) for t in thetas]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            g = _gradient(grad, thetas[i]) + weight_decay * thetas[i]
            ms[i] = beta1 * ms[i] + (1 - beta1) * g
            vs[i] = beta2 * vs[i] + (1 - beta2) * g * g
            m_hat, v_hat = ms[i] / (1 - beta1 ** t), vs[i] / (1 - beta2 ** t)
            thetas[i] = thetas[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(([x.copy() for x in thetas], [x.copy() for x in ms], [x.copy() for x in vs]))
    return history


# --------------------------------------------------------------------------
# MLP ResNet in NumPy (the course's API reference 7.2), replaying the documented draws
# --------------------------------------------------------------------------

def numpy_norm(x, norm, training=True, eps=1e-5):
    """A freshly built norm layer (weight 1, bias 0): BatchNorm1d uses the
    batch statistics in training and its initial running statistics (mean 0,
    var 1) in eval; LayerNorm1d each row's."""
    if norm is nn.BatchNorm1d and not training:
        return x / np.sqrt(1 + eps)
    axis = 0 if norm is nn.BatchNorm1d else 1
    return (x - x.mean(axis=axis, keepdims=True)) / np.sqrt(x.var(axis=axis, keepdims=True) + eps)


def numpy_block(dim, hidden, norm, p):
    """ResidualBlock's weights (drawn now) and its forward(x, training=True)
    (a training forward draws the dropout mask)."""
    W1, b1 = (a.astype(np.float64) for a in draw_linear(dim, hidden))
    W2, b2 = (a.astype(np.float64) for a in draw_linear(hidden, dim))

    def forward(x, training=True):
        h = np.maximum(numpy_norm(x @ W1 + b1, norm, training), 0)
        if training:
            h = h * (np.random.rand(*h.shape) <= 1 - p) / (1 - p)
        return np.maximum(numpy_norm(h @ W2 + b2, norm, training) + x, 0)

    return forward


def numpy_mlp_resnet(dim, hidden, num_blocks, num_classes, norm, p):
    """MLPResNet's weights (drawn now) and its forward(x, training=True)."""
    W_in, b_in = (a.astype(np.float64) for a in draw_linear(dim, hidden))
    blocks = [numpy_block(hidden, hidden // 2, norm, p) for _ in range(num_blocks)]
    W_out, b_out = (a.astype(np.float64) for a in draw_linear(hidden, num_classes))

    def forward(x, training=True):
        h = np.maximum(x @ W_in + b_in, 0)
        for block in blocks:
            h = block(h, training)
        return h @ W_out + b_out

    return forward


def synthetic_classification(n, dim, classes, seed, loud, factor):
    """n float32 rows and uint8 labels in [0, classes); the last ``loud`` rows
    are multiplied by ``factor``, so their losses stand out (a mean of batch
    means then differs from the mean over samples)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    X[n - loud:] *= factor
    y = rng.integers(0, classes, size=n).astype(np.uint8)
    return X, y


# --------------------------------------------------------------------------
# IDX files (docs/API.md section 9), written and read with gzip and NumPy
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


def read_idx(path, offset, count=-1):
    """The uint8 payload (``count`` bytes, or all) of a gzipped IDX file
    after its ``offset``-byte header."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset, count=count)


def mnist_paths(mnist_dir, split="t10k"):
    """The image and label files of an MNIST split ("train" or "t10k"), as str."""
    return (str(mnist_dir / f"{split}-images-idx3-ubyte.gz"), str(mnist_dir / f"{split}-labels-idx1-ubyte.gz"))


def read_mnist(mnist_dir, split="t10k", count=-1):
    """The raw pixels (N, 784) and labels (N,) of an MNIST split, uint8,
    decoded here (not through parse_mnist); the first ``count`` or all."""
    images, labels = mnist_paths(mnist_dir, split)
    X = read_idx(images, 16, count * 784 if count >= 0 else -1).reshape(-1, 784)
    return X, read_idx(labels, 8, count).copy()


def read_mnist_over_255(mnist_dir, image_shape=(784,), split="t10k"):
    """``read_mnist``'s pixels as float32 / 255 (for MNIST that is the
    min-max scaling), each image of ``image_shape``, and the labels."""
    X, y = read_mnist(mnist_dir, split)
    return X.reshape(-1, *image_shape).astype(np.float32) / np.float32(255), y


def min_max_scaled(images):
    """Whole-dataset min-max scaling of (N, 28, 28) images to (N, 784),
    computed in float64 and cast to float32."""
    flat = images.reshape(len(images), 784).astype(np.float64)
    low, high = flat.min(), flat.max()
    return ((flat - low) / (high - low)).astype(np.float32)


# --------------------------------------------------------------------------
# Image transforms (the course's API reference 3.1)
# --------------------------------------------------------------------------

def numpy_crop(img, padding, shift_x, shift_y):
    """RandomCrop's result for the shifts (shift_x along H, shift_y along W)."""
    h, w = img.shape[:2]
    padded = np.zeros((h + 2 * padding, w + 2 * padding, img.shape[2]), dtype=img.dtype)
    padded[padding:padding + h, padding:padding + w] = img
    return padded[padding + shift_x:padding + shift_x + h, padding + shift_y:padding + shift_y + w]
