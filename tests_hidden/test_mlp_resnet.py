"""Hidden tests, question "mlp_resnet": ``mlp_resnet.ResidualBlock``,
``MLPResNet``, ``epoch`` and ``train_mnist``.

New sizes, seeds and data: parameter counts from the documented layer sizes,
seeded forwards against a NumPy reimplementation replaying the documented
draws, epochs on synthetic data and on the (byte-exact) t10k files, and
``train_mnist`` on small IDX files cut from t10k.  Every test builds its model
(or calls the function under test) before touching any dataset.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from mlp_resnet import MLPResNet, ResidualBlock, epoch, train_mnist
from tests_public.helpers import TOL, Tol, all_modules, assert_close
from tests_public.numpy_reference import (
    mnist_paths, numpy_block, numpy_mlp_resnet, read_mnist, softmax_losses, synthetic_classification, write_pair,
)


def ids(cases):
    return [c[0] for c in cases]


def assert_error_and_loss(got, expected, counts, what, hint=""):
    """Compare (error rate, average loss) pairs: each error rate within two
    and a half samples of its ``counts`` (float32 rounding may flip a near
    tie), each loss within the training tolerance."""
    __tracebackhide__ = True
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    errors, losses = slice(0, None, 2), slice(1, None, 2)
    assert_close(got[errors], expected[errors], tol=Tol(rtol=0.0, atol=2.5 / min(counts)),
                 what=f"error rate(s) of {what}", hint=hint)
    assert_close(got[losses], expected[losses], tol=TOL["training"], what=f"average loss(es) of {what}", hint=hint)


# --- parameter counts --------------------------------------------------------


def block_count(dim, hidden):
    return (dim * hidden + hidden) + 2 * hidden + (hidden * dim + dim) + 2 * dim


def resnet_count(dim, hidden, num_blocks, num_classes):
    return (dim * hidden + hidden) + num_blocks * block_count(hidden, hidden // 2) + (hidden * num_classes + num_classes)


COUNT_CASES = [
    ("ResidualBlock-20-7-BN", lambda: ResidualBlock(20, 7, norm=nn.BatchNorm1d), block_count(20, 7)),
    ("ResidualBlock-33-64-LN", lambda: ResidualBlock(33, 64, norm=nn.LayerNorm1d), block_count(33, 64)),
    ("MLPResNet-50-30-2blocks-7-LN",
     lambda: MLPResNet(50, 30, num_blocks=2, num_classes=7, norm=nn.LayerNorm1d), resnet_count(50, 30, 2, 7)),
    ("MLPResNet-784-64-4blocks-10-BN", lambda: MLPResNet(784, 64, num_blocks=4), resnet_count(784, 64, 4, 10)),
    ("MLPResNet-12-9-1block-3-odd-hidden",
     lambda: MLPResNet(12, 9, num_blocks=1, num_classes=3), resnet_count(12, 9, 1, 3)),
]


@pytest.mark.parametrize("build, expected", [c[1:] for c in COUNT_CASES], ids=ids(COUNT_CASES))
def test_parameter_count(build, expected):
    """The model has exactly the documented layers' weights and biases (norm layers: weight and bias only)."""
    np.random.seed(1)
    model = build()
    sizes = [int(np.prod(p.shape)) for p in model.parameters()]
    assert all(p.dtype == np.float32 for p in model.parameters()), "every parameter should be float32"
    assert_close(np.array([sum(sizes)]), np.array([expected]), what="number of parameter values",
                 hint="the block's hidden width inside MLPResNet is hidden_dim // 2")


# --- seeded forwards ---------------------------------------------------------


FORWARD_CASES = [
    # (id, batch, builder args, is_block, seed)
    ("ResidualBlock-12-5-BN-p0.3", 6, (12, 5, nn.BatchNorm1d, 0.3), True, 13),
    ("ResidualBlock-6-9-LN-p0.6", 3, (6, 9, nn.LayerNorm1d, 0.6), True, 14),
    ("MLPResNet-8-11-3blocks-4-LN-p0.25", 5, (8, 11, 3, 4, nn.LayerNorm1d, 0.25), False, 15),
    ("MLPResNet-30-16-1block-12-BN-p0", 2, (30, 16, 1, 12, nn.BatchNorm1d, 0.0), False, 16),
]


