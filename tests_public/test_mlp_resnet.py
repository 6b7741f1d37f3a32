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

Seeded forwards are compared with a NumPy reimplementation (numpy_reference.py)
that replays the documented draws (each Linear: weight then bias; each training Dropout: one
np.random.rand of its input's shape).
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from mlp_resnet import MLPResNet, ResidualBlock, epoch
from tests_public.helpers import TOL, all_modules, assert_close
from tests_public.numpy_reference import (
    mnist_paths, numpy_block, numpy_mlp_resnet, read_mnist, softmax_losses, synthetic_classification,
)


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


def snapshot(model):
    return [p.numpy().copy() for p in model.parameters()]


def synthetic_loader(batch_size=100):
    """250 rows (batches of 100, 100 and 50); the last 50 rows are scaled up, so
    their losses differ and a mean of batch means differs from the sample mean."""
    X, y = synthetic_classification(250, 20, 4, seed=7, loud=50, factor=6)
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size), X, y


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
    losses = softmax_losses(logits, y)
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
    dataset = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    loader = ndl.data.DataLoader(dataset, 150)
    error, loss = epoch(loader, model)
    assert_close(np.array([error, loss], dtype=np.float64), np.array([0.9164, 4.137814]), tol=TOL["training"],
                 what="epoch(t10k loader, MLPResNet(784, 10)) (course value)",
                 hint="evaluation: model.eval(), error rate and sample-averaged loss")


@pytest.mark.mnist
def test_training_epochs_on_a_t10k_subset_lower_the_loss(mnist_dir):
    X, y = read_mnist(mnist_dir, count=1000)
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
