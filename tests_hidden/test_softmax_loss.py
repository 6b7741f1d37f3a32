"""Hidden tests, question "softmax_loss": ``simple_ml.softmax_loss(Z, y_one_hot)``.

New batch sizes, class counts, seeds and scales; expected values from NumPy
(float64, shifted by the row maximum).
"""
import math

import numpy as np
import pytest

import needle as ndl
from simple_ml import softmax_loss
from tests_public.helpers import TOL, assert_close, check_gradient
from tests_public.numpy_reference import (
    logits_and_labels, mnist_paths, np_softmax, one_hot, read_idx, softmax_loss_value,
)


def single_value(loss):
    assert isinstance(loss, ndl.Tensor), f"softmax_loss should return a needle Tensor, got {type(loss).__name__}"
    value = np.asarray(loss.numpy())
    assert value.size == 1, f"softmax_loss should return a single value, got shape {value.shape}"
    return value.reshape(())


CASES = [
    # (id, batch, classes, seed, scale, shift)
    ("7x13", 7, 13, 31, 1.0, 0.0),
    ("2x3", 2, 3, 32, 1.0, 0.0),
    ("64x10-scale5", 64, 10, 33, 5.0, 0.0),
    ("9x2-shifted-by-40", 9, 2, 34, 2.0, 40.0),
    ("25x6-scale0.1", 25, 6, 35, 0.1, 0.0),
]


@pytest.mark.parametrize("m, k, seed, scale, shift", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_loss_value_in_float32(m, k, seed, scale, shift):
    """The loss is the batch mean of log-sum-exp minus the true class's logit, kept float32."""
    Z, y = logits_and_labels(m, k, seed, scale, shift)
    loss = single_value(softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, k))))
    assert loss.dtype == np.float32, f"float32 logits gave a {loss.dtype} loss"
    assert_close(loss, np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"], what=f"softmax_loss of a {m}x{k} batch")


def test_equal_logits_give_log_of_the_class_count():
    """Equal logits in every row give the log of the number of classes, whatever the labels."""
    y = np.array([6, 0, 3, 3, 1, 5, 2])
    Z = np.full((7, 7), 2.5, dtype=np.float32)
    loss = single_value(softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 7))))
    assert_close(loss, np.float32(math.log(7)), tol=TOL["float32"], what="softmax_loss of equal logits over 7 classes")


GRADIENT_CASES = [("9x6", 9, 6, 41), ("3x12", 3, 12, 42), ("1x5", 1, 5, 43)]


@pytest.mark.parametrize("m, k, seed", [c[1:] for c in GRADIENT_CASES], ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_against_central_differences_and_closed_form(m, k, seed):
    """The loss is differentiable through needle ops: dZ = (softmax(Z) - y_one_hot) / batch."""
    Z, y = logits_and_labels(m, k, seed, scale=1.5, dtype=np.float64)
    Y = ndl.Tensor(one_hot(y, k, np.float64), requires_grad=False)
    check_gradient(lambda Z: softmax_loss(Z, Y), ndl.Tensor(Z), seed=seed)
    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, Y).backward()
    assert_close(Zt.grad, (np_softmax(Z) - one_hot(y, k, np.float64)) / m, tol=TOL["gradient"],
                 what="d softmax_loss / dZ")


def test_float32_gradient_stays_float32():
    """The gradient of float32 logits is float32."""
    Z, y = logits_and_labels(11, 4, 44, scale=2.0)
    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, ndl.Tensor(one_hot(y, 4), requires_grad=False)).backward()
    assert Zt.grad.dtype == np.float32, f"Z.grad is {Zt.grad.dtype}, expected float32"
    assert_close(Zt.grad, ((np_softmax(Z) - one_hot(y, 4, np.float64)) / 11).astype(np.float32),
                 tol=TOL["float32"], what="Z.grad for float32 Z")


@pytest.mark.parametrize("scale", [3e4, -5e3], ids=["logits-3e4", "logits-minus-5e3"])
def test_huge_logits_stay_finite(scale):
    """Logits far beyond exp's range still give a finite, exact loss."""
    Z, y = logits_and_labels(5, 8, 45, scale=scale)
    loss = single_value(softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 8))))
    assert np.isfinite(loss), f"softmax_loss of logits of size {abs(scale):g} is {loss}"
    assert_close(loss, np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"], what=f"softmax_loss of logits scaled by {scale:g}")


@pytest.mark.mnist
def test_t10k_labels_with_seeded_logits(mnist_dir):
    """The loss of seeded random logits against the t10k labels."""
    y = read_idx(mnist_paths(mnist_dir)[1], 8)
    rng = np.random.RandomState(3)
    Z = (rng.randn(y.shape[0], 10) * 1.7).astype(np.float32)
    loss = single_value(softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 10))))
    assert_close(loss, np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"], what="softmax_loss(seeded logits, t10k labels)")
    loss_zero = single_value(softmax_loss(ndl.Tensor(np.zeros((y.shape[0], 10), np.float32)), ndl.Tensor(one_hot(y, 10))))
    assert_close(loss_zero, np.float32(math.log(10)), tol=TOL["float32"], what="softmax_loss(zeros, t10k labels)")
