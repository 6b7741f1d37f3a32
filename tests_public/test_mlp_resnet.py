"""Question "mlp_resnet": ``mlp_resnet.ResidualBlock``, ``MLPResNet``,
``epoch`` and ``train_mnist`` (docs/API.md section 8.2; the course's published tests: hw2's test_mlp_*).

- ResidualBlock(dim, hidden, norm, p) = Sequential(Residual(Sequential(
  Linear(dim, hidden), norm(hidden), ReLU(), Dropout(p), Linear(hidden, dim),
  norm(dim))), ReLU()), modules built in that order.
- MLPResNet(dim, hidden, num_blocks, num_classes, norm, p) = Sequential(
  Linear(dim, hidden), ReLU(), num_blocks x ResidualBlock(hidden, hidden // 2,
  norm, p), Linear(hidden, num_classes)).
- epoch(loader, model, opt=None) seeds np.random.seed(4), switches the model to
  train() with an optimizer and eval() without, and returns (error rate,
  average loss), both averaged over samples.
- train_mnist(...) seeds np.random.seed(4), trains MLPResNet(784, hidden_dim)
  for ``epochs`` epochs over a shuffled train loader, evaluates once on the
  test files, and returns (train error, train loss, test error, test loss).

Each test seeds NumPy's global RNG before building a model (each Linear draws
its weight then its bias; each training Dropout one np.random.rand of its
input's shape), calls the code, and hands over the outputs, the returned
error rates and losses, and the parameters after training; they are compared
with the reference's for the same inputs.  Every test builds its model (or
calls the function under test) before touching any dataset; the training
data are drawn, of MNIST's shape.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import all_modules
from grader.box.inputs import mnist_paths, rng, seed_global, synthetic_classification
from grader.box.mlp_resnet import mnist_like, mnist_like_files
from grader.box.record import check, in_behaviour, observe
from mlp_resnet import MLPResNet, ResidualBlock, epoch, train_mnist

ARCHITECTURE_HINT = ("build the modules in execution order (each Linear draws weight then bias) and follow "
                     "API.md 8.2 exactly: Linear, norm, ReLU, Dropout, Linear, norm inside Residual, then ReLU; "
                     "MLPResNet's blocks are ResidualBlock(hidden_dim, hidden_dim // 2)")
AVERAGE_HINT = ("average over samples: the sum of (batch loss * batch size) / the number of samples, not the mean of "
                "batch losses")
ERROR_HINT = "the fraction of the samples misclassified (an error rate, not an accuracy or a count)"
STEP_HINT = "with an optimizer: model.train(), then per batch opt.reset_grad(), loss.backward(), opt.step()"


def metrics(result, count, what):
    """The numbers that ``what`` returned, as floats."""
    names = "(error rate, average loss)" if count == 2 else "(train error, train loss, test error, test loss)"
    assert isinstance(result, (tuple, list)) and len(result) == count, f"{what} should return {names}, got {result!r}"
    values = []
    for value in result:
        array = value.numpy() if isinstance(value, ndl.Tensor) else np.asarray(value)
        assert array.size == 1 and array.dtype.kind in "biuf", f"{what} should return {names} as numbers, got {result!r}"
        values.append(float(array.reshape(())))
    return values


def check_epoch(result, what, error_tol="training", loss_tol="training"):
    error, loss = metrics(result, 2, what)
    check(error, what=f"the error rate of {what}", tol=error_tol, hint=ERROR_HINT)
    check(loss, what=f"the average loss of {what}", tol=loss_tol, hint=AVERAGE_HINT)


def check_parameters(model, what, tol=None, hint=ARCHITECTURE_HINT):
    params = model.parameters()
    observe(len(params), what=f"the number of parameters of {what}",
            hint="each Linear has a weight and a bias, each norm layer a weight and a bias")
    for i, p in enumerate(params):
        check(p, what=f"parameter {i} (shape {tuple(p.shape)}) of {what}", tol=tol, hint=hint)


def modules_in_mode(model, training):
    """How many of the model's modules are in training mode (``training``) or not."""
    return sum(bool(m.training) == training for m in all_modules(model))


