"""Inputs of question "nn_epoch" that its public and hidden tests share:
data of MNIST's shape (drawn, never decoded from the MNIST files), the
course's seeded two-layer weights and a small softmax-regression theta.
Inputs only: nothing here computes what an epoch should return."""
import math

import numpy as np

from .inputs import rng, seed_global

MNIST_PIXELS = 784
MNIST_CLASSES = 10


INK = 0.2  # the share of non-zero pixels (about 19% in MNIST)


def mnist_shaped(m, seed):
    """``m`` float32 rows of 784 pixels in [0, 1) and ``m`` uint8 labels in
    [0, 10): data of MNIST's shape and type (t10k: m = 10000), as
    parse_mnist returns it, drawn with ``seed``.  As in MNIST, most pixels
    are 0: a pixel is uniform in [0, 1) with probability ``INK``, else 0.
    (Dense pixels would make lr 0.2 too large a step for softmax regression:
    its epoch would turn chaotic and amplify rounding beyond any tolerance.)"""
    generator = rng(seed)
    X = generator.random((m, MNIST_PIXELS), dtype=np.float32)
    X[generator.random((m, MNIST_PIXELS)) >= INK] = 0
    y = generator.integers(0, MNIST_CLASSES, size=m).astype(np.uint8)
    return X, y


def course_weights(n, hidden, k, seed):
    """float32 W1 = randn(n, hidden) / sqrt(hidden) and W2 = randn(hidden, k)
    / sqrt(k), drawn from NumPy's global RNG after ``seed_global(seed)``, as
    the course's train_nn draws them."""
    seed_global(seed)
    W1 = (np.random.randn(n, hidden) / math.sqrt(hidden)).astype(np.float32)
    W2 = (np.random.randn(hidden, k) / math.sqrt(k)).astype(np.float32)
    return W1, W2


def small_theta(n, k, seed, scale):
    """A float32 (n, k) theta, standard normal times ``scale``."""
    return (rng(seed).standard_normal((n, k)) * scale).astype(np.float32)
