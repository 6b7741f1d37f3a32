"""Hidden tests, question "softmax_loss": ``simple_ml.softmax_loss(Z, y_one_hot)``.

New batch sizes, class counts, seeds and scales.  Each test hands over the
loss (or Z.grad after backward()): it is compared with the reference
implementation's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.inputs import logits_and_labels, rng
from grader.box.record import check
from grader.box.softmax_loss import logits_gradient, mnist_shaped_labels, one_hot, single_value
from simple_ml import softmax_loss

VALUE_HINT = "the batch mean of log(sum(exp(z))) - z_y"
GRADIENT_HINT = "build the loss from needle ops; dZ = (softmax(Z) - y_one_hot) / batch"

CASES = [
    # (id, batch, classes, seed, scale, shift)
    ("7x13", 7, 13, 31, 1.0, 0.0),
    ("2x3", 2, 3, 32, 1.0, 0.0),
    ("64x10-scale5", 64, 10, 33, 5.0, 0.0),
    ("9x2-shifted-by-40", 9, 2, 34, 2.0, 40.0),
    ("25x6-scale0.1", 25, 6, 35, 0.1, 0.0),
]


@pytest.mark.behaviour("loss value")
@pytest.mark.parametrize("m, k, seed, scale, shift", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_loss_value_in_float32(m, k, seed, scale, shift):
    """The loss is the batch mean of log-sum-exp minus the true class's logit, kept float32."""
    Z, y = logits_and_labels(m, k, seed, scale, shift)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, k)))
    check(single_value(loss), tol="float32", what=f"softmax_loss of a {m}x{k} batch", hint=VALUE_HINT)


@pytest.mark.behaviour("loss value")
def test_equal_logits_give_log_of_the_class_count():
    """Equal logits in every row give the log of the number of classes, whatever the labels."""
    y = rng(36).integers(0, 7, size=7)
    Z = np.full((7, 7), 2.5, dtype=np.float32)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 7)))
    check(single_value(loss), tol="float32", what="softmax_loss of equal logits over 7 classes", hint=VALUE_HINT)


GRADIENT_CASES = [("9x6", 9, 6, 41), ("3x12", 3, 12, 42), ("1x5", 1, 5, 43)]


@pytest.mark.behaviour("dtype of the input kept")
def test_float64_logits_give_a_float64_loss():
    """float64 logits and labels give a float64 loss, computed in float64."""
    Z, y = logits_and_labels(11, 5, 36, 3.0, 0.0, dtype=np.float64)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 5, np.float64)))
    check(single_value(loss), tol="float64", what="softmax_loss of float64 inputs", hint=VALUE_HINT)


@pytest.mark.behaviour("gradient of the loss")
@pytest.mark.parametrize("m, k, seed", [c[1:] for c in GRADIENT_CASES], ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_against_central_differences_and_closed_form(m, k, seed):
    """The loss is differentiable through needle ops: dZ = (softmax(Z) - y_one_hot) / batch."""
    Z, y = logits_and_labels(m, k, seed, scale=1.5, dtype=np.float64)
    grad = logits_gradient(softmax_loss, Z, one_hot(y, k, np.float64))
    check(grad, tol="float64", what="d softmax_loss / dZ", hint=GRADIENT_HINT)


@pytest.mark.behaviour("dtype of the input kept")
def test_float32_gradient_stays_float32():
    """The gradient of float32 logits is float32."""
    Z, y = logits_and_labels(11, 4, 44, scale=2.0)
    grad = logits_gradient(softmax_loss, Z, one_hot(y, 4))
    check(grad, tol="float32", what="Z.grad for float32 Z", hint=GRADIENT_HINT)


@pytest.mark.behaviour("large logits stay finite")
@pytest.mark.parametrize("scale", [3e4, -5e3], ids=["logits-3e4", "logits-minus-5e3"])
def test_huge_logits_stay_finite(scale):
    """Logits far beyond exp's range still give a finite, exact loss."""
    Z, y = logits_and_labels(5, 8, 45, scale=scale)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 8)))
    check(single_value(loss), tol="float32", what=f"softmax_loss of logits scaled by {scale:g}",
          hint="subtract each row's maximum before exp")


@pytest.mark.behaviour("loss value")
def test_t10k_labels_with_seeded_logits():
    """The loss of seeded random logits against 10,000 labels (t10k's count)."""
    y = mnist_shaped_labels(10000, seed=30)
    Z = (rng(3).standard_normal((y.shape[0], 10)) * 1.7).astype(np.float32)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 10)))
    check(single_value(loss), tol="float32", what="softmax_loss(seeded logits, 10,000 labels)", hint=VALUE_HINT)
    loss_zero = softmax_loss(ndl.Tensor(np.zeros((y.shape[0], 10), np.float32)), ndl.Tensor(one_hot(y, 10)))
    check(single_value(loss_zero), tol="float32", what="softmax_loss(zeros, 10,000 labels)", hint=VALUE_HINT)