COUNT_CASES = [
    ("ResidualBlock-15-2-BN", lambda: ResidualBlock(15, 2, norm=nn.BatchNorm1d)),
    ("ResidualBlock-784-100-LN", lambda: ResidualBlock(784, 100, norm=nn.LayerNorm1d)),
    ("MLPResNet-150-100-5blocks-10-LN", lambda: MLPResNet(150, 100, num_blocks=5, num_classes=10, norm=nn.LayerNorm1d)),
    ("MLPResNet-10-100-1block-100-BN", lambda: MLPResNet(10, 100, num_blocks=1, num_classes=100, norm=nn.BatchNorm1d)),
]


@pytest.mark.parametrize("build", [in_behaviour(c[0].split("-")[0], c[1], id=c[0]) for c in COUNT_CASES])
def test_parameter_counts(build):
    seed_global(0)
    model = build()
    observe(sum(int(np.prod(p.shape)) for p in model.parameters()), what="the number of parameter values",
            hint="check the layer sizes (the block's hidden width is hidden_dim // 2 inside MLPResNet) and that norm "
            "layers contribute only weight and bias")
    check_parameters(model, "the freshly seeded model")


# --- seeded forwards ---------------------------------------------------------


FORWARD_CASES = [
    # (id, batch, builder args, is_block)
    ("ResidualBlock-15-10-LN-p0.5", 3, (15, 10, nn.LayerNorm1d, 0.5), True),
    ("ResidualBlock-8-6-BN-p0.2", 4, (8, 6, nn.BatchNorm1d, 0.2), True),
    ("MLPResNet-10-5-2blocks-5-LN-p0.5", 2, (10, 5, 2, 5, nn.LayerNorm1d, 0.5), False),
    ("MLPResNet-15-25-5blocks-14-BN-p0", 8, (15, 25, 5, 14, nn.BatchNorm1d, 0.0), False),  # BatchNorm over 8 rows: well conditioned
]


@pytest.mark.parametrize("batch, args, is_block",
                         [in_behaviour(c[0].split("-")[0], *c[1:], id=c[0]) for c in FORWARD_CASES])
def test_seeded_training_forward_matches_numpy(batch, args, is_block):
    x = rng(batch).standard_normal((batch, args[0])).astype(np.float32)
    seed_global(2)
    model = ResidualBlock(*args) if is_block else MLPResNet(*args)
    name = "ResidualBlock" if is_block else "MLPResNet"
    check(model(ndl.Tensor(x)), what=f"seeded {name}{args} training forward of a {x.shape} input",
          hint=ARCHITECTURE_HINT + "; in training mode each Dropout draws its mask after the weights")


# --- epoch -------------------------------------------------------------------


def synthetic_loader(batch_size=100):
    """250 rows (batches of 100, 100 and 50); the last 50 rows are scaled up, so
    their losses differ and a mean of batch means differs from the sample mean."""
    X, y = synthetic_classification(250, 20, 4, seed=7, loud=50, factor=6)
    return ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), batch_size), X, y


@pytest.mark.behaviour("epoch")
def test_epoch_without_optimizer_evaluates_over_samples_and_changes_nothing():
    loader, X, _ = synthetic_loader()
    seed_global(0)
    model = MLPResNet(20, 16, num_blocks=1, num_classes=4, drop_prob=0.5)
    for _ in range(2):  # give the BatchNorm layers non-trivial running statistics
        model(ndl.Tensor(X[:100]))
    before = [p.numpy().copy() for p in model.parameters()]
    result = epoch(loader, model)
    observe(np.array([bool((p.numpy() == old).all()) for p, old in zip(model.parameters(), before)]),
            what="each parameter unchanged by epoch(loader, model) without an optimizer",
            hint="without an optimizer epoch only evaluates: no step, no update")
    check_epoch(result, "epoch(loader, model) over 250 samples in batches of 100, 100, 50 (evaluation)")


