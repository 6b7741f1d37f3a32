"""Question "softmax_loss": ``simple_ml.softmax_loss(Z, y_one_hot)``.

Contract (needle_api.md sections 7.1 and 9.2): Z and y_one_hot are Tensors of
one shape (batch, classes); the result is a single-value Tensor (0-d, or of
size 1) holding the batch mean of log(sum_j exp(z_j)) - z_y, of Z's dtype, and
differentiable with needle ops: d loss / dZ = (softmax(Z) - y_one_hot) / batch.
This kit's reference computes it stably (through logsoftmax), so logits of
size 1e4 give finite, exact values.  (Shapes that differ, or are not 2-D,
raise ValueError: that check is given code, ahead of the TODO.)

Expected values come from NumPy (float64, shifted by the row maximum).
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


def loss_value(loss, what="softmax_loss(Z, y_one_hot)"):
    """The loss as a 0-d array, after checking that it is a single-value Tensor."""
    assert isinstance(loss, ndl.Tensor), f"{what} should return a needle Tensor, got {type(loss).__name__}"
    value = np.asarray(loss.numpy())
    assert value.size == 1, (
        f"{what} should be a single value (0-d or shape (1,)), got shape {value.shape}; "
        f"average over the batch with a sum over all axes divided by the batch size"
    )
    return value.reshape(())


VALUE_CASES = [
    # (id, batch, classes, seed, scale)
    ("5x10", 5, 10, 0, 1.0),
    ("3x11", 3, 11, 1, 1.0),
    ("1x2", 1, 2, 2, 1.0),
    ("50x7-scale3", 50, 7, 3, 3.0),
]


@pytest.mark.parametrize("m, k, seed, scale", [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
def test_value_is_batch_mean_of_logsumexp_minus_true_logit(m, k, seed, scale):
    Z, y = logits_and_labels(m, k, seed, scale)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, k)))
    assert_close(
        loss_value(loss), np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"],
        what=f"softmax_loss of a {m}x{k} float32 batch",
        hint="mean over the batch (divide by the number of rows) of log(sum(exp(z))) - z_y; "
        "keep float32 inputs float32",
    )


def test_zero_logits_give_log_of_the_class_count():
    # The course's check: all-zero logits over 10 classes give ln(10) whatever the labels.
    y = np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 7, 7])
    loss = softmax_loss(ndl.Tensor(np.zeros((12, 10), dtype=np.float32)), ndl.Tensor(one_hot(y, 10)))
    assert_close(
        loss_value(loss), np.float32(math.log(10)), tol=TOL["float32"], what="softmax_loss(zeros(12, 10), y)",
        hint="with equal logits every class has probability 1/10, so the loss is ln(10) = 2.302585",
    )


def test_float64_input_gives_float64_loss():
    Z, y = logits_and_labels(6, 4, 7, dtype=np.float64)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 4, np.float64)))
    assert_close(loss_value(loss), np.float64(softmax_loss_value(Z, y)), tol=TOL["float64"],
                 what="softmax_loss of float64 inputs")


@pytest.mark.parametrize("m, k", [(16, 10), (4, 3)], ids=["16x10", "4x3"])
def test_gradient_matches_central_differences(m, k):
    Z, y = logits_and_labels(m, k, seed=m + k, dtype=np.float64)
    Y = ndl.Tensor(one_hot(y, k, np.float64), requires_grad=False)
    check_gradient(
        lambda Z: softmax_loss(Z, Y), ndl.Tensor(Z),
        hint="build the loss only from needle ops (logsoftmax or log/exp/summation) so backward() reaches Z",
    )
    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, Y).backward()
    assert_close(
        Zt.grad, (np_softmax(Z) - one_hot(y, k, np.float64)) / m, tol=TOL["gradient"],
        what="d softmax_loss / dZ", hint="the gradient is (softmax(Z) - y_one_hot) / batch",
    )


def test_gradient_of_float32_logits_is_float32():
    Z, y = logits_and_labels(8, 5, seed=11)
    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, ndl.Tensor(one_hot(y, 5), requires_grad=False)).backward()
    assert_close(
        Zt.grad, ((np_softmax(Z) - one_hot(y, 5, np.float64)) / 8).astype(np.float32),
        tol=TOL["float32"], what="Z.grad for float32 Z",
        hint="divide by the batch size as a Python int or float, so float32 stays float32",
    )


@pytest.mark.parametrize("scale", [1e4, -1e4], ids=["logits-1e4", "logits-minus-1e4"])
def test_large_logits_stay_finite_and_exact(scale):
    Z, y = logits_and_labels(6, 10, seed=21, scale=scale)
    loss = loss_value(softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 10))))
    assert np.isfinite(loss), (
        f"softmax_loss of logits of size {abs(scale):g} gave {loss}; exp overflows in float32: "
        f"subtract each row's maximum first (logsoftmax does)"
    )
    expected = np.float32(softmax_loss_value(Z, y))
    assert_close(loss, expected, tol=TOL["float32"], what=f"softmax_loss of logits scaled by {scale:g}",
                 hint="compute log(sum(exp(z))) as max(z) + log(sum(exp(z - max(z))))")


@pytest.mark.mnist
def test_course_value_on_the_mnist_training_labels(mnist_dir):
    # hw1's published check (needle_api.md 9.2): seed 0, Z = randn(60000, 10) in
    # float32 against the training labels (which are byte-exact here) gives
    # 2.7291998.  The labels are read directly, not through parse_mnist.
    y = read_idx(mnist_paths(mnist_dir, "train")[1], 8)
    np.random.seed(0)
    Z = ndl.Tensor(np.random.randn(y.shape[0], 10).astype(np.float32))
    loss = softmax_loss(Z, ndl.Tensor(one_hot(y, 10)))
    assert_close(loss_value(loss), np.float32(2.7291998), tol=TOL["float32"],
                 what="softmax_loss(seed-0 randn logits, MNIST training labels)")