@pytest.mark.parametrize("batch, build_args, is_block, seed", [c[1:] for c in FORWARD_CASES], ids=ids(FORWARD_CASES))
def test_seeded_forward_in_train_and_eval_mode(batch, build_args, is_block, seed):
    """A freshly seeded model's output in training mode (dropout drawn) and in eval mode matches the documented architecture."""
    np.random.seed(seed)
    model = ResidualBlock(*build_args) if is_block else MLPResNet(*build_args)
    np.random.seed(seed)
    reference = numpy_block(*build_args) if is_block else numpy_mlp_resnet(*build_args)
    x = (np.random.default_rng(seed).standard_normal((batch, build_args[0])) * 1.5).astype(np.float32)
    name = "ResidualBlock" if is_block else "MLPResNet"
    np.random.seed(seed + 100)
    expected_train = reference(x.astype(np.float64), True)
    np.random.seed(seed + 100)
    out = model(ndl.Tensor(x))
    assert out.shape == expected_train.shape, f"{name}{build_args} of {x.shape} should give {expected_train.shape}, got {out.shape}"
    assert out.dtype == np.float32, f"{name} output is {out.dtype}, expected float32"
    assert_close(out, expected_train.astype(np.float32), tol=TOL["float32"], what=f"{name}{build_args} training forward",
                 hint="modules built in execution order; Linear, norm, ReLU, Dropout, Linear, norm inside Residual, then ReLU")
    if build_args[-2] is nn.BatchNorm1d:
        return  # the training forward above moved the running statistics; the eval case is in the epoch tests
    model.eval()
    assert_close(model(ndl.Tensor(x)), reference(x.astype(np.float64), False).astype(np.float32), tol=TOL["float32"],
                 what=f"{name}{build_args} eval forward", hint="eval mode: no dropout")


# --- epoch on synthetic data -------------------------------------------------


def synthetic(seed=17):
    """300 rows of 12 features in 5 classes; the last 44 rows are scaled up so their losses stand out."""
    return synthetic_classification(300, 12, 5, seed, loud=44, factor=5)


def loader_of(X, y, batch_size=128):
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size)


def test_evaluation_epoch_averages_over_samples():
    """Without an optimizer, epoch evaluates in eval mode and averages error and loss over samples."""
    np.random.seed(3)
    model = MLPResNet(12, 10, num_blocks=2, num_classes=5, norm=nn.LayerNorm1d, drop_prob=0.4)
    X, y = synthetic()
    before = [p.numpy().copy() for p in model.parameters()]
    error, loss = (float(np.asarray(v)) for v in epoch(loader_of(X, y), model))
    training = [type(m).__name__ for m in all_modules(model) if m.training]
    assert not training, f"after epoch without an optimizer these modules still train: {training}"
    for i, (p, old) in enumerate(zip(model.parameters(), before)):
        assert np.array_equal(p.numpy(), old), f"epoch without an optimizer changed parameter {i}"
    logits = model(ndl.Tensor(X)).numpy()
    losses = softmax_losses(logits, y)
    batch_means = np.mean([losses[:128].mean(), losses[128:256].mean(), losses[256:].mean()])
    assert abs(batch_means - losses.mean()) > 1e-2, "test precondition: batch means must differ from the sample mean"
    assert_error_and_loss([error, loss], [np.mean(logits.argmax(axis=1) != y), losses.mean()], [len(y)],
                          what="an evaluation epoch over 128 + 128 + 44 rows",
                          hint="average over samples (sum of batch loss * batch size / number of samples), error as a fraction")


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", dict(lr=0.05, momentum=0.5)), ("Adam", dict(lr=0.01, weight_decay=0.01))],
                         ids=["SGD", "Adam"])
def test_training_epoch_matches_a_hand_written_loop(opt_name, kwargs):
    """With an optimizer, epoch seeds 4, trains in train mode with one step per batch, and averages over samples."""
    np.random.seed(8)
    model = MLPResNet(12, 14, num_blocks=1, num_classes=5, drop_prob=0.3)
    np.random.seed(8)
    twin = MLPResNet(12, 14, num_blocks=1, num_classes=5, drop_prob=0.3)
    X, y = synthetic(seed=18)
    model.eval()
    opt_class = getattr(ndl.optim, opt_name)
    error, loss = (float(np.asarray(v)) for v in epoch(loader_of(X, y), model, opt_class(model.parameters(), **kwargs)))
    evaluating = [type(m).__name__ for m in all_modules(model) if not m.training]
    assert not evaluating, f"after a training epoch these modules are not training: {evaluating}"

    np.random.seed(4)
    twin.train()
    twin_opt = opt_class(twin.parameters(), **kwargs)
    loss_fn = nn.SoftmaxLoss()
    errors, total, count = 0, 0.0, 0
    for xb, yb in loader_of(X, y):
        logits = twin(xb)
        batch_loss = loss_fn(logits, yb)
        twin_opt.reset_grad()
        batch_loss.backward()
        twin_opt.step()
        errors += int(np.sum(logits.numpy().argmax(axis=1) != yb.numpy()))
        total += float(batch_loss.numpy()) * yb.shape[0]
        count += yb.shape[0]
    assert_error_and_loss([error, loss], [errors / count, total / count], [count],
                          what=f"a training epoch with {opt_name}",
                          hint="np.random.seed(4), model.train(), per batch: reset_grad, backward, step; average over samples")
    for i, (p, q) in enumerate(zip(model.parameters(), twin.parameters())):
        assert_close(p, q.numpy(), tol=TOL["training"], what=f"parameter {i} after the training epoch")


