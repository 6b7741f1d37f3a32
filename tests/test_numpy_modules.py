"""The kit's proof that the reference's ``needle.nn`` layers give what the
modules suites ask for: NumPy formulas (the course's API reference 1.5, 3.1 and 4), the
replayed draws of Linear and Dropout, closed-form and central-difference
gradients, the course's published values (Linear's bias, Dropout's output,
learn_model_1d's losses), and the structure facts the suites observe.

The suites themselves hold no expected value: they hand over what the
layers computed and the grader compares it with the reference's.  The case
tables below are those of the public and hidden suites, merged.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests.numpy_checks import TOL, all_modules, assert_close, check_gradient, train_on_batches
from tests.numpy_reference import (
    affine, course_1d_batches, get_int_tensor, get_tensor, kaiming_uniform_expected, norm_input_gradient, np_softmax,
    numpy_layernorm, randn, rng_state_equal, softmax_loss_value, tensor,
)


def set_affine(layer, dim, seed, dtype="float32"):
    w, b = affine(dim, seed)
    layer.weight.data, layer.bias.data = tensor(w, dtype), tensor(b, dtype)
    return w, b


def numpy_batchnorm(x, w, b, eps, mean=None, var=None):
    """BatchNorm's forward with the batch statistics (biased variance), or the given ones."""
    x = x.astype(np.float64)
    mean = x.mean(axis=0) if mean is None else mean
    var = x.var(axis=0) if var is None else var
    return (x - mean) / np.sqrt(var + eps) * w + b


# --- Linear ------------------------------------------------------------------

LINEAR_SEEDS = [(7, 4, 1337), (10, 5, 199), (3, 8, 0), (9, 5, 2024), (12, 3, 77), (1, 6, 31)]


