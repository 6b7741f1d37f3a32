"""The reference's given (non-TODO) behaviour of the apps, ``needle.nn``,
``needle.optim`` and ``needle.data``: what the handout hands out ready-made,
so that the public suite cannot test it (a public test must fail on the
untouched handout with its own question's TODO).

Input validation and its messages (SoftmaxLoss, softmax_loss, the modules'
input checks, Dropout's p, the optimizers' arguments, DataLoader's batch
size), NDArrayDataset, Dataset.apply_transforms, DataLoader.__len__,
Module.parameters()/train()/eval() through attributes, lists, tuples and
dicts, and the apps' one-line error when the MNIST files are missing.  Some
tests go through TODO code of the reference, so this suite runs on the
reference only (``--needle-root reference``, the default).
"""
import subprocess
import sys

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from simple_ml import softmax_loss
from tests.numpy_checks import assert_close


def zeros(*shape):
    return ndl.Tensor(np.zeros(shape, dtype=np.float32))


def parameter(*shape):
    return nn.Parameter(np.ones(shape, dtype=np.float32))


# --------------------------------------------------------------------------
# Loss validation
# --------------------------------------------------------------------------

BAD_SHAPES = [
    ("classes-differ", (4, 10), (4, 9)),
    ("batch-differs", (4, 10), (5, 10)),
    ("one-dimensional", (10,), (10,)),
    ("three-dimensional", (2, 3, 4), (2, 3, 4)),
]


@pytest.mark.parametrize("z_shape, y_shape", [c[1:] for c in BAD_SHAPES], ids=[c[0] for c in BAD_SHAPES])
def test_softmax_loss_rejects_bad_shapes_naming_both(z_shape, y_shape):
    with pytest.raises(ValueError) as excinfo:
        softmax_loss(zeros(*z_shape), zeros(*y_shape))
    message = str(excinfo.value)
    assert str(z_shape) in message and str(y_shape) in message, (
        f"softmax_loss({z_shape}, {y_shape}) should name both shapes; got {message!r}"
    )


@pytest.mark.parametrize(
    "y, shown",
    [
        (ndl.Tensor(np.zeros(5, dtype=np.int64)), "(5,)"),
        (ndl.Tensor(np.zeros((4, 1), dtype=np.int64)), "(4, 1)"),
        (ndl.Tensor(np.zeros((4, 10), dtype=np.float32)), "(4, 10)"),
        (np.zeros(4, dtype=np.int64), "ndarray"),
    ],
    ids=["batch-differs", "column", "one-hot", "numpy-labels"],
)
def test_softmax_loss_module_rejects_labels_of_the_wrong_shape(y, shown):
    with pytest.raises(ValueError) as excinfo:
        nn.SoftmaxLoss()(zeros(4, 10), y)
    message = str(excinfo.value)
    assert "(4,)" in message and shown in message, (
        f"SoftmaxLoss given labels {shown} for 4 logits rows should name the expected shape (4,) and what "
        f"came; got {message!r}"
    )


def test_softmax_loss_module_rejects_logits_that_are_not_2d_or_not_a_tensor():
    with pytest.raises(ValueError, match=r"2-D.*\(10,\)"):
        nn.SoftmaxLoss()(zeros(10), ndl.Tensor(np.zeros(10, dtype=np.int64)))
    with pytest.raises(TypeError, match="ndarray"):
        nn.SoftmaxLoss()(np.zeros((4, 10)), ndl.Tensor(np.zeros(4, dtype=np.int64)))


# --------------------------------------------------------------------------
# Modules' input checks and constructor arguments
# --------------------------------------------------------------------------

def test_linear_rejects_a_wrong_input_width_naming_both():
    layer = nn.Linear(10, 5)
    with pytest.raises(ValueError) as excinfo:
        layer(zeros(3, 7))
    message = str(excinfo.value)
    assert "10" in message and "(3, 7)" in message, (
        f"Linear(10, 5) given a (3, 7) input should raise a ValueError naming in_features=10 and the "
        f"shape (3, 7); got {message!r}"
    )


@pytest.mark.parametrize("norm", [nn.BatchNorm1d, nn.LayerNorm1d], ids=lambda n: n.__name__)
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (4,)], ids=["wrong-width", "3d", "1d"])
def test_norm_layers_reject_inputs_of_the_wrong_shape_naming_it(norm, shape):
    with pytest.raises(ValueError) as excinfo:
        norm(4)(zeros(*shape))
    message = str(excinfo.value)
    assert norm.__name__ in message and str(shape) in message, (
        f"{norm.__name__}(4) given a {shape} input should raise a ValueError naming the layer and the shape; "
        f"got {message!r}"
    )
    if shape == (3, 5):
        assert "4" in message, f"the message should name the expected dim 4; got {message!r}"


@pytest.mark.parametrize("make", [lambda: nn.Linear(3, 2), lambda: nn.BatchNorm1d(3), lambda: nn.LayerNorm1d(3)],
                         ids=["Linear", "BatchNorm1d", "LayerNorm1d"])
