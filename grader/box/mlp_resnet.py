"""Inputs of question "mlp_resnet" that its public and hidden tests share:
learnable images of MNIST's shape and look, drawn (never decoded from the
MNIST files), as arrays or as small IDX files for ``train_mnist``.  Inputs
only: nothing here computes what a model, an epoch or a training run should
return."""
import numpy as np

from .inputs import rng, write_pair

MNIST_CLASSES = 10


def _strokes(generator, n, density=0.15, dropped=0.5, stray=0.08):
    """``n`` drawn uint8 28 x 28 images and their labels: each class has a
    drawn set of "ink" pixels (``density`` of them); an image keeps each ink
    pixel of its class but a ``dropped`` fraction, adds a ``stray`` fraction
    of other pixels, and gives its ink a brightness in [150, 255]; the rest
    is 0.  Sparse and non-negative, as MNIST is, so training on them behaves
    like training on MNIST; noisy enough that two epochs leave errors well
    above 0."""
    patterns = generator.random((MNIST_CLASSES, 28, 28)) < density
    labels = generator.integers(0, MNIST_CLASSES, size=n)
    ink = (patterns[labels] & (generator.random((n, 28, 28)) >= dropped)) | (generator.random((n, 28, 28)) < stray)
    images = generator.integers(150, 256, size=(n, 28, 28)) * ink
    return images.astype(np.uint8), labels.astype(np.uint8)


def mnist_like(n, seed):
    """``n`` float32 rows of 784 pixels in [0, 1] (the drawn images' bytes
    / 255) and ``n`` uint8 labels in [0, 10)."""
    images, labels = _strokes(rng(seed), n)
    return (images.reshape(n, 784) / np.float32(255)).astype(np.float32), labels


def mnist_like_files(folder, sizes, seed):
    """Gzipped IDX files in ``folder``, named as MNIST's, of drawn images of
    the same classes: ``sizes`` maps each split ("train", "t10k") to its
    number of images.  Returns the paths by split."""
    generator = rng(seed)
    images, labels = _strokes(generator, sum(sizes.values()))
    paths, start = {}, 0
    for split, n in sizes.items():
        paths[split] = write_pair(folder, images[start:start + n], labels[start:start + n], prefix=f"{split}-")
        start += n
    return paths
