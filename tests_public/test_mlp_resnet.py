"""Question "mlp_resnet": ``mlp_resnet.ResidualBlock``, ``MLPResNet`` and
``epoch`` (needle_api.md sections 7.2 and 9.4).

- ResidualBlock(dim, hidden, norm, p) = Sequential(Residual(Sequential(
  Linear(dim, hidden), norm(hidden), ReLU(), Dropout(p), Linear(hidden, dim),
  norm(dim))), ReLU()), modules built in that order.
- MLPResNet(dim, hidden, num_blocks, num_classes, norm, p) = Sequential(
  Linear(dim, hidden), ReLU(), num_blocks x ResidualBlock(hidden, hidden // 2,
  norm, p), Linear(hidden, num_classes)).
- epoch(loader, model, opt=None) seeds np.random.seed(4), switches the model to
  train() with an optimizer and eval() without, and returns (error rate,
  average loss), both averaged over samples.

Seeded forwards are compared with a NumPy reimplementation that replays the
documented draws (each Linear: weight then bias; each training Dropout: one
np.random.rand of its input's shape).
"""
import gzip
import math

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from mlp_resnet import MLPResNet, ResidualBlock, epoch
from tests_public.helpers import TOL, assert_close


def parameter_count(module):
    return sum(int(np.prod(p.shape)) for p in module.parameters())


COUNT_CASES = [
    ("ResidualBlock-15-2-BN", lambda: ResidualBlock(15, 2, norm=nn.BatchNorm1d), 111),
    ("ResidualBlock-784-100-LN", lambda: ResidualBlock(784, 100, norm=nn.LayerNorm1d), 159452),
    ("MLPResNet-150-100-5blocks-10-LN", lambda: MLPResNet(150, 100, num_blocks=5, num_classes=10, norm=nn.LayerNorm1d), 68360),
    ("MLPResNet-10-100-1block-100-BN", lambda: MLPResNet(10, 100, num_blocks=1, num_classes=100, norm=nn.BatchNorm1d), 21650),
]


@pytest.mark.parametrize("build, expected", [c[1:] for c in COUNT_CASES], ids=[c[0] for c in COUNT_CASES])
def test_parameter_counts(build, expected):
    np.random.seed(0)
    got = parameter_count(build())
    assert got == expected, (
        f"expected {expected} parameter values, got {got}; check the layer sizes (the block's hidden "
        f"width is hidden_dim // 2 inside MLPResNet) and that norm layers contribute only weight and bias"
    )


# --- seeded forwards against NumPy -------------------------------------------


def draw_linear(fan_in, fan_out):
    """Linear's draws, in order: weight rand(fan_in, fan_out), then bias rand(fan_out, 1)."""
    w_bound, b_bound = math.sqrt(6 / fan_in), math.sqrt(6 / fan_out)
    W = (np.random.rand(fan_in, fan_out) * 2 * w_bound - w_bound).astype(np.float32)
    b = (np.random.rand(fan_out, 1) * 2 * b_bound - b_bound).reshape(1, fan_out).astype(np.float32)
    return W.astype(np.float64), b.astype(np.float64)


def numpy_norm(x, norm, eps=1e-5):
    axis = 0 if norm is nn.BatchNorm1d else 1  # training-mode BatchNorm: batch statistics
    mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def numpy_block(dim, hidden, norm, p):
    """The block's weights (drawn now) and its training forward (drawing dropout masks)."""
    W1, b1 = draw_linear(dim, hidden)
    W2, b2 = draw_linear(hidden, dim)

    def forward(x):
        h = np.maximum(numpy_norm(x @ W1 + b1, norm), 0)
        h = h * (np.random.rand(*h.shape) <= 1 - p) / (1 - p)
        return np.maximum(numpy_norm(h @ W2 + b2, norm) + x, 0)

    return forward


