"""Inputs of question "parse_mnist" that its public and hidden tests share:
uint8 images and labels drawn at random (salted), for the small IDX files
that the tests write with ``inputs.write_pair`` / ``inputs.write_idx``, and
the call of the submission's ``parse_mnist`` on a pair of files.  Inputs
only: nothing here reads an IDX file or says what parse_mnist should return.
"""
import numpy as np

from .inputs import rng


def images_with_own_ranges(n, low, high, seed):
    """n random 28x28 uint8 images with pixels in [low, high]: image i spans
    exactly [low + 3 i, high - 5 i] (each image has its own range, so
    per-image scaling differs from whole-dataset scaling), and the dataset
    reaches low and high."""
    generator = rng(seed)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        lo, hi = low + i * 3, high - i * 5
        images[i] = generator.integers(lo, hi + 1, size=(28, 28))
        images[i, 0, 0], images[i, -1, -1] = lo, hi
    images[0, 0, 0], images[-1, -1, -1] = low, high
    return images


def images_in_range(n, low, high, seed):
    """n images whose own ranges are all narrower than [low, high] (for n >
    1); together they reach exactly low and high, at drawn positions."""
    generator = rng(seed)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    span = high - low
    for i in range(n):
        lo = low + (i * span) // (4 * n)
        hi = high - ((n - 1 - i) * span) // (4 * n)
        images[i] = generator.integers(lo, hi + 1, size=(28, 28))
    images[0, generator.integers(28), 0] = low
    images[-1, generator.integers(28), -1] = high
    return images


def shuffled_image(low, high, seed):
    """One 28x28 uint8 image: the values low, low + 1, ..., high repeated
    over the 784 pixels in a drawn order (so it is not symmetric, and a
    transposed or column-major reading moves its values)."""
    values = low + np.arange(784) % (high - low + 1)
    return values[rng(seed).permutation(784)].reshape(28, 28).astype(np.uint8)


def labels(n, seed):
    """n uint8 labels in [0, 10)."""
    return rng(seed).integers(0, 10, size=n).astype(np.uint8)


def parse(parse_mnist, files):
    """``parse_mnist(*files)``, which must return a pair of NumPy arrays."""
    __tracebackhide__ = True
    out = parse_mnist(*files)
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"parse_mnist should return the pair (X, y), got {type(out).__name__}"
        + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
    )
    X, y = out
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray), (
        f"parse_mnist should return two NumPy arrays, got {type(X).__name__} and {type(y).__name__}"
    )
    return X, y