@pytest.mark.behaviour("epoch")
def test_epoch_sets_eval_mode_without_optimizer_and_train_mode_with_one():
    loader, _, _ = synthetic_loader()
    seed_global(0)
    model = MLPResNet(20, 16, num_blocks=2, num_classes=4)
    model.train()
    result = epoch(loader, model)
    observe(modules_in_mode(model, training=True), what="the number of modules still training after epoch(loader, model)",
            hint="without an optimizer epoch must call model.eval() itself")
    check_epoch(result, "an evaluation epoch of a model left in train mode")
    model.eval()
    result = epoch(loader, model, ndl.optim.SGD(model.parameters(), lr=0.01))
    observe(modules_in_mode(model, training=False),
            what="the number of modules not training after epoch(loader, model, opt)",
            hint="with an optimizer epoch must call model.train() itself")
    check_epoch(result, "a training epoch with SGD(lr=0.01) of a model left in eval mode")
    check_parameters(model, "the model after a training epoch with SGD(lr=0.01)", tol="training", hint=STEP_HINT)


# --- MNIST's shape -------------------------------------------------------------


@pytest.mark.mnist
@pytest.mark.behaviour("epoch")
def test_course_eval_epoch_on_t10k(mnist_dir):
    # The course's published test (hw2's test_mlp_eval_epoch_1), model left in train mode.  The
    # model is built first: neither the dataset nor the loader draws random numbers.
    seed_global(1)
    model = MLPResNet(784, 10)
    dataset = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    loader = ndl.data.DataLoader(dataset, 150)
    check_epoch(epoch(loader, model), "epoch(t10k loader in batches of 150, MLPResNet(784, 10))")


@pytest.mark.behaviour("epoch")
def test_two_sgd_training_epochs_on_mnist_shaped_data():
    # 1000 drawn rows of MNIST's shape (not t10k's pixels: the test never decodes MNIST).
    X, y = mnist_like(1000, seed=3)
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y), 100)
    seed_global(0)
    model = MLPResNet(784, 64, num_blocks=2)
    # SGD, not Adam: Adam's per-value normalization turns rounding noise in tiny gradients into
    # whole steps, so two correct implementations' Adam-trained weights need not agree
    opt = ndl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.001)
    model.eval()
    check_epoch(epoch(loader, model, opt), "the first training epoch with SGD over 1000 rows in batches of 100")
    # After ten steps, rounding in another (correct) summation order has moved the weights a little: a
    # sample whose two best classes were nearly tied may flip, so the second epoch's error rate and the
    # weights are compared as a training run's result
    check_epoch(epoch(loader, model, opt), "the second training epoch with SGD over 1000 rows in batches of 100",
                error_tol="trained")
    check_parameters(model, "the model after two SGD epochs", tol="trained", hint=STEP_HINT)


@pytest.mark.behaviour("train_mnist")
def test_train_mnist_on_small_files(tmp_path):
    mnist_like_files(tmp_path, {"train": 1050, "t10k": 1000}, seed=4)
    # A small step, as the course's test_mlp_train_mnist_1: two correct implementations' runs then stay
    # within the training tolerance (at larger steps, rounding in another summation order grows over the run)
    kwargs = dict(batch_size=100, epochs=2, optimizer=ndl.optim.SGD, lr=0.001, weight_decay=0.01, hidden_dim=32)
    result = train_mnist(**kwargs, data_dir=str(tmp_path))
    what = f"train_mnist({kwargs}) on 1050 training and 1000 test images"
    hint = ("np.random.seed(4); MLPResNet(784, hidden_dim); optimizer(params, lr=lr, weight_decay=weight_decay); "
            "epochs over a shuffled train loader (the last epoch's numbers), then one evaluation epoch on the test files")
    names = ("train error", "train loss", "test error", "test loss")
    for name, value in zip(names, metrics(result, 4, what)):
        check(value, what=f"the {name} of {what}", tol="training", hint=hint)