# --- t10k ----------------------------------------------------------------------


T10K_CASES = [("LN-hidden24-2blocks-batch384", nn.LayerNorm1d, 24, 2, 384, 6),
              ("BN-hidden20-1block-batch1000", nn.BatchNorm1d, 20, 1, 1000, 7)]


@pytest.mark.mnist
@pytest.mark.parametrize("norm, hidden, blocks, batch_size, seed", [c[1:] for c in T10K_CASES], ids=ids(T10K_CASES))
def test_evaluation_epoch_on_t10k(mnist_dir, norm, hidden, blocks, batch_size, seed):
    """An evaluation epoch of a freshly seeded model over the t10k MNISTDataset."""
    np.random.seed(seed)
    model = MLPResNet(784, hidden, num_blocks=blocks, norm=norm, drop_prob=0.3)
    np.random.seed(seed)
    reference = numpy_mlp_resnet(784, hidden, blocks, 10, norm, 0.3)
    dataset = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    error, loss = (float(np.asarray(v)) for v in epoch(ndl.data.DataLoader(dataset, batch_size), model))
    X, y = read_mnist(mnist_dir)
    logits = reference(X.astype(np.float64) / 255, False)
    assert_error_and_loss([error, loss], [np.mean(logits.argmax(axis=1) != y), softmax_losses(logits, y).mean()], [len(y)],
                          what=f"an evaluation epoch over t10k in batches of {batch_size}")


@pytest.mark.mnist
def test_train_mnist_on_a_small_copy(mnist_dir, tmp_path):
    """train_mnist seeds 4, trains on a shuffled loader, evaluates on the test files, and returns (train err, train loss, test err, test loss)."""
    X, y = read_mnist(mnist_dir, count=1300)
    write_pair(tmp_path, X[:900], y[:900], "train-")
    write_pair(tmp_path, X[900:], y[900:], "t10k-")
    kwargs = dict(batch_size=128, epochs=2, optimizer=ndl.optim.SGD, lr=0.05, weight_decay=0.001, hidden_dim=32)
    result = train_mnist(**kwargs, data_dir=str(tmp_path))
    assert isinstance(result, (tuple, list)) and len(result) == 4, (
        f"train_mnist should return (train error, train loss, test error, test loss), got {result!r}"
    )
    got = np.array([float(np.asarray(v)) for v in result])

    np.random.seed(4)
    model = MLPResNet(784, 32)
    opt = ndl.optim.SGD(model.parameters(), lr=0.05, weight_decay=0.001)
    train_set = ndl.data.MNISTDataset(*mnist_paths(tmp_path, "train"))
    test_set = ndl.data.MNISTDataset(*mnist_paths(tmp_path, "t10k"))
    train_loader = ndl.data.DataLoader(train_set, 128, shuffle=True)
    for _ in range(2):
        train_error, train_loss = epoch(train_loader, model, opt)
    test_error, test_loss = epoch(ndl.data.DataLoader(test_set, 128), model)
    expected = np.array([train_error, train_loss, test_error, test_loss], dtype=np.float64)
    assert np.all((got[[0, 2]] >= 0) & (got[[0, 2]] <= 1)), f"error rates should lie in [0, 1], got {got[[0, 2]]}"
    assert_error_and_loss(got, expected, [900, 400], what=f"train_mnist({kwargs}) (train, then test)",
                          hint="np.random.seed(4); MLPResNet(784, hidden_dim); optimizer(params, lr=lr, weight_decay=weight_decay); "
                          "epochs over a shuffled train loader, then one evaluation epoch on the test set")
