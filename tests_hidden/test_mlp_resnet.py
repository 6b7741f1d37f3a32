"""Hidden tests, question "mlp_resnet": ``mlp_resnet.ResidualBlock``,
``MLPResNet``, ``epoch`` and ``train_mnist``.

New sizes, seeds and data: seeded parameters and forwards in train and eval
mode, epochs on drawn data and on the t10k files, and ``train_mnist`` on
small drawn IDX files.  Tests hand over outputs, returned error rates and
losses, and trained parameters, for comparison with the reference's.  Every
test builds its model (or calls the function under test) before touching any
dataset.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import all_modules
from grader.box.inputs import mnist_paths, rng, seed_global, synthetic_classification
from grader.box.mlp_resnet import mnist_like_files
from grader.box.record import check, in_behaviour, observe
from mlp_resnet import MLPResNet, ResidualBlock, epoch, train_mnist


def ids(cases):
    return [c[0] for c in cases]


def metrics(result, count, what):
    """The numbers that ``what`` returned, as floats."""
    assert isinstance(result, (tuple, list)) and len(result) == count, (
        f"{what} should return {count} numbers, got {result!r}"
    )
    values = []
    for value in result:
        array = value.numpy() if isinstance(value, ndl.Tensor) else np.asarray(value)
        assert array.size == 1 and array.dtype.kind in "biuf", f"{what} should return numbers, got {result!r}"
        values.append(float(array.reshape(())))
    return values


def check_epoch(result, what):
    error, loss = metrics(result, 2, what)
    check(error, what=f"the error rate of {what}", tol="training")
    check(loss, what=f"the average loss of {what}", tol="training")


def check_parameters(model, what, tol=None):
    params = model.parameters()
    observe(len(params), what=f"the number of parameters of {what}")
    for i, p in enumerate(params):
        check(p, what=f"parameter {i} of {what}", tol=tol)


def modules_in_mode(model, training):
    return sum(bool(m.training) == training for m in all_modules(model))


# --- parameters --------------------------------------------------------------


COUNT_CASES = [
    ("ResidualBlock-20-7-BN", lambda: ResidualBlock(20, 7, norm=nn.BatchNorm1d)),
    ("ResidualBlock-33-64-LN", lambda: ResidualBlock(33, 64, norm=nn.LayerNorm1d)),
    ("MLPResNet-50-30-2blocks-7-LN", lambda: MLPResNet(50, 30, num_blocks=2, num_classes=7, norm=nn.LayerNorm1d)),
    ("MLPResNet-784-64-4blocks-10-BN", lambda: MLPResNet(784, 64, num_blocks=4)),
    ("MLPResNet-12-9-1block-3-odd-hidden", lambda: MLPResNet(12, 9, num_blocks=1, num_classes=3)),
]


@pytest.mark.parametrize("build", [in_behaviour(c[0].split("-")[0], c[1], id=c[0]) for c in COUNT_CASES])
def test_parameter_count(build):
    """The model has exactly the documented layers' weights and biases (norm layers: weight and bias only)."""
    seed_global(1)
    model = build()
    observe(sum(int(np.prod(p.shape)) for p in model.parameters()), what="number of parameter values")
    check_parameters(model, "the freshly seeded model")


# --- seeded forwards ---------------------------------------------------------


FORWARD_CASES = [
    # (id, batch, builder args, is_block, seed)
    ("ResidualBlock-12-5-BN-p0.3", 6, (12, 5, nn.BatchNorm1d, 0.3), True, 13),
    ("ResidualBlock-6-9-LN-p0.6", 3, (6, 9, nn.LayerNorm1d, 0.6), True, 14),
    ("MLPResNet-8-11-3blocks-4-LN-p0.25", 5, (8, 11, 3, 4, nn.LayerNorm1d, 0.25), False, 15),
    ("MLPResNet-30-16-1block-12-BN-p0", 6, (30, 16, 1, 12, nn.BatchNorm1d, 0.0), False, 16),
]


@pytest.mark.parametrize("batch, build_args, is_block, seed",
                         [in_behaviour(c[0].split("-")[0], *c[1:], id=c[0]) for c in FORWARD_CASES])