@pytest.mark.parametrize("fan_in, fan_out, seed", LINEAR_SEEDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_linear_draws_weight_then_bias_with_kaiming_uniform(fan_in, fan_out, seed, bias):
    np.random.seed(seed)
    weight_draw = np.random.rand(fan_in, fan_out)
    bias_draw = np.random.rand(fan_out, 1) if bias else None
    state_after = np.random.get_state()
    np.random.seed(seed)
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    assert rng_state_equal(np.random.get_state(), state_after), "Linear draws once for the weight, once for a bias"
    assert_close(layer.weight, kaiming_uniform_expected(weight_draw, fan_in).astype(np.float32), what="weight")
    params = layer.parameters()
    assert all(isinstance(p, nn.Parameter) for p in params)
    if bias:
        assert_close(layer.bias, kaiming_uniform_expected(bias_draw, fan_out).reshape(1, fan_out).astype(np.float32),
                     what="bias")
        assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias
    else:
        assert len(params) == 1 and params[0] is layer.weight


def test_linear_course_bias_value():
    np.random.seed(1337)
    assert_close(nn.Linear(7, 4).bias, np.array([[0.077647, 0.814139, -0.770975, 1.120297]], dtype=np.float32),
                 what="Linear(7, 4).bias under seed 1337 (course value)")


@pytest.mark.parametrize("x_shape", [(1, 10), (3, 10), (1, 3, 10), (2, 4, 10), (6, 10), (2, 3, 10)],
                         ids=lambda s: "x".join(map(str, s)))
def test_linear_forward_and_float32_gradients(x_shape):
    np.random.seed(199)
    layer = nn.Linear(10, 5)
    W, b = layer.weight.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    x, upstream = randn(*x_shape, seed=2), randn(*x_shape[:-1], 5, seed=3)
    xt = tensor(x)
    out = layer(xt)
    assert_close(out, (x @ W + b).astype(np.float32), tol=TOL["float32"], what="Linear forward")
    out.backward(tensor(upstream, requires_grad=False))
    flat_x, flat_g = x.reshape(-1, 10).astype(np.float64), upstream.reshape(-1, 5).astype(np.float64)
    assert_close(xt.grad, (upstream @ W.T).astype(np.float32), tol=TOL["float32"], what="input gradient")
    assert_close(layer.weight.grad, (flat_x.T @ flat_g).astype(np.float32), tol=TOL["float32"], what="weight.grad")
    assert_close(layer.bias.grad, flat_g.sum(axis=0, keepdims=True).astype(np.float32), tol=TOL["float32"],
                 what="bias.grad")


def test_linear_with_a_one_dimensional_bias_and_no_bias():
    np.random.seed(199)
    layer = nn.Linear(10, 5)
    layer.bias.data = get_tensor(5)
    x = get_tensor(3, 10)
    assert_close(layer(x), x.numpy() @ layer.weight.numpy() + layer.bias.numpy().reshape(1, 5), tol=TOL["float32"],
                 what="Linear with a (5,) bias")
    layer = nn.Linear(5, 2, bias=False)
    x = randn(4, 5, seed=1)
    assert_close(layer(tensor(x)), x @ layer.weight.numpy(), tol=TOL["float32"], what="Linear(bias=False)")


@pytest.mark.parametrize("square", [False, True], ids=["linear", "linear-squared"])
def test_linear_float64_gradients(square):
    np.random.seed(5)
    layer = nn.Linear(4, 3, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    f = (lambda x: layer(x) * layer(x)) if square else layer
    check_gradient(f, tensor(randn(2, 4, seed=6, dtype=np.float64), "float64"))
    x, C = randn(2, 4, seed=6, dtype=np.float64), randn(2, 3, seed=5, dtype=np.float64)
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(C, "float64", requires_grad=False))
    W = layer.weight.numpy()
    assert_close(xt.grad, C @ W.T, what="input gradient")
    assert_close(layer.weight.grad, x.T @ C, what="weight.grad")
    assert_close(layer.bias.grad, C.sum(axis=0, keepdims=True), what="bias.grad")


# --- Flatten, ReLU, Sequential, Residual -------------------------------------

FLATTEN_SHAPES = [(3, 3), (3, 3, 3), (1, 2, 3, 4), (3, 3, 4, 4), (2, 1, 3, 2, 2, 2), (2, 3, 1, 2, 2, 3), (4, 1, 5),
                  (1, 7), (3, 2, 2, 2, 2)]


@pytest.mark.parametrize("shape", FLATTEN_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_flatten_forward_and_gradient(shape):
    x = randn(*shape, seed=len(shape))
    xt = tensor(x)
    out = nn.Flatten()(xt)
    assert_close(out, x.reshape(shape[0], -1), what="Flatten")
    out.backward(tensor(np.arange(x.size, dtype=np.float32).reshape(shape[0], -1), requires_grad=False))
    assert_close(xt.grad, np.arange(x.size, dtype=np.float32).reshape(shape), what="Flatten input gradient")


def test_relu_sequential_residual_and_parameter_order():
    x = randn(4, 6, seed=7)
    x[0, :3] = 0.0
    assert_close(nn.ReLU()(tensor(x)), np.maximum(x, 0), what="ReLU")
    assert_close(nn.Sequential()(tensor(x)), x, what="empty Sequential")
    np.random.seed(21)
    first, inner, last = nn.Linear(3, 5), nn.Linear(5, 5), nn.Linear(5, 2)
    model = nn.Sequential(first, nn.ReLU(), nn.Residual(nn.Sequential(inner, nn.ReLU())), last)
    x = randn(4, 3, seed=22, scale=2.0)
    h = np.maximum(x @ first.weight.numpy() + first.bias.numpy(), 0)
    h = np.maximum(h @ inner.weight.numpy() + inner.bias.numpy(), 0) + h
    assert_close(model(tensor(x)), h @ last.weight.numpy() + last.bias.numpy(), tol=TOL["float32"],
                 what="Sequential(Linear, ReLU, Residual, Linear)")
    params = model.parameters()
    expected = [first.weight, first.bias, inner.weight, inner.bias, last.weight, last.bias]
    assert len(params) == 6 and all(a is b for a, b in zip(params, expected))


# --- SoftmaxLoss -------------------------------------------------------------

SOFTMAX_CASES = [(5, 10, "int64", 2.0), (3, 11, "uint8", 2.0), (8, 4, "int32", 2.0), (6, 9, "int64", 1.0),
                 (12, 5, "uint8", 3.0), (1, 4, "int32", 1.0), (7, 3, "int64", 200.0)]


@pytest.mark.parametrize("m, k, label_dtype, scale", SOFTMAX_CASES)
def test_softmax_loss_value_and_gradient(m, k, label_dtype, scale):
    Z = randn(m, k, seed=m, scale=scale)
    y = np.random.default_rng(k).integers(0, k, size=m).astype(label_dtype)
    logits = tensor(Z)
    loss = nn.SoftmaxLoss()(logits, ndl.Tensor(y, requires_grad=False))
    assert_close(np.asarray(loss.numpy()), np.float32(softmax_loss_value(Z, y.astype(np.int64))), tol=TOL["float32"],
                 what="SoftmaxLoss")
    loss.backward()
    onehot = np.eye(k)[y.astype(np.int64)]
    assert_close(logits.grad, ((np_softmax(Z) - onehot) / m).astype(np.float32), tol=TOL["float32"],
                 what="d SoftmaxLoss / d logits")


# --- BatchNorm1d -------------------------------------------------------------

NORM_CASES = [(6, 4, 1e-5, 1.0), (5, 3, 1e-5, 0.01), (4, 5, 0.5, 1.0), (7, 6, 0.2, 0.8)]


@pytest.mark.parametrize("n, dim, eps, scale", NORM_CASES)
def test_batchnorm_training_forward_and_float32_gradient(n, dim, eps, scale):
    x = randn(n, dim, seed=n, scale=scale) + 3 * scale
    layer = nn.BatchNorm1d(dim, eps=eps)
    w, b = set_affine(layer, dim, n)
    xt = tensor(x)
    out = layer(xt)
    assert_close(out, numpy_batchnorm(x, w, b, eps).astype(np.float32), tol=TOL["float32"], what="training forward")
    upstream = randn(n, dim, seed=3)
    out.backward(tensor(upstream, requires_grad=False))
    assert_close(xt.grad, norm_input_gradient(x, w, upstream, eps, axis=0).astype(np.float32), tol=TOL["float32"],
                 what="input gradient")
    x_hat = numpy_batchnorm(x, 1.0, 0.0, eps)
    assert_close(layer.weight.grad, (upstream * x_hat).sum(axis=0).astype(np.float32), tol=TOL["float32"],
                 what="weight.grad")
    assert_close(layer.bias.grad, upstream.astype(np.float64).sum(axis=0).astype(np.float32), tol=TOL["float32"],
                 what="bias.grad")


@pytest.mark.parametrize("momentum", [0.1, 0.35, 0.2, 0.05, 0.6])
def test_batchnorm_running_stats_then_eval(momentum):
    eps = 0.05
    layer = nn.BatchNorm1d(4, eps=eps, momentum=momentum)
    w, b = set_affine(layer, 4, 9)
    running_mean, running_var = np.zeros(4), np.ones(4)
    for i in range(8):
        x = (randn(5, 4, seed=200 + i, scale=0.5 + i / 2) + (i % 3) - 1).astype(np.float64)
        layer(tensor(x))
        running_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=0)
        running_var = (1 - momentum) * running_var + momentum * x.var(axis=0)
    assert_close(layer.running_mean, running_mean.astype(np.float32), tol=TOL["float32"], what="running_mean")
    assert_close(layer.running_var, running_var.astype(np.float32), tol=TOL["float32"], what="running_var")
    layer.eval()
    x = randn(3, 4, seed=60)
    xt = tensor(x)
    out = layer(xt)
    assert_close(out, numpy_batchnorm(x, w, b, eps, running_mean, running_var).astype(np.float32), tol=TOL["float32"],
                 what="eval forward")
    out.backward(tensor(np.ones((3, 4), np.float32), requires_grad=False))
    assert_close(xt.grad, np.broadcast_to(w / np.sqrt(running_var + eps), (3, 4)).astype(np.float32),
                 tol=TOL["float32"], what="eval input gradient")
    assert_close(layer.running_mean, running_mean.astype(np.float32), tol=TOL["float32"],
                 what="running_mean after eval")
    assert_close(layer.running_var, running_var.astype(np.float32), tol=TOL["float32"], what="running_var after eval")


@pytest.mark.parametrize("dim", [1, 3, 5, 7, 32])
def test_batchnorm_structure_and_gradients_of_the_sum(dim):
    layer = nn.BatchNorm1d(dim)
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias
    for i in range(3):
        layer(tensor(randn(3, dim, seed=400 + i) * 2)).sum().backward()
    for stat in (layer.running_mean, layer.running_var):
        assert isinstance(stat, ndl.Tensor) and not isinstance(stat, nn.Parameter)
        assert stat.op is None and stat.dtype == np.float32 and stat.shape == (dim,)
    assert_close(layer.weight, np.ones(dim, np.float32), what="weight (init, unchanged by backward)")
    assert_close(layer.bias, np.zeros(dim, np.float32), what="bias (init, unchanged by backward)")
    assert_close(layer.bias.grad, np.full(dim, 3.0, np.float32), what="bias.grad of sum(output)")
    assert_close(layer.weight.grad, np.zeros(dim, np.float32), what="weight.grad of sum(output)")


# --- norm layers in float64: closed forms and central differences -------------

NORM_BACKWARD_CASES = [("BatchNorm1d", 0, 5, 3, 0.1), ("LayerNorm1d", 1, 6, 4, 1e-5), ("LayerNorm1d", 1, 4, 5, 0.5),
                       ("LayerNorm1d", 1, 1, 5, 1e-5), ("LayerNorm1d", 1, 5, 1, 1e-5), ("LayerNorm1d", 1, 3, 3, 1e-5),
                       ("LayerNorm1d", 1, 4, 7, 1e-5), ("LayerNorm1d", 1, 3, 6, 0.3), ("LayerNorm1d", 1, 2, 2, 1.0),
                       ("LayerNorm1d", 1, 5, 9, 0.05)]


@pytest.mark.parametrize("name, axis, n, dim, eps", NORM_BACKWARD_CASES)
def test_norm_layer_float64_gradients(name, axis, n, dim, eps):
    layer = getattr(nn, name)(dim, eps=eps, dtype="float64")
    w, b = set_affine(layer, dim, 30 + dim, "float64")
    x = randn(n, dim, seed=20 + dim, dtype=np.float64) * 0.9 - 0.3
    check_gradient(layer, tensor(x, "float64"), seed=dim)
    C = randn(n, dim, seed=40 + dim, dtype=np.float64)
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(C, "float64", requires_grad=False))
    assert_close(xt.grad, norm_input_gradient(x, w, C, eps, axis=axis), tol=TOL["gradient"], what="input gradient")
    mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    assert_close(layer.weight.grad, (C * x_hat).sum(axis=0), tol=TOL["gradient"], what="weight.grad")
    assert_close(layer.bias.grad, C.sum(axis=0), tol=TOL["gradient"], what="bias.grad")


