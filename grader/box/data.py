"""Inputs of question "data" that its public and hidden tests share: H x W
x C images of distinct values, and small MNIST files (gzipped IDX) written
from drawn pixels, never decoded here.  Inputs only: nothing here computes
what a transform, a dataset or a loader should return."""
import numpy as np

from .inputs import rng, write_pair

MNIST_CLASSES = 10


def distinct_image(h, w, c, seed=0, scale=1.0, offset=1.0):
    """A float32 H x W x C image whose values are a drawn permutation of
    0 .. H*W*C - 1, times ``scale`` plus ``offset``: every value differs
    from every other, so that any flip or shift shows."""
    return (rng(seed).permutation(h * w * c).reshape(h, w, c) * scale + offset).astype(np.float32)


def small_mnist(folder, n, seed, low=0, high=255, prefix=""):
    """Gzipped IDX files of ``n`` drawn 28 x 28 images and ``n`` labels in
    [0, 10), in ``folder`` (``prefix`` + images-idx3-ubyte.gz, ...); their
    paths as str.

    Pixels are drawn in [low, high], and the darkest and the brightest
    values are both taken (by the first image), so the whole file spans
    exactly [low, high]; the odd-numbered images span only the lower third
    of that range, so that scaling each image by its own range differs from
    scaling over the file.  With (0, 255), min-max scaling is pixel / 255."""
    generator = rng(seed)
    images = generator.integers(low, high + 1, size=(n, 28, 28))
    images[1::2] = low + (images[1::2] - low) // 3
    images[0, 0, 0], images[0, 0, 1] = low, high
    labels = generator.integers(0, MNIST_CLASSES, size=n)
    return write_pair(folder, images, labels, prefix)
