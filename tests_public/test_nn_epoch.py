"""Question "nn_epoch": ``simple_ml.nn_epoch(X, y, W1, W2, lr, batch)`` and
``simple_ml.softmax_regression_epoch(X, y, theta, lr, batch)``.

Contract (needle_api.md section 7.1): X is an (m, n) float32 array and y an
(m,) integer array; the weights are Tensors.  The minibatches are
X[0:batch], X[batch:2 batch], ... in order, without shuffling, the last one
possibly partial.  For each batch the loss is the batch mean of the softmax
loss of relu(X_b @ W1) @ W2 (or X_b @ theta), and every weight becomes
W - lr * dloss/dW.  The returned weights are new float32 leaf Tensors
(``op is None``); the arguments are not changed.

Expected weights come from an independent NumPy implementation with the
closed-form gradients (numpy_reference.py):
    S = softmax(logits) - onehot(y_b), divided by the batch's row count;
    dW2 = relu(X_b W1)^T S;  dW1 = X_b^T ((S W2^T) * 1{X_b W1 > 0});
    dtheta = X_b^T S.
"""
import math

import numpy as np
import pytest

import needle as ndl
from simple_ml import nn_epoch, softmax_regression_epoch
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import numpy_nn_epoch, numpy_softmax_regression_epoch, read_mnist_over_255
from tests_public.numpy_reference import two_layer_problem as problem


def run_nn_epoch(X, y, W1, W2, lr, batch):
    out = nn_epoch(X, y, ndl.Tensor(W1), ndl.Tensor(W2), lr=lr, batch=batch)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"nn_epoch should return the pair (W1, W2), got {type(out).__name__}"
        + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
    )
    return out


# (id, m, n, hidden, k, lr, batch)
ONE_STEP_CASES = [
    ("course-shape-50x5-h10-k3-lr1", 50, 5, 10, 3, 1.0, 50),
    ("20x8-h6-k4-lr0.3", 20, 8, 6, 4, 0.3, 20),
    ("7x3-h5-k2-lr0.5", 7, 3, 5, 2, 0.5, 7),
]


@pytest.mark.parametrize("m, n, hidden, k, lr, batch", [c[1:] for c in ONE_STEP_CASES],
                         ids=[c[0] for c in ONE_STEP_CASES])
def test_nn_one_step_is_w_minus_lr_times_backprop_gradient(m, n, hidden, k, lr, batch):
    X, y, W1, W2 = problem(m, n, hidden, k, seed=m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, lr, batch)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, lr, batch)
    hint = ("one batch of all m rows: loss = softmax_loss(relu(X @ W1) @ W2, onehot(y)), backward(), "
            "then W <- W - lr * W.grad")
    assert_close(got_W1, want_W1.astype(np.float32), tol=TOL["float32"], what="W1 after one step", hint=hint)
    assert_close(got_W2, want_W2.astype(np.float32), tol=TOL["float32"], what="W2 after one step", hint=hint)


# (id, m, batch): m not a multiple of batch, so the last batch is partial.
PARTIAL_CASES = [("m=53-batch=20", 53, 20), ("m=31-batch=10", 31, 10), ("m=9-batch=50", 9, 50)]


@pytest.mark.parametrize("m, batch", [c[1:] for c in PARTIAL_CASES], ids=[c[0] for c in PARTIAL_CASES])
def test_nn_partial_last_batch_is_used_and_averaged_over_its_own_rows(m, batch):
    X, y, W1, W2 = problem(m, 6, 8, 4, seed=100 + m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.2, batch)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.2, batch)
    hint = (f"batches are X[i:i + {batch}] for i in range(0, {m}, {batch}); the last one has "
            f"{m % batch or batch} rows and its loss is the mean over those rows")
    assert_close(got_W1, want_W1.astype(np.float32), tol=TOL["float32"], what=f"W1 (m={m}, batch={batch})", hint=hint)
    assert_close(got_W2, want_W2.astype(np.float32), tol=TOL["float32"], what=f"W2 (m={m}, batch={batch})", hint=hint)


def test_nn_batches_are_taken_in_order_without_shuffling():
    X, y, W1, W2 = problem(40, 6, 8, 4, seed=5)
    want_W1, _ = numpy_nn_epoch(X, y, W1, W2, 0.5, 10)
    reversed_W1, _ = numpy_nn_epoch(X[::-1], y[::-1], W1, W2, 0.5, 10)
    assert np.abs(want_W1 - reversed_W1).max() > 1e-3, "test precondition: batch order must matter here"
    state = np.random.get_state()
    got_W1, _ = run_nn_epoch(X, y, W1, W2, 0.5, 10)
    assert_close(got_W1, want_W1.astype(np.float32), tol=TOL["float32"], what="W1 after four batches of 10",
                 hint="take the batches in order, X[0:10], X[10:20], ...; do not shuffle")
    after = np.random.get_state()
    assert after[2] == state[2] and np.array_equal(after[1], state[1]), (
        "nn_epoch drew from NumPy's global RNG; it should take the batches in order, without shuffling"
    )


