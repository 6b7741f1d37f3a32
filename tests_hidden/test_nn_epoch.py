"""Hidden tests, question "nn_epoch": ``simple_ml.nn_epoch`` and
``simple_ml.softmax_regression_epoch``.

New shapes, seeds, learning rates and batch sizes against an independent
NumPy implementation with the closed-form gradients (in order, no shuffle,
the last batch possibly partial and averaged over its own rows), and the two
MNIST accuracy thresholds (marked slow): softmax regression with
``train_softmax``'s defaults and the two-layer network with ``train_nn``.
The MNIST files are decoded here, not through ``parse_mnist``.
"""
import math
import time

import numpy as np
import pytest

import needle as ndl
from simple_ml import nn_epoch, softmax_regression_epoch, train_nn, train_softmax
from tests_public import numpy_reference
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import two_layer_problem as problem


# The float64 closed forms, cast to float32 as nn_epoch returns them.
def numpy_nn_epoch(X, y, W1, W2, lr, batch):
    return tuple(W.astype(np.float32) for W in numpy_reference.numpy_nn_epoch(X, y, W1, W2, lr, batch))


def numpy_softmax_regression_epoch(X, y, theta, lr, batch):
    return numpy_reference.numpy_softmax_regression_epoch(X, y, theta, lr, batch).astype(np.float32)


def run_nn_epoch(X, y, W1, W2, lr, batch):
    out = nn_epoch(X, y, ndl.Tensor(W1), ndl.Tensor(W2), lr=lr, batch=batch)
    assert isinstance(out, tuple) and len(out) == 2, "nn_epoch should return the pair (W1, W2)"
    return out


ONE_STEP_CASES = [
    # (id, m, n, hidden, k, lr)
    ("40x7-h9-k5-lr0.7", 40, 7, 9, 5, 0.7),
    ("13x4-h3-k6-lr2", 13, 4, 3, 6, 2.0),
    ("100x20-h30-k10-lr0.1", 100, 20, 30, 10, 0.1),
]


@pytest.mark.parametrize("m, n, hidden, k, lr", [c[1:] for c in ONE_STEP_CASES], ids=[c[0] for c in ONE_STEP_CASES])
def test_nn_single_batch_step(m, n, hidden, k, lr):
    """One batch holding every row: each weight moves by -lr times its backprop gradient."""
    X, y, W1, W2 = problem(m, n, hidden, k, seed=500 + m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, lr, m)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, lr, m)
    assert_close(got_W1, want_W1, tol=TOL["float32"], what="W1 after one step")
    assert_close(got_W2, want_W2, tol=TOL["float32"], what="W2 after one step")


PARTIAL_CASES = [("m=47-batch=15", 47, 15), ("m=5-batch=8", 5, 8), ("m=61-batch=12", 61, 12), ("m=100-batch=33", 100, 33)]


@pytest.mark.parametrize("m, batch", [c[1:] for c in PARTIAL_CASES], ids=[c[0] for c in PARTIAL_CASES])
def test_nn_partial_last_batch(m, batch):
    """The last, smaller batch is used too, and its loss is averaged over its own rows."""
    X, y, W1, W2 = problem(m, 5, 7, 3, seed=600 + m, x_scale=1.5)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.3, batch)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.3, batch)
    assert_close(got_W1, want_W1, tol=TOL["float32"], what=f"W1 (m={m}, batch={batch})")
    assert_close(got_W2, want_W2, tol=TOL["float32"], what=f"W2 (m={m}, batch={batch})")


def test_nn_batches_in_order():
    """Batches are consecutive row blocks, in order, with no random draw."""
    X, y, W1, W2 = problem(36, 6, 5, 4, seed=700, x_scale=2.0)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.4, 9)
    shuffled_W1, _ = numpy_nn_epoch(X[::-1].copy(), y[::-1].copy(), W1, W2, 0.4, 9)
    assert np.abs(want_W1 - shuffled_W1).max() > 1e-3, "test precondition: order must matter"
    np.random.seed(11)
    state = np.random.get_state()
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.4, 9)
    after = np.random.get_state()
    assert after[2] == state[2] and np.array_equal(after[1], state[1]), "nn_epoch drew from NumPy's global RNG"
    assert_close(got_W1, want_W1, tol=TOL["float32"], what="W1 after four batches of 9")
    assert_close(got_W2, want_W2, tol=TOL["float32"], what="W2 after four batches of 9")


def test_nn_returns_new_float32_leaves_and_keeps_its_arguments():
    """nn_epoch returns new float32 leaf Tensors and changes none of its arguments."""
    X, y, W1, W2 = problem(22, 4, 6, 3, seed=800)
    copies = [a.copy() for a in (X, y, W1, W2)]
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.25, batch=8)
    for name, new, old in zip(("W1", "W2"), got, (W1_in, W2_in)):
        assert isinstance(new, ndl.Tensor) and new is not old, f"nn_epoch should return a new Tensor for {name}"
        assert new.op is None, f"the returned {name} still holds the training graph: make it a new leaf"
        assert new.dtype == np.float32, f"the returned {name} is {new.dtype}, expected float32"
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.25, 8)
    assert_close(got[0], want_W1, tol=TOL["float32"], what="W1 after three batches")
    assert_close(got[1], want_W2, tol=TOL["float32"], what="W2 after three batches")
    for name, now, before in zip(("X", "y", "W1 argument", "W2 argument"), (X, y, W1_in.numpy(), W2_in.numpy()), copies):
        assert np.array_equal(now, before), f"nn_epoch changed its {name}; compute new weights instead"


