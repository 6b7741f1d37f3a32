"""Question "softmax_loss": ``simple_ml.softmax_loss(Z, y_one_hot)``.

Contract (docs/API.md section 8.1; the course's published test: hw1's
test_softmax_loss_ndl): Z and y_one_hot are Tensors of
one shape (batch, classes); the result is a single-value Tensor (0-d, or of
size 1) holding the batch mean of log(sum_j exp(z_j)) - z_y, of Z's dtype, and
differentiable with needle ops: d loss / dZ = (softmax(Z) - y_one_hot) / batch.
This kit's reference computes it stably (through logsoftmax), so logits of
size 1e4 give finite, exact values.  (Shapes that differ, or are not 2-D,
raise ValueError: that check is given code, ahead of the TODO.)

Each test builds seeded logits and labels, calls softmax_loss (and
backward()) and hands over the loss or Z.grad: they are compared with the
reference implementation's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.inputs import logits_and_labels, rng, seed_global
from grader.box.record import check
from grader.box.softmax_loss import logits_gradient, mnist_shaped_labels, one_hot, single_value
from simple_ml import softmax_loss

VALUE_HINT = "mean over the batch (divide by the number of rows) of log(sum(exp(z))) - z_y"
GRADIENT_HINT = ("build the loss only from needle ops (logsoftmax or log/exp/summation) so backward() reaches Z; "
                 "the gradient is (softmax(Z) - y_one_hot) / batch")

VALUE_CASES = [
    # (id, batch, classes, seed, scale)
    ("5x10", 5, 10, 0, 1.0),
    ("3x11", 3, 11, 1, 1.0),
    ("1x2", 1, 2, 2, 1.0),
    ("50x7-scale3", 50, 7, 3, 3.0),
]


@pytest.mark.behaviour("loss value")
@pytest.mark.parametrize("m, k, seed, scale", [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
def test_value_is_batch_mean_of_logsumexp_minus_true_logit(m, k, seed, scale):
    Z, y = logits_and_labels(m, k, seed, scale)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, k)))
    check(single_value(loss), tol="float32", what=f"softmax_loss of a {m}x{k} float32 batch", hint=VALUE_HINT)


@pytest.mark.behaviour("loss value")
def test_zero_logits_give_log_of_the_class_count():
    # The course's check: all-zero logits over 10 classes give ln(10) whatever the labels.
    y = rng(4).integers(0, 10, size=12)
    loss = softmax_loss(ndl.Tensor(np.zeros((12, 10), dtype=np.float32)), ndl.Tensor(one_hot(y, 10)))
    check(single_value(loss), tol="float32", what="softmax_loss(zeros(12, 10), y)",
          hint="with equal logits every class has probability 1/10, so the loss is ln(10) = 2.302585")


@pytest.mark.behaviour("dtype of the input kept")
def test_float64_input_gives_float64_loss():
    Z, y = logits_and_labels(6, 4, 7, dtype=np.float64)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 4, np.float64)))
    check(single_value(loss), tol="float64", what="softmax_loss of float64 inputs", hint=VALUE_HINT)


@pytest.mark.behaviour("gradient of the loss")
@pytest.mark.parametrize("m, k", [(16, 10), (4, 3)], ids=["16x10", "4x3"])
def test_gradient_matches_central_differences(m, k):
    Z, y = logits_and_labels(m, k, seed=m + k, dtype=np.float64)
    grad = logits_gradient(softmax_loss, Z, one_hot(y, k, np.float64))
    check(grad, tol="float64", what="d softmax_loss / dZ (Z.grad after backward())", hint=GRADIENT_HINT)


@pytest.mark.behaviour("dtype of the input kept")
def test_gradient_of_float32_logits_is_float32():
    Z, y = logits_and_labels(8, 5, seed=11)
    grad = logits_gradient(softmax_loss, Z, one_hot(y, 5))
    check(grad, tol="float32", what="Z.grad for float32 Z", hint=GRADIENT_HINT)


@pytest.mark.behaviour("large logits stay finite")
@pytest.mark.parametrize("scale", [1e4, -1e4], ids=["logits-1e4", "logits-minus-1e4"])
def test_large_logits_stay_finite_and_exact(scale):
    Z, y = logits_and_labels(6, 10, seed=21, scale=scale)
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, 10)))
    check(single_value(loss), tol="float32", what=f"softmax_loss of logits scaled by {scale:g}",
          hint="exp overflows for large logits: compute log(sum(exp(z))) as max(z) + log(sum(exp(z - max(z)))) "
               "(logsoftmax does)")


@pytest.mark.behaviour("loss value")
def test_course_logits_against_60000_labels():
    # The course's published test (hw1's test_softmax_loss_ndl): seed 0, Z = randn(60000, 10)
    # in float32 against the 60,000 training labels (2.7291998).  Here the
    # labels are drawn at random, of the training labels' shape and type (the
    # suite never decodes MNIST): the logits are the course's.
    y = mnist_shaped_labels(60000, seed=0)
    seed_global(0)
    Z = ndl.Tensor(np.random.randn(y.shape[0], 10).astype(np.float32))
    loss = softmax_loss(Z, ndl.Tensor(one_hot(y, 10)))
    check(single_value(loss), tol="float32", what="softmax_loss(seed-0 randn(60000, 10) logits, 60,000 labels)",
          hint=VALUE_HINT)
