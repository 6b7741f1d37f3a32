"""Hidden tests, question "nn_epoch": ``simple_ml.nn_epoch`` and
``simple_ml.softmax_regression_epoch``.

New shapes, seeds, learning rates and batch sizes (in order, no shuffle, the
last batch possibly partial and averaged over its own rows), full epochs
over data of t10k's shape (drawn at random), and the two MNIST test-error
targets (marked slow): softmax regression with ``train_softmax``'s defaults
and the two-layer network with ``train_nn``, on MNIST as the app reads it
(with the submission's ``parse_mnist``).  Each test hands over the weights
the code returned; the grader compares them with the reference's and, for
the trained models, computes their test error itself.
"""
import time

import numpy as np
import pytest

import needle as ndl
from grader.box.inputs import mnist_paths, seed_global, two_layer_problem as problem
from grader.box.nn_epoch import course_weights, mnist_shaped, small_theta
from grader.box.record import check, check_trained, observe
from simple_ml import nn_epoch, parse_mnist, softmax_regression_epoch, train_nn, train_softmax


def run_nn_epoch(X, y, W1, W2, lr, batch):
    out = nn_epoch(X, y, ndl.Tensor(W1), ndl.Tensor(W2), lr=lr, batch=batch)
    assert isinstance(out, tuple) and len(out) == 2, "nn_epoch should return the pair (W1, W2)"
    return out


def same_rng_state(before, after):
    """Whether NumPy's global RNG is still in the state ``before``."""
    return bool(after[2] == before[2] and np.array_equal(after[1], before[1]))


ONE_STEP_CASES = [
    # (id, m, n, hidden, k, lr)
    ("40x7-h9-k5-lr0.7", 40, 7, 9, 5, 0.7),
    ("13x4-h3-k6-lr2", 13, 4, 3, 6, 2.0),
    ("100x20-h30-k10-lr0.1", 100, 20, 30, 10, 0.1),
]


@pytest.mark.behaviour("nn_epoch: one step is W - lr * gradient")
@pytest.mark.parametrize("m, n, hidden, k, lr", [c[1:] for c in ONE_STEP_CASES], ids=[c[0] for c in ONE_STEP_CASES])
def test_nn_single_batch_step(m, n, hidden, k, lr):
    """One batch holding every row: each weight moves by -lr times its backprop gradient."""
    X, y, W1, W2 = problem(m, n, hidden, k, seed=500 + m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, lr, m)
    check(got_W1, tol="float32", what="W1 after one step")
    check(got_W2, tol="float32", what="W2 after one step")


PARTIAL_CASES = [("m=47-batch=15", 47, 15), ("m=5-batch=8", 5, 8), ("m=61-batch=12", 61, 12), ("m=100-batch=33", 100, 33)]


@pytest.mark.behaviour("nn_epoch: partial last batch")
@pytest.mark.parametrize("m, batch", [c[1:] for c in PARTIAL_CASES], ids=[c[0] for c in PARTIAL_CASES])
def test_nn_partial_last_batch(m, batch):
    """The last, smaller batch is used too, and its loss is averaged over its own rows."""
    X, y, W1, W2 = problem(m, 5, 7, 3, seed=600 + m, x_scale=1.5)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.3, batch)
    check(got_W1, tol="float32", what=f"W1 (m={m}, batch={batch})")
    check(got_W2, tol="float32", what=f"W2 (m={m}, batch={batch})")


@pytest.mark.behaviour("nn_epoch: batches in order")
def test_nn_batches_in_order():
    """Batches are consecutive row blocks, in order, with no random draw."""
    X, y, W1, W2 = problem(36, 6, 5, 4, seed=700, x_scale=2.0)
    seed_global(11)
    state = np.random.get_state()
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.4, 9)
    observe(not same_rng_state(state, np.random.get_state()), what="nn_epoch drew from NumPy's global RNG")
    check(got_W1, tol="float32", what="W1 after four batches of 9")
    check(got_W2, tol="float32", what="W2 after four batches of 9")


@pytest.mark.behaviour("nn_epoch: new float32 leaves, arguments kept")
def test_nn_returns_new_float32_leaves_and_keeps_its_arguments():
    """nn_epoch returns new float32 leaf Tensors and changes none of its arguments."""
    X, y, W1, W2 = problem(22, 4, 6, 3, seed=800)
    copies = [a.copy() for a in (X, y, W1, W2)]
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.25, batch=8)
    assert isinstance(got, tuple) and len(got) == 2, "nn_epoch should return the pair (W1, W2)"
    for name, new, old in zip(("W1", "W2"), got, (W1_in, W2_in)):
        assert isinstance(new, ndl.Tensor), f"nn_epoch should return a new Tensor for {name}"
        observe(new is not old, what=f"nn_epoch returned a new {name} Tensor")
        observe(new.op is None, what=f"the returned {name} is a leaf (op is None)")
        observe(new.dtype == "float32", what=f"the returned {name} is float32")
    check(got[0], tol="float32", what="W1 after three batches")
    check(got[1], tol="float32", what="W2 after three batches")
    for name, now, before in zip(("X", "y", "W1 argument", "W2 argument"), (X, y, W1_in.numpy(), W2_in.numpy()), copies):
        observe(np.array_equal(now, before), what=f"nn_epoch left its {name} unchanged")