# --- LayerNorm1d -------------------------------------------------------------

LAYERNORM_CASES = [(6, 4, 1e-5, 1.0), (5, 3, 1e-5, 0.01), (4, 5, 0.5, 1.0), (1, 5, 1e-5, 1.0), (5, 1, 1e-5, 1.0),
                   (3, 3, 1e-5, 1.0), (4, 7, 1e-5, 1.3), (3, 6, 0.3, 1.3), (2, 2, 1.0, 1.3), (5, 9, 0.05, 1.3)]


@pytest.mark.parametrize("n, dim, eps, scale", LAYERNORM_CASES)
def test_layernorm_forward_and_fresh_parameters(n, dim, eps, scale):
    layer = nn.LayerNorm1d(dim, eps=eps)
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias
    assert_close(layer.weight, np.ones(dim, np.float32), what="weight at init")
    assert_close(layer.bias, np.zeros(dim, np.float32), what="bias at init")
    w, b = set_affine(layer, dim, dim)
    x = randn(n, dim, seed=dim, scale=scale) + 2 * scale
    assert_close(layer(tensor(x)), numpy_layernorm(x, w, b, eps).astype(np.float32), tol=TOL["float32"],
                 what="LayerNorm1d forward")


def test_layernorm_of_width_one():
    layer = nn.LayerNorm1d(1)
    layer.bias.data = tensor(np.array([0.75], np.float32))
    xt = tensor(randn(4, 1, seed=8))
    out = layer(xt)
    assert_close(out, np.full((4, 1), 0.75, np.float32), what="LayerNorm1d(1) forward")
    out.backward(tensor(randn(4, 1, seed=9), requires_grad=False))
    assert_close(xt.grad, np.zeros((4, 1), np.float32), what="LayerNorm1d(1) input gradient")


