"""Inputs of question "softmax_loss" that its public and hidden tests share:
one-hot label matrices, labels of MNIST's shape (drawn, never decoded from
the MNIST files), and the loss that softmax_loss returned as one value.
Inputs only: nothing here computes what the loss should be."""
import numpy as np

from .inputs import rng

MNIST_CLASSES = 10


def one_hot(y, k, dtype=np.float32):
    """The (len(y), k) matrix with a 1 at (i, y[i]) and 0 elsewhere."""
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def mnist_shaped_labels(m, seed):
    """``m`` uint8 labels in [0, 10), as parse_mnist returns them (train:
    m = 60000; t10k: m = 10000), drawn with ``seed``."""
    return rng(seed).integers(0, MNIST_CLASSES, size=m).astype(np.uint8)


def single_value(loss, what="softmax_loss(Z, y_one_hot)"):
    """The data of the loss Tensor, which must be a single value (0-d or
    of size 1), as a 0-d array; of another size, as it is (the grader then
    reports the shape)."""
    __tracebackhide__ = True
    import needle as ndl

    assert isinstance(loss, ndl.Tensor), f"{what} should return a needle Tensor, got {type(loss).__name__}"
    value = loss.numpy()
    return value.reshape(()) if isinstance(value, np.ndarray) and value.size == 1 else value


def logits_gradient(softmax_loss, Z, Y):
    """Z.grad after ``softmax_loss(Z, Y).backward()``, for a new Tensor Z of
    the array ``Z`` and a constant one-hot Y; None when backward() did not
    reach Z (a loss built outside needle's ops)."""
    import needle as ndl

    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, ndl.Tensor(Y, requires_grad=False)).backward()
    return getattr(Zt, "grad", None)