# --- softmax regression ------------------------------------------------------

SOFTMAX_CASES = [
    # (id, m, n, k, lr, batch)
    ("one-step-30x4-k5-lr1.5", 30, 4, 5, 1.5, 30),
    ("partial-43x7-k3-batch10", 43, 7, 3, 0.4, 10),
    ("in-order-48x5-k6-batch12", 48, 5, 6, 0.9, 12),
    ("batch-larger-than-m-6x3-k2", 6, 3, 2, 0.5, 50),
]


@pytest.mark.behaviour("softmax_regression_epoch")
@pytest.mark.parametrize("m, n, k, lr, batch", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_regression_epoch(m, n, k, lr, batch):
    """Softmax regression: theta moves by -lr X_b^T (softmax - onehot) / rows per batch, in order; a new float32 leaf."""
    X, y, _, _ = problem(m, n, 2, k, seed=900 + m, x_scale=1.2)
    theta = small_theta(n, k, seed=m + 1, scale=0.2)
    theta_in = ndl.Tensor(theta)
    got = softmax_regression_epoch(X, y, theta_in, lr=lr, batch=batch)
    assert isinstance(got, ndl.Tensor), "softmax_regression_epoch should return a new leaf Tensor"
    observe(got.op is None, what="softmax_regression_epoch returned a leaf Tensor (op is None)")
    observe(got.dtype == "float32", what="the returned theta is float32")
    check(got, tol="float32", what=f"theta after softmax_regression_epoch(m={m}, batch={batch})")
    observe(np.array_equal(theta_in.numpy(), theta), what="softmax_regression_epoch left the theta Tensor passed in unchanged")


# --- full epochs on data of t10k's shape -------------------------------------


@pytest.mark.behaviour("nn_epoch on MNIST-sized data")
def test_nn_epoch_on_t10k():
    """A full epoch of the two-layer network over 10000 rows of 784 pixels."""
    X, y = mnist_shaped(10000, seed=20)
    W1, W2 = course_weights(784, 64, 10, seed=5)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.15, 250)
    check(got_W1, tol="training", what="W1 after an epoch over 10000 rows in batches of 250")
    check(got_W2, tol="training", what="W2 after an epoch over 10000 rows in batches of 250")


@pytest.mark.behaviour("softmax_regression_epoch on MNIST-sized data")
def test_softmax_regression_epoch_on_t10k():
    """A full softmax-regression epoch over 10000 rows of 784 pixels, with a partial last batch."""
    X, y = mnist_shaped(10000, seed=21)
    theta = np.zeros((784, 10), dtype=np.float32)
    got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=0.1, batch=64)
    check(got, tol="training", what="theta after an epoch over 10000 rows in batches of 64")


# --- MNIST -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    """MNIST as the app reads it, with the submission's own parse_mnist:
    a function returning (X_tr, y_tr, X_te, y_te), read at its first call."""
    loaded = []

    def load():
        if not loaded:
            loaded.extend((*parse_mnist(*mnist_paths(mnist_dir, "train")),
                           *parse_mnist(*mnist_paths(mnist_dir, "t10k"))))
        return loaded
    return load


def epoch_runs(epoch, *weights):
    """One call of ``epoch`` on a two-row problem, before MNIST is read and
    the long training starts: an epoch function still to write fails here,
    with its own message."""
    X, y = mnist_shaped(2, seed=0)
    return epoch(X, y, *[ndl.Tensor(w) for w in weights], lr=0.1, batch=2)


@pytest.mark.behaviour("softmax_regression_epoch on MNIST-sized data")
@pytest.mark.slow
def test_softmax_regression_reaches_the_test_error_target(mnist):
    """Softmax regression with train_softmax's defaults reaches the target test error on MNIST."""
    epoch_runs(softmax_regression_epoch, np.zeros((784, 10), dtype=np.float32))
    X_tr, y_tr, X_te, y_te = mnist()
    start = time.perf_counter()
    theta = train_softmax(X_tr, y_tr, X_te, y_te, verbose=False)
    print(f"softmax regression: trained in {time.perf_counter() - start:.1f} s")
    check_trained([theta], model="softmax", max_error=0.085,
                  what="theta of softmax regression (10 epochs, lr 0.2, batch 100; target test error 8.5%)")


@pytest.mark.behaviour("nn_epoch on MNIST-sized data")
@pytest.mark.slow
def test_two_layer_network_reaches_the_test_error_target(mnist):
    """The two-layer ReLU network (hidden 400, lr 0.2, batch 100) reaches the target test error on MNIST."""
    epoch_runs(nn_epoch, *course_weights(784, 4, 10, seed=0))
    X_tr, y_tr, X_te, y_te = mnist()
    start = time.perf_counter()
    W1, W2 = train_nn(X_tr, y_tr, X_te, y_te, hidden_dim=400, epochs=12, lr=0.2, batch=100, verbose=False)
    print(f"two-layer network: trained in {time.perf_counter() - start:.1f} s")
    check_trained([W1, W2], model="two_layer", max_error=0.022,
                  what="W1, W2 of the two-layer network (hidden 400, 12 epochs, lr 0.2, batch 100; "
                       "target test error 2.2%)")