# --- Dropout -----------------------------------------------------------------

DROPOUT_CASES = [(0.45, 3, (6, 7)), (0.26, 4, (6, 7)), (0.8, 5, (6, 7)), (0.3, 17, (5, 8)), (0.6, 8, (9, 4)),
                 (0.15, 123, (3, 2, 5)), (0.0, 7, (3, 8))]


@pytest.mark.parametrize("p, seed, shape", DROPOUT_CASES)
def test_dropout_mask_one_draw_and_gradient(p, seed, shape):
    x = randn(*shape, seed=seed) + 1
    np.random.seed(seed)
    keep = np.random.rand(*shape) <= 1 - p
    state_after = np.random.get_state()
    np.random.seed(seed)
    xt = tensor(x)
    out = nn.Dropout(p)(xt)
    assert rng_state_equal(np.random.get_state(), state_after), "one np.random.rand draw of the input's shape"
    assert_close(out, (x.astype(np.float64) * keep / (1 - p)).astype(np.float32), tol=TOL["float32"], what="Dropout")
    out.backward(tensor(np.full(shape, 2.0, np.float32), requires_grad=False))
    assert_close(xt.grad, (2.0 * keep / (1 - p)).astype(np.float32), tol=TOL["float32"], what="Dropout gradient")


def test_dropout_course_value_and_eval_mode():
    np.random.seed(3)
    assert_close(nn.Dropout(0.45)(get_tensor(2, 3)), np.array([[6.818182, 0, 0], [0.181818, 0, 6.090909]], np.float32),
                 what="Dropout(0.45)(get_tensor(2, 3)) (course value)")
    layer = nn.Dropout(0.7)
    layer.eval()
    x = randn(6, 3, seed=31)
    np.random.seed(5)
    before = np.random.get_state()
    assert_close(layer(tensor(x)), x, what="Dropout in eval mode")
    assert rng_state_equal(np.random.get_state(), before), "Dropout in eval mode draws nothing"


