"""The kit's proof that the reference's ``nn_epoch`` and
``softmax_regression_epoch`` are right (question "nn_epoch"): against an
independent float64 NumPy implementation with the closed-form gradients
(tests/numpy_reference.py),

    S = softmax(logits) - onehot(y_b), divided by the batch's row count;
    dW2 = relu(X_b W1)^T S;  dW1 = X_b^T ((S W2^T) * 1{X_b W1 > 0});
    dtheta = X_b^T S,

on the inputs of the suites' tests (grader/box), with their cases: one
step, a partial last batch, several batches in order (where the order
matters, under any salt), new float32 leaves with the arguments left as
they were, and a full epoch over data of t10k's shape within the
"training" tolerance.  The MNIST error targets are not trained here (slow).
"""
import numpy as np
import pytest

import needle as ndl
from grader.box import inputs
from grader.box.nn_epoch import course_weights, mnist_shaped, small_theta
from simple_ml import nn_epoch, softmax_regression_epoch
from tests.numpy_checks import TOL, assert_close
from tests.numpy_reference import numpy_nn_epoch, numpy_softmax_regression_epoch, two_layer_problem


@pytest.fixture
def salt(request):
    """Runs the test's input makers under ``request.param`` as the salt."""
    inputs.SALT, before = request.param, inputs.SALT
    yield request.param
    inputs.SALT = before


def run_nn(X, y, W1, W2, lr, batch):
    return nn_epoch(X, y, ndl.Tensor(W1), ndl.Tensor(W2), lr=lr, batch=batch)


def assert_nn_matches(X, y, W1, W2, lr, batch, tol=TOL["float32"], what=""):
    got_W1, got_W2 = run_nn(X, y, W1, W2, lr, batch)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, lr, batch)
    assert_close(got_W1, want_W1.astype(np.float32), tol=tol, what=f"W1 {what}")
    assert_close(got_W2, want_W2.astype(np.float32), tol=tol, what=f"W2 {what}")


# (id, m, n, hidden, k, lr, batch, x_scale): the public and hidden cases.
NN_CASES = [
    ("one-step-50x5-h10-k3", 50, 5, 10, 3, 1.0, 50, 1.0),
    ("one-step-20x8-h6-k4", 20, 8, 6, 4, 0.3, 20, 1.0),
    ("one-step-7x3-h5-k2", 7, 3, 5, 2, 0.5, 7, 1.0),
    ("one-step-40x7-h9-k5", 40, 7, 9, 5, 0.7, 40, 1.0),
    ("one-step-13x4-h3-k6-lr2", 13, 4, 3, 6, 2.0, 13, 1.0),
    ("one-step-100x20-h30-k10", 100, 20, 30, 10, 0.1, 100, 1.0),
    ("partial-53-batch20", 53, 6, 8, 4, 0.2, 20, 1.0),
    ("partial-31-batch10", 31, 6, 8, 4, 0.2, 10, 1.0),
    ("partial-9-batch50", 9, 6, 8, 4, 0.2, 50, 1.0),
    ("partial-47-batch15", 47, 5, 7, 3, 0.3, 15, 1.5),
    ("partial-5-batch8", 5, 5, 7, 3, 0.3, 8, 1.5),
    ("partial-61-batch12", 61, 5, 7, 3, 0.3, 12, 1.5),
    ("partial-100-batch33", 100, 5, 7, 3, 0.3, 33, 1.5),
    ("in-order-40-batch10", 40, 6, 8, 4, 0.5, 10, 1.0),
    ("in-order-36-batch9", 36, 6, 5, 4, 0.4, 9, 2.0),
    ("three-batches-30-batch10", 30, 5, 7, 3, 0.1, 10, 1.0),
    ("three-batches-22-batch8", 22, 4, 6, 3, 0.25, 8, 1.0),
]


@pytest.mark.parametrize("m, n, hidden, k, lr, batch, x_scale", [c[1:] for c in NN_CASES],
                         ids=[c[0] for c in NN_CASES])
def test_nn_epoch_matches_closed_form(m, n, hidden, k, lr, batch, x_scale):
    X, y, W1, W2 = two_layer_problem(m, n, hidden, k, seed=m, x_scale=x_scale)
    assert_nn_matches(X, y, W1, W2, lr, batch, what=f"(m={m}, batch={batch})")


# (id, m, n, k, lr, batch, x_scale, theta scale)
SOFTMAX_CASES = [
    ("one-step-50x5-k3", 50, 5, 3, 1.0, 50, 1.0, 0.1),
    ("partial-53x6-k4-batch20", 53, 6, 4, 0.2, 20, 1.0, 0.1),
    ("in-order-40x6-k4-batch10", 40, 6, 4, 0.5, 10, 1.0, 0.1),
    ("one-step-30x4-k5-lr1.5", 30, 4, 5, 1.5, 30, 1.2, 0.2),
    ("partial-43x7-k3-batch10", 43, 7, 3, 0.4, 10, 1.2, 0.2),
    ("in-order-48x5-k6-batch12", 48, 5, 6, 0.9, 12, 1.2, 0.2),
    ("batch-larger-than-m-6x3-k2", 6, 3, 2, 0.5, 50, 1.2, 0.2),
]