def test_modules_reject_an_input_that_is_not_a_tensor(make):
    with pytest.raises(TypeError, match="ndarray"):
        make()(np.zeros((2, 3), dtype=np.float32))


@pytest.mark.parametrize("p", [1.5, 1.0, -0.1])
def test_dropout_rejects_a_probability_outside_0_1(p):
    with pytest.raises(ValueError) as excinfo:
        nn.Dropout(p=p)
    assert f"p={p}" in str(excinfo.value), f"Dropout(p={p}) should name the value; got {str(excinfo.value)!r}"


def test_identity_returns_its_input():
    x = zeros(2, 3)
    assert nn.Identity()(x) is x


# --------------------------------------------------------------------------
# Module.parameters(), train() and eval()
# --------------------------------------------------------------------------

class Leaf(nn.Module):
    def __init__(self, *shapes):
        super().__init__()
        self.params = [parameter(*s) for s in shapes]


class Holder(nn.Module):
    """Parameters and modules in attributes, lists, tuples and dicts, next to
    plain Tensors and other values that are not parameters."""

    def __init__(self):
        super().__init__()
        self.first = parameter(2)
        self.plain = ndl.Tensor(np.ones(3, dtype=np.float32))
        self.layers = [Leaf((3,), (1, 3)), (parameter(4), nn.Sequential(Leaf((5,))))]
        self.named = {"z": Leaf((6,)), "a": parameter(7), "skip": "not a module", "n": 3}
        self.last = nn.Sequential(nn.Identity(), Leaf((8,), (9,)))


def test_parameters_are_found_through_lists_tuples_and_dicts_in_insertion_order():
    m = Holder()
    expected = [m.first, *m.layers[0].params, m.layers[1][0], *m.layers[1][1].modules[0].params,
                *m.named["z"].params, m.named["a"], *m.last.modules[1].params]
    got = m.parameters()
    assert [p.shape for p in got] == [p.shape for p in expected], (
        f"parameters() should list the Parameters in attribute insertion order, descending into modules, "
        f"lists, tuples and dicts and skipping plain Tensors; got shapes {[p.shape for p in got]}"
    )
    assert all(a is b for a, b in zip(got, expected)), "parameters() should return the Parameters themselves"
    assert nn.Sequential().parameters() == [] and nn.Identity().parameters() == []


def test_train_and_eval_reach_every_nested_module():
    m = Holder()
    modules = [m, *m.layers[::2], m.layers[1][1], m.layers[1][1].modules[0], m.named["z"], m.last, *m.last.modules]
    assert all(x.training for x in modules), "modules start in training mode"
    m.eval()
    assert not [type(x).__name__ for x in modules if x.training], "eval() should reach every nested module"
    m.train()
    assert all(x.training for x in modules), "train() should reach every nested module"


# --------------------------------------------------------------------------
# Optimizers' arguments
# --------------------------------------------------------------------------

OPTIMIZERS = [ndl.optim.SGD, ndl.optim.Adam]