# --- softmax regression ------------------------------------------------------

SOFTMAX_CASES = [
    # (id, m, n, k, lr, batch)
    ("one-step-30x4-k5-lr1.5", 30, 4, 5, 1.5, 30),
    ("partial-43x7-k3-batch10", 43, 7, 3, 0.4, 10),
    ("in-order-48x5-k6-batch12", 48, 5, 6, 0.9, 12),
    ("batch-larger-than-m-6x3-k2", 6, 3, 2, 0.5, 50),
]


@pytest.mark.parametrize("m, n, k, lr, batch", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_regression_epoch(m, n, k, lr, batch):
    """Softmax regression: theta moves by -lr X_b^T (softmax - onehot) / rows per batch, in order; a new float32 leaf."""
    X, y, _, _ = problem(m, n, 2, k, seed=900 + m, x_scale=1.2)
    theta = (np.random.default_rng(m + 1).standard_normal((n, k)) * 0.2).astype(np.float32)
    theta_in = ndl.Tensor(theta)
    got = softmax_regression_epoch(X, y, theta_in, lr=lr, batch=batch)
    assert isinstance(got, ndl.Tensor) and got.op is None, "softmax_regression_epoch should return a new leaf Tensor"
    assert got.dtype == np.float32, f"theta came back as {got.dtype}, expected float32"
    assert_close(got, numpy_softmax_regression_epoch(X, y, theta, lr, batch), tol=TOL["float32"],
                 what=f"theta after softmax_regression_epoch(m={m}, batch={batch})")
    assert np.array_equal(theta_in.numpy(), theta), "softmax_regression_epoch changed the theta Tensor passed in"


# --- MNIST -------------------------------------------------------------------


def read_mnist(mnist_dir, split):
    """(X, y) of a split, min-max scaled float32 and uint8, decoded here."""
    X, y = numpy_reference.read_mnist(mnist_dir, split)
    X = X.astype(np.float32)
    low, high = X.min(), X.max()
    return (X - low) / (high - low), y


@pytest.fixture(scope="module")
def t10k(mnist_dir):
    return read_mnist(mnist_dir, "t10k")


@pytest.mark.mnist
def test_nn_epoch_on_t10k(t10k):
    """A full epoch of the two-layer network over t10k."""
    X, y = t10k
    rng = np.random.RandomState(5)
    W1 = (rng.randn(784, 64) / math.sqrt(64)).astype(np.float32)
    W2 = (rng.randn(64, 10) / math.sqrt(10)).astype(np.float32)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.15, 250)
    want_W1, want_W2 = numpy_nn_epoch(X, y, W1, W2, 0.15, 250)
    assert_close(got_W1, want_W1, tol=TOL["training"], what="W1 after an epoch on t10k")
    assert_close(got_W2, want_W2, tol=TOL["training"], what="W2 after an epoch on t10k")


@pytest.mark.mnist
def test_softmax_regression_epoch_on_t10k(t10k):
    """A full softmax-regression epoch over t10k with a partial last batch."""
    X, y = t10k
    theta = np.zeros((784, 10), dtype=np.float32)
    got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=0.1, batch=64)
    assert_close(got, numpy_softmax_regression_epoch(X, y, theta, 0.1, 64), tol=TOL["training"],
                 what="theta after an epoch on t10k in batches of 64")


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return (*read_mnist(mnist_dir, "train"), *read_mnist(mnist_dir, "t10k"))


@pytest.mark.slow
@pytest.mark.mnist
def test_softmax_regression_reaches_the_test_error_target(mnist, record):
    """Softmax regression with train_softmax's defaults reaches the target test error on MNIST."""
    X_tr, y_tr, X_te, y_te = mnist
    start = time.perf_counter()
    theta = train_softmax(X_tr, y_tr, X_te, y_te, verbose=False)
    predictions = (X_te @ theta.numpy()).argmax(axis=1)
    error = float(np.mean(predictions != y_te))
    print(f"softmax regression: test error {error:.4%} in {time.perf_counter() - start:.1f} s")
    record.error_rate("test", predictions, y_te, max_error=0.085)
    assert error <= 0.085, (
        f"softmax regression (10 epochs, lr 0.2, batch 100) should reach a test error of at most 8.5%, got {error:.2%}"
    )


@pytest.mark.slow
@pytest.mark.mnist
def test_two_layer_network_reaches_the_test_error_target(mnist, record):
    """The two-layer ReLU network (hidden 400, lr 0.2, batch 100) reaches the target test error on MNIST."""
    X_tr, y_tr, X_te, y_te = mnist
    start = time.perf_counter()
    W1, W2 = train_nn(X_tr, y_tr, X_te, y_te, hidden_dim=400, epochs=12, lr=0.2, batch=100, verbose=False)
    predictions = (np.maximum(X_te @ W1.numpy(), 0) @ W2.numpy()).argmax(axis=1)
    error = float(np.mean(predictions != y_te))
    print(f"two-layer network: test error {error:.4%} in {time.perf_counter() - start:.1f} s")
    record.error_rate("test", predictions, y_te, max_error=0.022)
    assert error <= 0.022, (
        f"the two-layer network (hidden 400, 12 epochs, lr 0.2, batch 100) should reach a test error of at most "
        f"2.2%, got {error:.2%}"
    )