def test_seeded_forward_in_train_and_eval_mode(batch, build_args, is_block, seed):
    """A freshly seeded model's output in training mode (dropout drawn) and in eval mode matches the documented architecture."""
    seed_global(seed)
    model = ResidualBlock(*build_args) if is_block else MLPResNet(*build_args)
    x = (rng(seed).standard_normal((batch, build_args[0])) * 1.5).astype(np.float32)
    name = "ResidualBlock" if is_block else "MLPResNet"
    seed_global(seed + 100)
    check(model(ndl.Tensor(x)), what=f"{name}{build_args} training forward")
    model.eval()
    # BatchNorm's eval forward uses the running statistics that the training forward updated
    check(model(ndl.Tensor(x)), what=f"{name}{build_args} eval forward")


# --- epoch on drawn data -------------------------------------------------------


def synthetic(seed=17):
    """300 rows of 12 features in 5 classes; the last 44 rows are scaled up so their losses stand out."""
    return synthetic_classification(300, 12, 5, seed, loud=44, factor=5)


def loader_of(X, y, batch_size=128):
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size)


@pytest.mark.behaviour("epoch")
def test_evaluation_epoch_averages_over_samples():
    """Without an optimizer, epoch evaluates in eval mode and averages error and loss over samples."""
    seed_global(3)
    model = MLPResNet(12, 10, num_blocks=2, num_classes=5, norm=nn.LayerNorm1d, drop_prob=0.4)
    X, y = synthetic()
    before = [p.numpy().copy() for p in model.parameters()]
    result = epoch(loader_of(X, y), model)
    observe(modules_in_mode(model, training=True), what="modules still training after an evaluation epoch")
    observe(np.array([bool((p.numpy() == old).all()) for p, old in zip(model.parameters(), before)]),
            what="each parameter unchanged by an evaluation epoch")
    check_epoch(result, "an evaluation epoch over 128 + 128 + 44 rows")


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", dict(lr=0.05, momentum=0.5)), ("Adam", dict(lr=0.01, weight_decay=0.01))],
                         ids=["SGD", "Adam"])
@pytest.mark.behaviour("epoch")
def test_training_epoch_matches_a_hand_written_loop(opt_name, kwargs):
    """With an optimizer, epoch seeds 4, trains in train mode with one step per batch, and averages over samples."""
    seed_global(8)
    model = MLPResNet(12, 14, num_blocks=1, num_classes=5, drop_prob=0.3)
    X, y = synthetic(seed=18)
    model.eval()
    result = epoch(loader_of(X, y), model, getattr(ndl.optim, opt_name)(model.parameters(), **kwargs))
    observe(modules_in_mode(model, training=False), what="modules not training after a training epoch")
    check_epoch(result, f"a training epoch with {opt_name}")
    check_parameters(model, f"the model after a training epoch with {opt_name}", tol="training")


# --- MNIST's shape -------------------------------------------------------------


T10K_CASES = [("LN-hidden24-2blocks-batch384", nn.LayerNorm1d, 24, 2, 384, 6),
              ("BN-hidden20-1block-batch1000", nn.BatchNorm1d, 20, 1, 1000, 7)]


@pytest.mark.mnist
@pytest.mark.parametrize("norm, hidden, blocks, batch_size, seed", [c[1:] for c in T10K_CASES], ids=ids(T10K_CASES))
@pytest.mark.behaviour("epoch")
def test_evaluation_epoch_on_t10k(mnist_dir, norm, hidden, blocks, batch_size, seed):
    """An evaluation epoch of a freshly seeded model over the t10k MNISTDataset."""
    seed_global(seed)
    model = MLPResNet(784, hidden, num_blocks=blocks, norm=norm, drop_prob=0.3)
    dataset = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    check_epoch(epoch(ndl.data.DataLoader(dataset, batch_size), model),
                f"an evaluation epoch over t10k in batches of {batch_size}")


@pytest.mark.behaviour("train_mnist")
def test_train_mnist_on_a_small_copy(tmp_path):
    """train_mnist seeds 4, trains on a shuffled loader, evaluates on the test files, and returns (train err, train loss, test err, test loss)."""
    mnist_like_files(tmp_path, {"train": 1200, "t10k": 1000}, seed=31)
    kwargs = dict(batch_size=128, epochs=2, optimizer=ndl.optim.SGD, lr=0.001, weight_decay=0.01, hidden_dim=32)
    result = train_mnist(**kwargs, data_dir=str(tmp_path))
    names = ("train error", "train loss", "test error", "test loss")
    for name, value in zip(names, metrics(result, 4, "train_mnist")):
        check(value, what=f"the {name} of train_mnist({kwargs}) on 1200 training and 1000 test images",
              tol="training")