@pytest.mark.parametrize("m, n, k, lr, batch, x_scale, scale", [c[1:] for c in SOFTMAX_CASES],
                         ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_regression_epoch_matches_closed_form(m, n, k, lr, batch, x_scale, scale):
    X, y, _, _ = two_layer_problem(m, n, 2, k, seed=200 + m, x_scale=x_scale)
    theta = small_theta(n, k, seed=m, scale=scale)
    got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=lr, batch=batch)
    assert_close(got, numpy_softmax_regression_epoch(X, y, theta, lr, batch).astype(np.float32),
                 tol=TOL["float32"], what=f"theta (m={m}, batch={batch})")


# The suites' in-order tests: (id, m, n, hidden, k, seed, x_scale, lr, batch).
IN_ORDER_CASES = [
    ("public", 40, 6, 8, 4, 5, 1.0, 0.5, 10),
    ("hidden", 36, 6, 5, 4, 700, 2.0, 0.4, 9),
]


@pytest.mark.parametrize("salt", [0, 1, 12345, 2**31 - 2], indirect=True)
@pytest.mark.parametrize("m, n, hidden, k, seed, x_scale, lr, batch", [c[1:] for c in IN_ORDER_CASES],
                         ids=[c[0] for c in IN_ORDER_CASES])
def test_batch_order_matters_for_the_in_order_tests(salt, m, n, hidden, k, seed, x_scale, lr, batch):
    """The in-order tests' inputs (under the students' salt 0 and others)
    tell batches in order from batches in reverse order, and the reference
    takes them in order without drawing from NumPy's global RNG."""
    X, y, W1, W2 = inputs.two_layer_problem(m, n, hidden, k, seed=seed, x_scale=x_scale)
    in_order, _ = numpy_nn_epoch(X, y, W1, W2, lr, batch)
    reversed_W1, _ = numpy_nn_epoch(X[::-1].copy(), y[::-1].copy(), W1, W2, lr, batch)
    assert np.abs(in_order - reversed_W1).max() > 1e-3, "batch order must matter for these inputs"
    state = np.random.get_state()
    assert_nn_matches(X, y, W1, W2, lr, batch, what="in order")
    after = np.random.get_state()
    assert after[2] == state[2] and np.array_equal(after[1], state[1]), "nn_epoch drew from NumPy's global RNG"


def test_results_are_new_float32_leaves_and_arguments_unchanged():
    X, y, W1, W2 = two_layer_problem(22, 4, 6, 3, seed=800)
    copies = [a.copy() for a in (X, y, W1, W2)]
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.25, batch=8)
    theta = small_theta(4, 3, seed=1, scale=0.2)
    theta_in = ndl.Tensor(theta)
    got_theta = softmax_regression_epoch(X, y, theta_in, lr=0.25, batch=8)
    for new, old in [*zip(got, (W1_in, W2_in)), (got_theta, theta_in)]:
        assert isinstance(new, ndl.Tensor) and new is not old and new.op is None and new.dtype == "float32"
        assert new.shape == old.shape
    for now, before in zip((X, y, W1_in.numpy(), W2_in.numpy(), theta_in.numpy()), (*copies, theta)):
        assert np.array_equal(now, before)


@pytest.mark.parametrize("salt", [0, 12345], indirect=True)
def test_full_epochs_on_data_of_t10k_shape_within_the_training_tolerance(salt):
    """The suites' full epochs over data of t10k's shape: the reference in
    float32 stays within TOL["training"] of float64 NumPy."""
    X, y = mnist_shaped(10000, seed=10)
    W1, W2 = course_weights(784, 100, 10, seed=0)
    assert_nn_matches(X, y, W1, W2, 0.2, 100, tol=TOL["training"], what="after an epoch, hidden 100, batch 100")
    X, y = mnist_shaped(10000, seed=20)
    W1, W2 = course_weights(784, 64, 10, seed=5)
    assert_nn_matches(X, y, W1, W2, 0.15, 250, tol=TOL["training"], what="after an epoch, hidden 64, batch 250")
    for seed, lr, batch in ((11, 0.2, 100), (21, 0.1, 64)):
        X, y = mnist_shaped(10000, seed=seed)
        theta = np.zeros((784, 10), dtype=np.float32)
        got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=lr, batch=batch)
        assert_close(got, numpy_softmax_regression_epoch(X, y, theta, lr, batch).astype(np.float32),
                     tol=TOL["training"], what=f"theta after an epoch in batches of {batch}")