def numpy_mlp_resnet(dim, hidden, num_blocks, num_classes, norm, p):
    W_in, b_in = draw_linear(dim, hidden)
    blocks = [numpy_block(hidden, hidden // 2, norm, p) for _ in range(num_blocks)]
    W_out, b_out = draw_linear(hidden, num_classes)

    def forward(x):
        h = np.maximum(x @ W_in + b_in, 0)
        for block in blocks:
            h = block(h)
        return h @ W_out + b_out

    return forward


FORWARD_CASES = [
    # (id, batch, builder args, is_block)
    ("ResidualBlock-15-10-LN-p0.5", 3, (15, 10, nn.LayerNorm1d, 0.5), True),
    ("ResidualBlock-8-6-BN-p0.2", 4, (8, 6, nn.BatchNorm1d, 0.2), True),
    ("MLPResNet-10-5-2blocks-5-LN-p0.5", 2, (10, 5, 2, 5, nn.LayerNorm1d, 0.5), False),
    ("MLPResNet-15-25-5blocks-14-BN-p0", 3, (15, 25, 5, 14, nn.BatchNorm1d, 0.0), False),
]


@pytest.mark.parametrize("batch, args, is_block", [c[1:] for c in FORWARD_CASES], ids=[c[0] for c in FORWARD_CASES])
def test_seeded_training_forward_matches_numpy(batch, args, is_block):
    x = np.random.default_rng(batch).standard_normal((batch, args[0])).astype(np.float32)
    np.random.seed(2)
    reference = numpy_block(*args) if is_block else numpy_mlp_resnet(*args)
    expected = reference(x.astype(np.float64))
    np.random.seed(2)
    model = ResidualBlock(*args) if is_block else MLPResNet(*args)
    out = model(ndl.Tensor(x))
    name = "ResidualBlock" if is_block else "MLPResNet"
    assert out.shape == expected.shape, f"{name}{args[:-2]} of a {x.shape} input should give {expected.shape}, got {out.shape}"
    assert_close(
        out, expected.astype(np.float32), tol=TOL["float32"], what=f"seeded {name}{args} training forward",
        hint="build the modules in execution order (each Linear draws weight then bias) and follow "
        "needle_api.md 7.2 exactly: Linear, norm, ReLU, Dropout, Linear, norm inside Residual, then ReLU",
    )


# --- epoch -------------------------------------------------------------------


def all_modules(module):
    """The module and every sub-module reachable through attributes, lists, tuples and dicts."""
    found, stack = [], [module]
    while stack:
        value = stack.pop()
        if isinstance(value, nn.Module):
            found.append(value)
            stack.extend(vars(value).values())
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def snapshot(model):
    return [p.numpy().copy() for p in model.parameters()]


def synthetic_loader(batch_size=100):
    """250 rows (batches of 100, 100 and 50); the last 50 rows are scaled up, so
    their losses differ and a mean of batch means differs from the sample mean."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((250, 20)).astype(np.float32)
    X[200:] *= 6
    y = rng.integers(0, 4, size=250).astype(np.uint8)
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size), X, y


def numpy_losses(logits, y):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]


def test_epoch_without_optimizer_evaluates_over_samples_and_changes_nothing():
    loader, X, y = synthetic_loader()
    np.random.seed(0)
    model = MLPResNet(20, 16, num_blocks=1, num_classes=4, drop_prob=0.5)
    for _ in range(2):  # give the BatchNorm layers non-trivial running statistics
        model(ndl.Tensor(X[:100]))
    before = snapshot(model)
    result = epoch(loader, model)
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"epoch should return (error rate, average loss), got {result!r}"
    )
    error, loss = (float(np.asarray(v)) for v in result)
    for i, (p, old) in enumerate(zip(model.parameters(), before)):
        assert_close(p, old, what=f"parameter {i} after epoch(loader, model) without an optimizer",
                     hint="without an optimizer epoch only evaluates: no step, no update")
    model.eval()
    logits = model(ndl.Tensor(X)).numpy()
    losses = numpy_losses(logits, y)
    expected_error = float(np.mean(logits.argmax(axis=1) != y))
    expected_loss = float(losses.mean())
    batch_mean = float(np.mean([losses[:100].mean(), losses[100:200].mean(), losses[200:].mean()]))
    assert abs(batch_mean - expected_loss) > 1e-2, "test precondition: batch means must differ from the sample mean"
    assert 0.0 <= error <= 1.0, f"the error rate should lie in [0, 1], got {error}"
    assert abs(error - expected_error) <= 1e-9, (
        f"the error rate should be the fraction of the 250 samples misclassified, {expected_error}, got {error} "
        f"(an error rate, not an accuracy or a count)"
    )
    assert_close(np.array(loss), np.array(expected_loss), tol=TOL["training"],
                 what="epoch's average loss over 250 samples in batches of 100, 100, 50",
                 hint="average over samples: sum of (batch loss * batch size) / number of samples, not the mean "
                 "of batch losses")


def test_epoch_sets_eval_mode_without_optimizer_and_train_mode_with_one():
    loader, _, _ = synthetic_loader()
    np.random.seed(0)
    model = MLPResNet(20, 16, num_blocks=2, num_classes=4)
    model.train()
    epoch(loader, model)
    training = [type(m).__name__ for m in all_modules(model) if m.training]
    assert not training, f"after epoch(loader, model) without an optimizer these modules still train: {training}"
    model.eval()
    before = snapshot(model)
    epoch(loader, model, ndl.optim.SGD(model.parameters(), lr=0.01))
    evaluating = [type(m).__name__ for m in all_modules(model) if not m.training]
    assert not evaluating, (
        f"after epoch(loader, model, opt) these modules are not training: {evaluating}; epoch must call "
        f"model.train() itself when given an optimizer"
    )
    # (A bias just before BatchNorm gets a zero gradient, so not every parameter moves.)
    changed = [not np.array_equal(p.numpy(), old) for p, old in zip(model.parameters(), before)]
    assert changed[0] and changed[-2], (
        "a training epoch should update the parameters (the first and the last Linear weights did not change); "
        "per batch call opt.reset_grad(), loss.backward(), opt.step()"
    )


# --- t10k (byte-exact) -------------------------------------------------------


@pytest.mark.mnist
def test_course_eval_epoch_on_t10k(mnist_dir):
    # The course's test_mlp_eval_epoch_1 (needle_api.md 9.4), model left in train mode.  The
    # model is built first: neither the dataset nor the loader draws random numbers, so the
    # course value holds with either order.
    np.random.seed(1)
    model = MLPResNet(784, 10)
    dataset = ndl.data.MNISTDataset(str(mnist_dir / "t10k-images-idx3-ubyte.gz"),
                                    str(mnist_dir / "t10k-labels-idx1-ubyte.gz"))
    loader = ndl.data.DataLoader(dataset, 150)
    error, loss = epoch(loader, model)
    assert_close(np.array([error, loss], dtype=np.float64), np.array([0.9164, 4.137814]), tol=TOL["training"],
                 what="epoch(t10k loader, MLPResNet(784, 10)) (course value)",
                 hint="evaluation: model.eval(), error rate and sample-averaged loss")


@pytest.mark.mnist
def test_training_epochs_on_a_t10k_subset_lower_the_loss(mnist_dir):
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz", "rb") as f:
        X = np.frombuffer(f.read(), dtype=np.uint8, offset=16, count=1000 * 784).reshape(1000, 784)
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz", "rb") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8, count=1000)
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(X.astype(np.float32) / 255, y), 100)
    np.random.seed(0)
    model = MLPResNet(784, 64, num_blocks=2)
    opt = ndl.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.001)
    model.eval()
    first_error, first_loss = epoch(loader, model, opt)
    second_error, second_loss = epoch(loader, model, opt)
    for name, value in (("first", first_error), ("second", second_error)):
        assert 0.0 <= value <= 1.0, f"the {name} epoch's error rate should lie in [0, 1], got {value}"
    assert second_loss < first_loss, (
        f"training with Adam should lower the loss: first epoch {first_loss:.4f}, second {second_loss:.4f}; "
        f"per batch call opt.reset_grad(), loss.backward(), opt.step()"
    )
    assert second_error < first_error, (
        f"training with Adam should lower the error rate: first epoch {first_error:.4f}, second {second_error:.4f}"
    )
