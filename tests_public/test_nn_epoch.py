"""Question "nn_epoch": ``simple_ml.nn_epoch(X, y, W1, W2, lr, batch)`` and
``simple_ml.softmax_regression_epoch(X, y, theta, lr, batch)``.

Contract (docs/API.md section 8.1): X is an (m, n) float32 array and y an
(m,) integer array; the weights are Tensors.  The minibatches are
X[0:batch], X[batch:2 batch], ... in order, without shuffling, the last one
possibly partial.  For each batch the loss is the batch mean of the softmax
loss of relu(X_b @ W1) @ W2 (or X_b @ theta), and every weight becomes
W - lr * dloss/dW.  The returned weights are new float32 leaf Tensors
(``op is None``); the arguments are not changed.

Each test builds seeded inputs, runs an epoch and hands over the weights it
returned (and facts such as "the result is a leaf"): they are compared with
the reference implementation's.  The full-epoch tests use data of MNIST's
test set's shape (10000 x 784 pixels in [0, 1), labels 0-9), drawn at random.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.inputs import two_layer_problem as problem
from grader.box.nn_epoch import course_weights, mnist_shaped, small_theta
from grader.box.record import check, observe
from simple_ml import nn_epoch, softmax_regression_epoch


def run_nn_epoch(X, y, W1, W2, lr, batch):
    out = nn_epoch(X, y, ndl.Tensor(W1), ndl.Tensor(W2), lr=lr, batch=batch)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"nn_epoch should return the pair (W1, W2), got {type(out).__name__}"
        + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
    )
    return out


def same_rng_state(before, after):
    """Whether NumPy's global RNG is still in the state ``before``."""
    return bool(after[2] == before[2] and np.array_equal(after[1], before[1]))


# (id, m, n, hidden, k, lr, batch)
ONE_STEP_CASES = [
    ("course-shape-50x5-h10-k3-lr1", 50, 5, 10, 3, 1.0, 50),
    ("20x8-h6-k4-lr0.3", 20, 8, 6, 4, 0.3, 20),
    ("7x3-h5-k2-lr0.5", 7, 3, 5, 2, 0.5, 7),
]


@pytest.mark.parametrize("m, n, hidden, k, lr, batch", [c[1:] for c in ONE_STEP_CASES],
                         ids=[c[0] for c in ONE_STEP_CASES])
@pytest.mark.behaviour("nn_epoch: one step is W - lr * gradient")
def test_nn_one_step_is_w_minus_lr_times_backprop_gradient(m, n, hidden, k, lr, batch):
    X, y, W1, W2 = problem(m, n, hidden, k, seed=m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, lr, batch)
    hint = ("one batch of all m rows: loss = softmax_loss(relu(X @ W1) @ W2, onehot(y)), backward(), "
            "then W <- W - lr * W.grad")
    check(got_W1, tol="float32", what="W1 after one step", hint=hint)
    check(got_W2, tol="float32", what="W2 after one step", hint=hint)


# (id, m, batch): m not a multiple of batch, so the last batch is partial.
PARTIAL_CASES = [("m=53-batch=20", 53, 20), ("m=31-batch=10", 31, 10), ("m=9-batch=50", 9, 50)]


@pytest.mark.behaviour("nn_epoch: partial last batch")
@pytest.mark.parametrize("m, batch", [c[1:] for c in PARTIAL_CASES], ids=[c[0] for c in PARTIAL_CASES])
def test_nn_partial_last_batch_is_used_and_averaged_over_its_own_rows(m, batch):
    X, y, W1, W2 = problem(m, 6, 8, 4, seed=100 + m)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.2, batch)
    hint = (f"batches are X[i:i + {batch}] for i in range(0, {m}, {batch}); the last one has "
            f"{m % batch or batch} rows and its loss is the mean over those rows")
    check(got_W1, tol="float32", what=f"W1 (m={m}, batch={batch})", hint=hint)
    check(got_W2, tol="float32", what=f"W2 (m={m}, batch={batch})", hint=hint)


@pytest.mark.behaviour("nn_epoch: batches in order")
def test_nn_batches_are_taken_in_order_without_shuffling():
    X, y, W1, W2 = problem(40, 6, 8, 4, seed=5)
    state = np.random.get_state()
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.5, 10)
    hint = "take the batches in order, X[0:10], X[10:20], ...; do not shuffle"
    check(got_W1, tol="float32", what="W1 after four batches of 10", hint=hint)
    check(got_W2, tol="float32", what="W2 after four batches of 10", hint=hint)
    observe(not same_rng_state(state, np.random.get_state()), what="nn_epoch drew from NumPy's global RNG",
            hint="nn_epoch should take the batches in order, without shuffling or any random draw")