# --- train()/eval() ----------------------------------------------------------

def test_train_and_eval_reach_nested_modules():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = {"drop": nn.Dropout(0.1),
                           "more": [nn.BatchNorm1d(2), (nn.Identity(), nn.Sequential(nn.LayerNorm1d(2)))]}

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Holder(), nn.Residual(nn.Dropout(0.1))), nn.BatchNorm1d(2))
    modules = all_modules(model)
    assert len(modules) == 12 and all(m.training for m in modules)
    model.eval()
    assert not any(m.training for m in modules)
    model.train()
    assert all(m.training for m in modules)
    assert len(model.parameters()) == 2 + 2 + 2 + 2


# --- float32 everywhere ------------------------------------------------------

FLOAT32_MODULES = {
    "Linear": lambda: nn.Linear(4, 4),
    "Linear-no-bias": lambda: nn.Linear(4, 3, bias=False),
    "Flatten": lambda: nn.Flatten(),
    "ReLU": lambda: nn.ReLU(),
    "Sequential": lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 4)),
    "Residual": lambda: nn.Residual(nn.Linear(4, 4)),
    "Residual-LayerNorm": lambda: nn.Residual(nn.LayerNorm1d(4)),
    "BatchNorm1d": lambda: nn.BatchNorm1d(4),
    "LayerNorm1d": lambda: nn.LayerNorm1d(4),
    "Dropout": lambda: nn.Dropout(0.3),
}


@pytest.mark.parametrize("name", list(FLOAT32_MODULES))
def test_float32_in_gives_float32_out_parameters_and_gradients(name):
    np.random.seed(0)
    module = FLOAT32_MODULES[name]()
    x = tensor(randn(5, 4, seed=1))
    out = module(x)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    assert x.grad.dtype == np.float32
    for p in module.parameters():
        assert p.dtype == np.float32 and p.grad is not None and p.grad.dtype == np.float32


# --- the course's learn_model_1d values with norm layers (the course's API reference 9.4) --

def ln_residual():
    nn.LayerNorm1d(8)
    return nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Residual(nn.Linear(8, 8)), nn.Linear(8, 16))


def mlp_batchnorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 16))


def mlp_layernorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.LayerNorm1d(32), nn.Linear(32, 16))


COURSE_CASES = [
    (ln_residual, "SGD", dict(epochs=3, lr=0.01, weight_decay=0.001), 2.852236),
    (mlp_batchnorm, "Adam", dict(lr=0.001, weight_decay=0.001), 3.296256),
    (mlp_batchnorm, "Adam", dict(eval_after=True, lr=0.001, weight_decay=0.001), 3.192054),
    (mlp_layernorm, "Adam", dict(lr=0.01, weight_decay=0.01), 2.82192),
]


@pytest.mark.parametrize("build, opt_name, kwargs, published", COURSE_CASES,
                         ids=["sgd_layernorm_residual", "adam_batchnorm", "adam_batchnorm_eval", "adam_layernorm"])
def test_course_learn_model_1d_values(build, opt_name, kwargs, published):
    kwargs = dict(kwargs)
    epochs, eval_after = kwargs.pop("epochs", 1), kwargs.pop("eval_after", False)
    np.random.seed(42)
    model = build()
    criterion, opt = nn.SoftmaxLoss(), getattr(ndl.optim, opt_name)(model.parameters(), **kwargs)
    loss = train_on_batches(course_1d_batches(), lambda x, y: criterion(model(ndl.Tensor(x)), ndl.Tensor(y)),
                            opt, epochs)
    if eval_after:
        model.eval()
        labels = ndl.Tensor(get_int_tensor(32, high=16).numpy().astype(np.uint8))
        loss = np.asarray(criterion(model(get_tensor(32, 64)), labels).numpy())
    assert_close(loss.reshape(()), np.float32(published), tol=TOL["float32"], what="learn_model_1d last loss")