def test_nn_returns_new_float32_leaf_tensors():
    X, y, W1, W2 = problem(30, 5, 7, 3, seed=9)
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.1, batch=10)
    for name, new, old in zip(("W1", "W2"), got, (W1_in, W2_in)):
        assert isinstance(new, ndl.Tensor), f"nn_epoch should return {name} as a needle Tensor, got {type(new).__name__}"
        assert new is not old, f"nn_epoch returned the {name} Tensor it was given; return a new Tensor"
        assert new.op is None, (
            f"the returned {name} has op {type(new.op).__name__}: it still holds the training graph; "
            f"make it a new leaf, e.g. ndl.Tensor(W.numpy() - lr * W.grad.numpy())"
        )
        assert new.dtype == np.float32, (
            f"the returned {name} is {new.dtype}, expected float32 (lr * grad with a Python float keeps float32)"
        )
        assert new.shape == old.shape, f"the returned {name} has shape {new.shape}, expected {old.shape}"


def test_nn_does_not_change_its_arguments():
    X, y, W1, W2 = problem(30, 5, 7, 3, seed=12)
    X_copy, y_copy, W1_copy, W2_copy = X.copy(), y.copy(), W1.copy(), W2.copy()
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    nn_epoch(X, y, W1_in, W2_in, lr=0.1, batch=10)
    hint = "compute new weights instead of updating arrays or Tensors in place"
    assert_close(X, X_copy, what="X after nn_epoch", hint=hint)
    assert_close(y, y_copy, what="y after nn_epoch", hint=hint)
    assert_close(W1_in, W1_copy, what="the W1 Tensor passed to nn_epoch", hint=hint)
    assert_close(W2_in, W2_copy, what="the W2 Tensor passed to nn_epoch", hint=hint)


# --- softmax regression ------------------------------------------------------


SOFTMAX_CASES = [
    ("one-step-50x5-k3-lr1", 50, 5, 3, 1.0, 50),
    ("partial-53x6-k4-batch20", 53, 6, 4, 0.2, 20),
    ("in-order-40x6-k4-batch10", 40, 6, 4, 0.5, 10),
]


@pytest.mark.parametrize("m, n, k, lr, batch", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_regression_epoch_matches_closed_form(m, n, k, lr, batch):
    X, y, _, _ = problem(m, n, 2, k, seed=200 + m)
    theta = (np.random.default_rng(m).standard_normal((n, k)) * 0.1).astype(np.float32)
    theta_in = ndl.Tensor(theta)
    got = softmax_regression_epoch(X, y, theta_in, lr=lr, batch=batch)
    assert_close(
        got, numpy_softmax_regression_epoch(X, y, theta, lr, batch).astype(np.float32), tol=TOL["float32"],
        what=f"theta after softmax_regression_epoch(m={m}, batch={batch})",
        hint="per batch in order: theta <- theta - lr * X_b^T (softmax(X_b theta) - onehot(y_b)) / rows",
    )
    assert isinstance(got, ndl.Tensor) and got.op is None, (
        "softmax_regression_epoch should return a new leaf Tensor (op is None)"
    )
    assert_close(theta_in, theta, what="the theta Tensor passed in", hint="do not update it in place")


# --- a full epoch on the (byte-exact) t10k images ----------------------------


@pytest.fixture(scope="module")
def t10k(mnist_dir):
    """t10k images / 255 and labels, decoded here (not through parse_mnist)."""
    return read_mnist_over_255(mnist_dir)


@pytest.mark.mnist
def test_nn_full_epoch_on_t10k_matches_numpy(t10k):
    X, y = t10k
    np.random.seed(0)
    W1 = (np.random.randn(784, 100) / math.sqrt(100)).astype(np.float32)
    W2 = (np.random.randn(100, 10) / math.sqrt(10)).astype(np.float32)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.2, 100)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.2, 100)
    assert_close(got_W1, want_W1.astype(np.float32), tol=TOL["training"], what="W1 after an epoch on t10k")
    assert_close(got_W2, want_W2.astype(np.float32), tol=TOL["training"], what="W2 after an epoch on t10k")


@pytest.mark.mnist
def test_softmax_regression_full_epoch_on_t10k_matches_numpy(t10k):
    X, y = t10k
    theta = np.zeros((784, 10), dtype=np.float32)
    got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=0.2, batch=100)
    assert_close(got, numpy_softmax_regression_epoch(X, y, theta, 0.2, 100).astype(np.float32),
                 tol=TOL["training"], what="theta after an epoch on t10k")
