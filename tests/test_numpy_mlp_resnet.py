"""The kit's proof that the reference's ``mlp_resnet`` is right, against
NumPy: parameter counts from the documented layer sizes; seeded forwards
against a NumPy reimplementation replaying the documented draws
(tests/numpy_reference.py: each Linear draws weight then bias, each training
Dropout one np.random.rand of its input's shape); ``epoch`` averaging error
and loss over samples (softmax losses computed here), switching modes and
stepping once per batch (a loop written out here); the course's t10k value;
``train_mnist`` against the same steps written out.

The suites themselves hold none of this: they hand over what the code
returned and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import all_modules
from grader.box.mlp_resnet import mnist_like, mnist_like_files
from mlp_resnet import MLPResNet, ResidualBlock, epoch, train_mnist
from tests.numpy_checks import TOL, assert_close
from tests.numpy_reference import (
    mnist_paths, numpy_block, numpy_mlp_resnet, read_mnist, softmax_losses, synthetic_classification,
)


def block_count(dim, hidden):
    return (dim * hidden + hidden) + 2 * hidden + (hidden * dim + dim) + 2 * dim


def resnet_count(dim, hidden, num_blocks, num_classes):
    return (dim * hidden + hidden) + num_blocks * block_count(hidden, hidden // 2) + (hidden * num_classes + num_classes)


COUNT_CASES = [
    (lambda: ResidualBlock(15, 2, norm=nn.BatchNorm1d), 111),
    (lambda: ResidualBlock(784, 100, norm=nn.LayerNorm1d), 159452),
    (lambda: MLPResNet(150, 100, num_blocks=5, num_classes=10, norm=nn.LayerNorm1d), 68360),
    (lambda: MLPResNet(10, 100, num_blocks=1, num_classes=100, norm=nn.BatchNorm1d), 21650),
    (lambda: ResidualBlock(20, 7, norm=nn.BatchNorm1d), block_count(20, 7)),
    (lambda: ResidualBlock(33, 64, norm=nn.LayerNorm1d), block_count(33, 64)),
    (lambda: MLPResNet(50, 30, num_blocks=2, num_classes=7, norm=nn.LayerNorm1d), resnet_count(50, 30, 2, 7)),
    (lambda: MLPResNet(784, 64, num_blocks=4), resnet_count(784, 64, 4, 10)),
    (lambda: MLPResNet(12, 9, num_blocks=1, num_classes=3), resnet_count(12, 9, 1, 3)),
]


@pytest.mark.parametrize("build, expected", COUNT_CASES)
def test_parameter_counts(build, expected):
    np.random.seed(0)
    params = build().parameters()
    assert sum(int(np.prod(p.shape)) for p in params) == expected
    assert all(p.dtype == np.float32 for p in params)


FORWARD_CASES = [
    # (batch, builder args, is_block, seed): the public cases (seed 2), then the hidden ones
    (3, (15, 10, nn.LayerNorm1d, 0.5), True, 2),
    (4, (8, 6, nn.BatchNorm1d, 0.2), True, 2),
    (2, (10, 5, 2, 5, nn.LayerNorm1d, 0.5), False, 2),
    (8, (15, 25, 5, 14, nn.BatchNorm1d, 0.0), False, 2),
    (6, (12, 5, nn.BatchNorm1d, 0.3), True, 13),
    (3, (6, 9, nn.LayerNorm1d, 0.6), True, 14),
    (5, (8, 11, 3, 4, nn.LayerNorm1d, 0.25), False, 15),
    (6, (30, 16, 1, 12, nn.BatchNorm1d, 0.0), False, 16),
]


@pytest.mark.parametrize("batch, args, is_block, seed", FORWARD_CASES)
def test_seeded_forwards_replay_the_documented_draws(batch, args, is_block, seed):
    x = (np.random.default_rng(seed).standard_normal((batch, args[0])) * 1.5).astype(np.float32)
    np.random.seed(seed)
    reference = numpy_block(*args) if is_block else numpy_mlp_resnet(*args)
    expected_train = reference(x.astype(np.float64), True)
    np.random.seed(seed)
    model = ResidualBlock(*args) if is_block else MLPResNet(*args)
    out = model(ndl.Tensor(x))
    assert_close(out, expected_train.astype(np.float32), tol=TOL["float32"], what="training forward")
    np.random.seed(seed)
    fresh = ResidualBlock(*args) if is_block else MLPResNet(*args)
    fresh.eval()  # running statistics still at their start (mean 0, var 1), as numpy_norm's eval assumes
    # (float32 through five unnormalized blocks drifts just past the float32 row from float64)
    assert_close(fresh(ndl.Tensor(x)), reference(x.astype(np.float64), False).astype(np.float32), tol=TOL["training"],
                 what="eval forward")


def loader_of(X, y, batch_size):
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size)


@pytest.mark.parametrize("n, dim, classes, seed, loud, factor, batch_size, norm",
                         [(250, 20, 4, 7, 50, 6, 100, nn.BatchNorm1d), (300, 12, 5, 17, 44, 5, 128, nn.LayerNorm1d)])
def test_evaluation_epoch_averages_over_samples(n, dim, classes, seed, loud, factor, batch_size, norm):
    X, y = synthetic_classification(n, dim, classes, seed=seed, loud=loud, factor=factor)
    np.random.seed(0)
    model = MLPResNet(dim, 16, num_blocks=2, num_classes=classes, norm=norm, drop_prob=0.4)
    model.train()
    for _ in range(2):
        model(ndl.Tensor(X[:100]))
    before = [p.numpy().copy() for p in model.parameters()]
    error, loss = epoch(loader_of(X, y, batch_size), model)
    assert not any(m.training for m in all_modules(model))
    assert all(np.array_equal(p.numpy(), old) for p, old in zip(model.parameters(), before))
    logits = model(ndl.Tensor(X)).numpy()
    losses = softmax_losses(logits, y)
    starts = range(0, n, batch_size)
    batch_means = np.mean([losses[s:s + batch_size].mean() for s in starts])
    assert abs(batch_means - losses.mean()) > 1e-2, "the case should tell a sample mean from a mean of batch means"
    assert error == np.mean(logits.argmax(axis=1) != y)
    assert_close(np.array(loss), np.array(losses.mean()), tol=TOL["training"], what="average loss")


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", dict(lr=0.05, momentum=0.5)), ("Adam", dict(lr=0.01, weight_decay=0.01)),
                                              ("SGD", dict(lr=0.01))])
def test_training_epoch_is_the_written_out_loop(opt_name, kwargs):
    X, y = synthetic_classification(300, 12, 5, 18, loud=44, factor=5)
    np.random.seed(8)
    model = MLPResNet(12, 14, num_blocks=1, num_classes=5, drop_prob=0.3)
    np.random.seed(8)
    twin = MLPResNet(12, 14, num_blocks=1, num_classes=5, drop_prob=0.3)
    opt_class = getattr(ndl.optim, opt_name)
    model.eval()
    error, loss = epoch(loader_of(X, y, 128), model, opt_class(model.parameters(), **kwargs))
    assert all(m.training for m in all_modules(model))
    np.random.seed(4)
    twin.train()
    twin_opt = opt_class(twin.parameters(), **kwargs)
    errors, total, count = 0, 0.0, 0
    for xb, yb in loader_of(X, y, 128):
        logits = twin(xb)
        batch_loss = nn.SoftmaxLoss()(logits, yb)
        twin_opt.reset_grad()
        batch_loss.backward()
        twin_opt.step()
        errors += int(np.sum(logits.numpy().argmax(axis=1) != yb.numpy()))
        total += float(batch_loss.numpy()) * yb.shape[0]
        count += yb.shape[0]
    assert error == errors / count
    assert_close(np.array(loss), np.array(total / count), tol=TOL["training"], what="average loss")
    for p, q in zip(model.parameters(), twin.parameters()):
        assert_close(p, q.numpy(), what="parameter after the epoch")


@pytest.mark.mnist
def test_course_eval_epoch_on_t10k(mnist_dir):
    np.random.seed(1)
    model = MLPResNet(784, 10)
    loader = ndl.data.DataLoader(ndl.data.MNISTDataset(*mnist_paths(mnist_dir)), 150)
    assert_close(np.array(epoch(loader, model)), np.array([0.9164, 4.137814]), tol=TOL["training"], what="course value")


@pytest.mark.mnist
@pytest.mark.parametrize("norm, hidden, blocks, batch_size, seed",
                         [(nn.LayerNorm1d, 24, 2, 384, 6), (nn.BatchNorm1d, 20, 1, 1000, 7)])
def test_evaluation_epoch_on_t10k_replays_the_numpy_model(mnist_dir, norm, hidden, blocks, batch_size, seed):
    np.random.seed(seed)
    model = MLPResNet(784, hidden, num_blocks=blocks, norm=norm, drop_prob=0.3)
    np.random.seed(seed)
    reference = numpy_mlp_resnet(784, hidden, blocks, 10, norm, 0.3)
    error, loss = epoch(ndl.data.DataLoader(ndl.data.MNISTDataset(*mnist_paths(mnist_dir)), batch_size), model)
    X, y = read_mnist(mnist_dir)
    logits = reference(X.astype(np.float64) / 255, False)
    assert abs(error - np.mean(logits.argmax(axis=1) != y)) <= 2.5 / len(y)
    assert_close(np.array(loss), np.array(softmax_losses(logits, y).mean()), tol=TOL["training"], what="loss")


def test_mnist_like_data_is_learnable():
    X, y = mnist_like(1000, seed=3)
    loader = loader_of(X, y, 100)
    np.random.seed(0)
    model = MLPResNet(784, 64, num_blocks=2)
    opt = ndl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.001)
    first_error, first_loss = epoch(loader, model, opt)
    second_error, second_loss = epoch(loader, model, opt)
    assert second_loss < first_loss and second_error < first_error


def test_train_mnist_is_the_written_out_run(tmp_path):
    batch_size = 64
    mnist_like_files(tmp_path, {"train": 300, "t10k": 200}, seed=4)
    kwargs = dict(batch_size=batch_size, epochs=2, optimizer=ndl.optim.SGD, lr=0.001, weight_decay=0.01, hidden_dim=32)
    got = np.array(train_mnist(**kwargs, data_dir=str(tmp_path)))
    np.random.seed(4)
    model = MLPResNet(784, 32)
    opt = ndl.optim.SGD(model.parameters(), lr=0.001, weight_decay=0.01)
    train_set = ndl.data.MNISTDataset(*mnist_paths(tmp_path, "train"))
    test_set = ndl.data.MNISTDataset(*mnist_paths(tmp_path, "t10k"))
    train_loader = ndl.data.DataLoader(train_set, batch_size, shuffle=True)
    for _ in range(2):
        train_error, train_loss = epoch(train_loader, model, opt)
    test_error, test_loss = epoch(ndl.data.DataLoader(test_set, batch_size), model)
    assert_close(got, np.array([train_error, train_loss, test_error, test_loss]), tol=TOL["float64"], what="train_mnist")