@pytest.mark.parametrize("opt_class", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizer_rejects_a_parameter_that_is_not_a_tensor(opt_class):
    with pytest.raises(TypeError) as excinfo:
        opt_class([parameter(2), np.ones(2, dtype=np.float32)])
    message = str(excinfo.value)
    assert "ndarray" in message and "index 1" in message, (
        f"{opt_class.__name__} given an ndarray at index 1 should say so; got {message!r}"
    )


BAD_HYPERPARAMETERS = [
    (ndl.optim.SGD, "lr", -0.1),
    (ndl.optim.SGD, "momentum", 1.0),
    (ndl.optim.SGD, "momentum", -0.5),
    (ndl.optim.SGD, "weight_decay", -0.01),
    (ndl.optim.Adam, "lr", -0.001),
    (ndl.optim.Adam, "beta1", 1.0),
    (ndl.optim.Adam, "beta2", 1.5),
    (ndl.optim.Adam, "eps", -1e-8),
    (ndl.optim.Adam, "weight_decay", -0.3),
]


@pytest.mark.parametrize("opt_class, name, value", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{n}={v:g}" for c, n, v in BAD_HYPERPARAMETERS])
def test_optimizer_rejects_bad_hyperparameters_naming_the_value(opt_class, name, value):
    with pytest.raises(ValueError) as excinfo:
        opt_class([parameter(2)], **{name: value})
    message = str(excinfo.value)
    assert name in message and f"{value:g}" in message, (
        f"{opt_class.__name__}({name}={value}) should raise a ValueError naming {name} and {value:g}; "
        f"got {message!r}"
    )


@pytest.mark.parametrize("opt_class", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizer_rejects_a_hyperparameter_that_is_not_a_number(opt_class):
    with pytest.raises(TypeError, match="lr"):
        opt_class([parameter(2)], lr="0.1")


@pytest.mark.parametrize("opt_class", OPTIMIZERS, ids=lambda c: c.__name__)
def test_hyperparameters_become_python_floats_and_params_a_list(opt_class):
    params = (parameter(2), parameter(3))
    opt = opt_class(iter(params), lr=np.float64(0.5), weight_decay=np.float32(0.25))
    assert type(opt.lr) is float and type(opt.weight_decay) is float, (
        "hyperparameters are stored as Python floats, so float32 parameters stay float32"
    )
    assert isinstance(opt.params, list) and all(a is b for a, b in zip(opt.params, params))


def test_reset_grad_clears_every_gradient():
    params = [parameter(2), parameter(3)]
    opt = ndl.optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = ndl.Tensor(np.ones(p.shape, dtype=np.float32))
    opt.reset_grad()
    assert all(p.grad is None for p in params)


# --------------------------------------------------------------------------
# Datasets and the DataLoader
# --------------------------------------------------------------------------

def test_ndarray_dataset_items_and_len():
    X = (np.arange(7)[:, None, None] + np.random.default_rng(0).standard_normal((3, 2))).astype(np.float32)
    y = np.arange(7)
    ds = ndl.data.NDArrayDataset(X, y)
    assert len(ds) == 7, f"len(NDArrayDataset) should be 7, got {len(ds)}"
    x3, y3 = ds[3]
    assert_close(x3, X[3], what="NDArrayDataset[3][0]")
    assert y3 == y[3], f"NDArrayDataset[3][1] should be {y[3]}, got {y3!r}"
    xs, ys = ds[np.array([6, 0, 2])]
    assert_close(xs, X[[6, 0, 2]], what="NDArrayDataset[index array][0]")
    assert_close(ys, y[[6, 0, 2]], what="NDArrayDataset[index array][1]")
    xs, ys = ds[2:5]
    assert_close(xs, X[2:5], what="NDArrayDataset[2:5][0]")
    (single,) = ndl.data.NDArrayDataset(X)[1]
    assert_close(single, X[1], what="a one-array NDArrayDataset's item")


def test_ndarray_dataset_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"\[3, 4\]"):
        ndl.data.NDArrayDataset(np.zeros(3), np.zeros(4))


def test_apply_transforms_applies_them_in_list_order():
    ds = ndl.data.Dataset(transforms=[lambda x: x + 1, lambda x: x * 10])
    assert_close(ds.apply_transforms(np.array([1.0, 2.0])), np.array([20.0, 30.0]), what="apply_transforms")
    assert_close(ndl.data.Dataset().apply_transforms(np.array([1.0])), np.array([1.0]),
                 what="apply_transforms without transforms")


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, None, "4"], ids=repr)
def test_dataloader_rejects_a_batch_size_that_is_not_a_positive_int(batch_size):
    with pytest.raises(ValueError) as excinfo:
        ndl.data.DataLoader(ndl.data.NDArrayDataset(np.zeros(5)), batch_size)
    assert repr(batch_size) in str(excinfo.value), (
        f"DataLoader(batch_size={batch_size!r}) should name the value; got {str(excinfo.value)!r}"
    )


@pytest.mark.parametrize("n, batch_size, batches", [(20, 5, 4), (23, 5, 5), (7, 50, 1), (1, 1, 1), (0, 3, 0)])
@pytest.mark.parametrize("shuffle", [False, True], ids=["sequential", "shuffled"])
def test_dataloader_len_is_the_number_of_batches(n, batch_size, batches, shuffle):
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(np.zeros(n)), batch_size, shuffle=shuffle)
    assert len(loader) == batches, f"len(DataLoader) of {n} items in batches of {batch_size}: {len(loader)}"


def test_read_mnist_names_a_missing_file_and_mnist_fetch(tmp_path):
    missing = tmp_path / "train-images-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError) as excinfo:
        ndl.data.read_mnist(missing, tmp_path / "train-labels-idx1-ubyte.gz")
    message = str(excinfo.value)
    assert str(missing) in message and "mnist_fetch.py" in message, message


# --------------------------------------------------------------------------
# The apps' command lines
# --------------------------------------------------------------------------

@pytest.mark.parametrize("app", ["simple_ml.py", "mlp_resnet.py"])
def test_app_without_mnist_files_exits_1_with_a_one_line_error(app, needle_root, tmp_path):
    missing = tmp_path / "nonexistent"
    result = subprocess.run(
        [sys.executable, str(needle_root / "apps" / app), "--data-dir", str(missing)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, f"{app} exited {result.returncode}; stderr: {result.stderr}"
    assert "Traceback" not in result.stderr, f"{app} printed a traceback:\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (
        f"{app} should print one 'error: ...' line on stderr; got {result.stderr!r}"
    )
    assert str(missing) in lines[0] and "train-images-idx3-ubyte.gz" in lines[0], (
        f"{app}'s error should name the missing file; got {lines[0]!r}"
    )
    assert "mnist_fetch.py" in lines[0], f"{app}'s error should say to run mnist_fetch.py; got {lines[0]!r}"
    assert result.stdout == "", f"{app} printed on stdout before failing: {result.stdout!r}"