@pytest.mark.behaviour("nn_epoch: new float32 leaves, arguments kept")
def test_nn_returns_new_float32_leaf_tensors():
    X, y, W1, W2 = problem(30, 5, 7, 3, seed=9)
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.1, batch=10)
    assert isinstance(got, tuple) and len(got) == 2, "nn_epoch should return the pair (W1, W2)"
    for name, new, old in zip(("W1", "W2"), got, (W1_in, W2_in)):
        assert isinstance(new, ndl.Tensor), f"nn_epoch should return {name} as a needle Tensor, got {type(new).__name__}"
        observe(new is not old, what=f"nn_epoch returned a new {name} Tensor, not the one it was given",
                hint="return a new Tensor")
        observe(new.op is None, what=f"the returned {name} is a leaf (op is None)",
                hint="the returned weights should not hold the training graph; make each a new leaf, e.g. "
                     "ndl.Tensor(W.numpy() - lr * W.grad.numpy())")
        observe(new.dtype == "float32", what=f"the returned {name} is float32",
                hint="keep every array float32 (the one-hot labels too); lr * grad with a Python float "
                     "keeps float32")
        observe(np.array(new.shape, dtype=np.int64), what=f"the shape of the returned {name}",
                hint=f"{name} keeps the shape it was given")
    for name, new in zip(("W1", "W2"), got):
        check(new, tol="float32", what=f"the returned {name} after three batches of 10",
              hint="W <- W - lr * W.grad after each batch")


@pytest.mark.behaviour("nn_epoch: new float32 leaves, arguments kept")
def test_nn_does_not_change_its_arguments():
    X, y, W1, W2 = problem(30, 5, 7, 3, seed=12)
    X_copy, y_copy, W1_copy, W2_copy = X.copy(), y.copy(), W1.copy(), W2.copy()
    W1_in, W2_in = ndl.Tensor(W1), ndl.Tensor(W2)
    got = nn_epoch(X, y, W1_in, W2_in, lr=0.1, batch=10)
    hint = "compute new weights instead of updating arrays or Tensors in place"
    observe(np.array_equal(X, X_copy), what="X is unchanged after nn_epoch", hint=hint)
    observe(np.array_equal(y, y_copy), what="y is unchanged after nn_epoch", hint=hint)
    observe(np.array_equal(W1_in.numpy(), W1_copy), what="the W1 Tensor passed to nn_epoch is unchanged", hint=hint)
    observe(np.array_equal(W2_in.numpy(), W2_copy), what="the W2 Tensor passed to nn_epoch is unchanged", hint=hint)
    assert isinstance(got, tuple) and len(got) == 2, "nn_epoch should return the pair (W1, W2)"
    check(got[0], tol="float32", what="the returned W1 after three batches of 10",
          hint="W <- W - lr * W.grad after each batch")
    check(got[1], tol="float32", what="the returned W2 after three batches of 10",
          hint="W <- W - lr * W.grad after each batch")


# --- softmax regression ------------------------------------------------------


SOFTMAX_CASES = [
    ("one-step-50x5-k3-lr1", 50, 5, 3, 1.0, 50),
    ("partial-53x6-k4-batch20", 53, 6, 4, 0.2, 20),
    ("in-order-40x6-k4-batch10", 40, 6, 4, 0.5, 10),
]


@pytest.mark.behaviour("softmax_regression_epoch")
@pytest.mark.parametrize("m, n, k, lr, batch", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_regression_epoch_matches_closed_form(m, n, k, lr, batch):
    X, y, _, _ = problem(m, n, 2, k, seed=200 + m)
    theta = small_theta(n, k, seed=m, scale=0.1)
    theta_in = ndl.Tensor(theta)
    got = softmax_regression_epoch(X, y, theta_in, lr=lr, batch=batch)
    check(got, tol="float32", what=f"theta after softmax_regression_epoch(m={m}, batch={batch})",
          hint="per batch in order: theta <- theta - lr * X_b^T (softmax(X_b theta) - onehot(y_b)) / rows")
    observe(isinstance(got, ndl.Tensor) and got.op is None,
            what="softmax_regression_epoch returned a new leaf Tensor (op is None)",
            hint="return a new leaf Tensor, without the training graph")
    observe(np.array_equal(theta_in.numpy(), theta), what="the theta Tensor passed in is unchanged",
            hint="do not update it in place")


# --- a full epoch on data of t10k's shape ------------------------------------


@pytest.mark.behaviour("nn_epoch on MNIST-sized data")
def test_nn_full_epoch_on_t10k_matches_numpy():
    """A full epoch over 10000 x 784 pixels in [0, 1) (t10k's shape), drawn at random."""
    X, y = mnist_shaped(10000, seed=10)
    W1, W2 = course_weights(784, 100, 10, seed=0)
    got_W1, got_W2 = run_nn_epoch(X, y, W1, W2, 0.2, 100)
    check(got_W1, tol="training", what="W1 after an epoch over 10000 rows in batches of 100")
    check(got_W2, tol="training", what="W2 after an epoch over 10000 rows in batches of 100")


@pytest.mark.behaviour("softmax_regression_epoch on MNIST-sized data")
def test_softmax_regression_full_epoch_on_t10k_matches_numpy():
    """A softmax-regression epoch over 10000 x 784 pixels in [0, 1) (t10k's shape), drawn at random."""
    X, y = mnist_shaped(10000, seed=11)
    theta = np.zeros((784, 10), dtype=np.float32)
    got = softmax_regression_epoch(X, y, ndl.Tensor(theta), lr=0.2, batch=100)
    check(got, tol="training", what="theta after an epoch over 10000 rows in batches of 100")
