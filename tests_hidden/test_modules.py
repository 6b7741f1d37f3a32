"""Hidden tests, question "modules": the ``needle.nn`` layers.

New sizes, seeds and inputs for Linear, Flatten, Sequential, Residual,
SoftmaxLoss, BatchNorm1d, LayerNorm1d, Dropout and train()/eval().  Every
test starts by building the module under test; expected values are computed
here with NumPy from the documented formulas, and seeded values replay the
documented draws under the same seed.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import TOL, assert_close, check_gradient
from tests_public.numpy_reference import (
    affine, kaiming_uniform_expected, norm_input_gradient, np_softmax, numpy_layernorm, randn, rng_state_equal,
    softmax_loss_value, tensor,
)


def ids(cases):
    return [c[0] for c in cases]


def args(cases):
    return [c[1:] if len(c) > 2 else c[1] for c in cases]


# --- Linear ------------------------------------------------------------------

LINEAR_CASES = [("9x5-seed2024", 9, 5, 2024), ("12x3-seed77", 12, 3, 77), ("1x6-seed31", 1, 6, 31)]


@pytest.mark.parametrize("fan_in, fan_out, seed", args(LINEAR_CASES), ids=ids(LINEAR_CASES))
def test_linear_initial_weight_and_bias(fan_in, fan_out, seed):
    """Linear draws its weight, then its bias, each with kaiming_uniform; float32 Parameters of fixed shapes."""
    np.random.seed(seed)
    layer = nn.Linear(fan_in, fan_out)
    state_after = np.random.get_state()
    np.random.seed(seed)
    weight_draw = np.random.rand(fan_in, fan_out)
    bias_draw = np.random.rand(fan_out, 1)
    assert rng_state_equal(state_after, np.random.get_state()), (
        f"Linear({fan_in}, {fan_out}) should make exactly two draws: the weight's, then the bias's"
    )
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias, (
        "Linear.parameters() should be [weight, bias]"
    )
    for p in params:
        assert isinstance(p, nn.Parameter), f"Linear's weight and bias should be nn.Parameters, got {type(p).__name__}"
    hint = ("weight = kaiming_uniform(in_features, out_features) drawn first, then bias = "
            "kaiming_uniform(out_features, 1) reshaped to (1, out_features); both float32")
    assert_close(layer.weight, kaiming_uniform_expected(weight_draw, fan_in).astype(np.float32),
                 what=f"Linear({fan_in}, {fan_out}).weight under seed {seed}", hint=hint)
    assert_close(layer.bias, kaiming_uniform_expected(bias_draw, fan_out).reshape(1, fan_out).astype(np.float32),
                 what=f"Linear({fan_in}, {fan_out}).bias under seed {seed}", hint=hint)


@pytest.mark.parametrize("x_shape", [(6, 9), (1, 9), (2, 3, 9)], ids=lambda s: "x".join(map(str, s)))
def test_linear_forward_and_gradients_in_float32(x_shape):
    """Linear computes x @ weight + bias in float32, and its gradients are float32 too."""
    np.random.seed(4)
    layer = nn.Linear(9, 4)
    W, b = layer.weight.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    x = randn(*x_shape, seed=sum(x_shape))
    upstream = randn(*x_shape[:-1], 4, seed=3)
    xt = tensor(x)
    out = layer(xt)
    assert_close(out, (x.astype(np.float64) @ W + b).astype(np.float32), tol=TOL["float32"],
                 what=f"Linear(9, 4) of a {x_shape} float32 input",
                 hint="x @ weight plus the bias broadcast to the output shape, all float32")
    out.backward(tensor(upstream, requires_grad=False))
    flat_x, flat_g = x.reshape(-1, 9).astype(np.float64), upstream.reshape(-1, 4).astype(np.float64)
    assert_close(xt.grad, (upstream.astype(np.float64) @ W.T).astype(np.float32), tol=TOL["float32"],
                 what="Linear input gradient")
    assert_close(layer.weight.grad, (flat_x.T @ flat_g).astype(np.float32), tol=TOL["float32"],
                 what="Linear weight.grad")
    assert_close(layer.bias.grad, flat_g.sum(axis=0, keepdims=True).astype(np.float32), tol=TOL["float32"],
                 what="Linear bias.grad")


def test_linear_float64_gradient_matches_central_differences():
    """Linear is differentiable end to end: its input gradient matches central differences."""
    np.random.seed(12)
    layer = nn.Linear(5, 7, dtype="float64")
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64, (
        "Linear(dtype='float64') should make float64 parameters"
    )
    check_gradient(lambda x: layer(x) * layer(x), tensor(randn(3, 5, seed=9, dtype=np.float64), "float64"),
                   hint="build Linear's forward from needle ops")


# --- Flatten, Sequential, Residual -------------------------------------------

FLATTEN_SHAPES = [(2, 3, 1, 2, 2, 3), (4, 1, 5), (1, 7), (3, 2, 2, 2, 2)]


@pytest.mark.parametrize("shape", FLATTEN_SHAPES, ids=lambda s: f"{len(s)}d-" + "x".join(map(str, s)))
def test_flatten_keeps_the_first_axis(shape):
    """Flatten keeps the batch axis and joins all the others, in row-major order."""
    layer = nn.Flatten()
    x = randn(*shape, seed=len(shape) + 10)
    xt = tensor(x)
    out = layer(xt)
    assert_close(out, x.reshape(shape[0], -1), what=f"Flatten of shape {shape}")
    out.backward(tensor(np.arange(out.numpy().size, dtype=np.float32).reshape(out.shape), requires_grad=False))
    assert_close(xt.grad, np.arange(x.size, dtype=np.float32).reshape(shape), what="Flatten input gradient")


def test_nested_sequential_with_residuals():
    """Sequential and Residual compose: modules run in order and the residual adds the block's input."""
    np.random.seed(21)
    first, inner, last = nn.Linear(3, 5), nn.Linear(5, 5), nn.Linear(5, 2)
    model = nn.Sequential(first, nn.ReLU(), nn.Residual(nn.Sequential(inner, nn.ReLU())), last)
    x = randn(4, 3, seed=22, scale=2.0)
    h = np.maximum(x @ first.weight.numpy() + first.bias.numpy(), 0)
    h = np.maximum(h @ inner.weight.numpy() + inner.bias.numpy(), 0) + h
    expected = h @ last.weight.numpy() + last.bias.numpy()
    assert_close(model(tensor(x)), expected, tol=TOL["float32"], what="Sequential(Linear, ReLU, Residual, Linear)(x)")
    params = model.parameters()
    expected_params = [first.weight, first.bias, inner.weight, inner.bias, last.weight, last.bias]
    assert len(params) == 6 and all(a is b for a, b in zip(params, expected_params)), (
        "parameters() should list each Linear's weight and bias in module order, reaching into Residual"
    )


# --- SoftmaxLoss -------------------------------------------------------------


SOFTMAX_CASES = [("6x9-int64", 6, 9, "int64", 1.0), ("12x5-uint8", 12, 5, "uint8", 3.0),
                 ("1x4-int32", 1, 4, "int32", 1.0), ("7x3-logits-200", 7, 3, "int64", 200.0)]


@pytest.mark.parametrize("m, k, label_dtype, scale", args(SOFTMAX_CASES), ids=ids(SOFTMAX_CASES))
def test_softmax_loss_value_and_gradient(m, k, label_dtype, scale):
    """SoftmaxLoss is the batch mean of logsumexp(z) - z_y, float32, with gradient (softmax - onehot) / batch."""
    loss_fn = nn.SoftmaxLoss()
    Z = randn(m, k, seed=100 + m, scale=scale)
    y = np.random.default_rng(k + m).integers(0, k, size=m).astype(label_dtype)
    logits = tensor(Z)
    loss = loss_fn(logits, ndl.Tensor(y, requires_grad=False))
    value = np.asarray(loss.numpy())
    assert value.size == 1, f"SoftmaxLoss should return a single value, got shape {value.shape}"
    probs = np_softmax(Z)
    assert_close(value.reshape(()), np.float32(softmax_loss_value(Z, y.astype(np.int64))), tol=TOL["float32"],
                 what=f"SoftmaxLoss of a {m}x{k} batch", hint="mean over the batch of logsumexp(z) - z_y, stably")
    loss.backward()
    onehot = np.eye(k)[y.astype(np.int64)]
    assert_close(logits.grad, ((probs - onehot) / m).astype(np.float32), tol=TOL["float32"],
                 what="d SoftmaxLoss / d logits")


# --- BatchNorm1d -------------------------------------------------------------


def test_batchnorm_training_forward_and_gradient():
    """BatchNorm1d in training normalizes each feature with the batch mean and biased variance, eps inside the sqrt."""
    eps = 0.2
    layer = nn.BatchNorm1d(6, eps=eps)
    w, b = affine(6, 1)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    x = randn(7, 6, seed=2, scale=0.8) - 1.5
    xt = tensor(x)
    out = layer(xt)
    x64 = x.astype(np.float64)
    expected = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + eps) * w + b
    assert_close(out, expected.astype(np.float32), tol=TOL["float32"], what=f"BatchNorm1d(6, eps={eps}) training forward")
    upstream = randn(7, 6, seed=3)
    out.backward(tensor(upstream, requires_grad=False))
    assert_close(xt.grad, norm_input_gradient(x, w, upstream, eps, axis=0).astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d input gradient (float32)")


MOMENTUM_CASES = [("momentum=0.2", 0.2), ("momentum=0.05", 0.05), ("momentum=0.6", 0.6)]


@pytest.mark.parametrize("momentum", args(MOMENTUM_CASES), ids=ids(MOMENTUM_CASES))
def test_batchnorm_running_statistics(momentum):
    """BatchNorm1d's running mean and variance follow the momentum recurrence with the biased batch variance."""
    layer = nn.BatchNorm1d(4, momentum=momentum)
    running_mean, running_var = np.zeros(4), np.ones(4)
    for i in range(8):
        x = randn(5, 4, seed=200 + i, scale=0.5 + i / 2) + (i % 3) - 1
        layer(tensor(x))
        x64 = x.astype(np.float64)
        running_mean = (1 - momentum) * running_mean + momentum * x64.mean(axis=0)
        running_var = (1 - momentum) * running_var + momentum * x64.var(axis=0)
    hint = "running = (1 - momentum) * running + momentum * batch statistic, with the biased batch variance"
    assert_close(layer.running_mean, running_mean.astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d.running_mean after 8 batches", hint=hint)
    assert_close(layer.running_var, running_var.astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d.running_var after 8 batches", hint=hint)


def test_batchnorm_eval_uses_running_statistics():
    """In eval mode BatchNorm1d normalizes with its running statistics and leaves them unchanged."""
    eps = 0.05
    layer = nn.BatchNorm1d(3, eps=eps, momentum=0.3)
    w, b = affine(3, 5)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for i in range(4):
        x = randn(6, 3, seed=300 + i, scale=3.0) + 2.0
        layer(tensor(x))
        x64 = x.astype(np.float64)
        running_mean = 0.7 * running_mean + 0.3 * x64.mean(axis=0)
        running_var = 0.7 * running_var + 0.3 * x64.var(axis=0)
    layer.eval()
    x = randn(2, 3, seed=310)
    xt = tensor(x)
    out = layer(xt)
    expected = (x.astype(np.float64) - running_mean) / np.sqrt(running_var + eps) * w + b
    assert_close(out, expected.astype(np.float32), tol=TOL["float32"], what="BatchNorm1d eval forward",
                 hint="eval mode: (x - running_mean) / sqrt(running_var + eps), then the affine")
    out.backward(tensor(np.ones((2, 3), np.float32), requires_grad=False))
    assert_close(xt.grad, np.broadcast_to(w / np.sqrt(running_var + eps), (2, 3)).astype(np.float32),
                 tol=TOL["float32"], what="BatchNorm1d eval input gradient",
                 hint="in eval mode the running statistics are constants")
    assert_close(layer.running_mean, running_mean.astype(np.float32), tol=TOL["float32"],
                 what="running_mean after an eval forward")
    assert_close(layer.running_var, running_var.astype(np.float32), tol=TOL["float32"],
                 what="running_var after an eval forward")


def test_batchnorm_statistics_are_plain_detached_float32_tensors():
    """BatchNorm1d has exactly two Parameters; its running statistics are detached float32 Tensors."""
    layer = nn.BatchNorm1d(7)
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias, (
        f"BatchNorm1d.parameters() should be [weight, bias], got {len(params)} parameters"
    )
    for i in range(3):
        x = tensor(randn(3, 7, seed=400 + i) * 2)
        layer(x).sum().backward()
    for name in ("running_mean", "running_var"):
        stat = getattr(layer, name)
        assert isinstance(stat, ndl.Tensor) and not isinstance(stat, nn.Parameter), (
            f"BatchNorm1d.{name} should be a plain Tensor (not a Parameter)"
        )
        assert stat.op is None, f"BatchNorm1d.{name} holds a graph; update it from detached values"
        assert stat.dtype == np.float32 and stat.shape == (7,), (
            f"BatchNorm1d(7).{name} should be float32 of shape (7,), got {stat.dtype} {stat.shape}"
        )
    for p, want in zip(params, (np.ones(7, np.float32), np.zeros(7, np.float32))):
        assert_close(p, want, what="a BatchNorm1d parameter (backward alone changes no parameter)")
    # The last backward of sum(output): d/dbias = batch size, d/dweight = sum of x_hat = 0.
    assert_close(layer.bias.grad, np.full(7, 3.0, np.float32), what="BatchNorm1d bias.grad")
    assert_close(layer.weight.grad, np.zeros(7, np.float32), what="BatchNorm1d weight.grad")


# --- LayerNorm1d -------------------------------------------------------------


LAYERNORM_CASES = [("4x7-eps1e-5", 4, 7, 1e-5), ("3x6-eps0.3", 3, 6, 0.3), ("2x2-eps1.0", 2, 2, 1.0),
                   ("5x9-eps0.05", 5, 9, 0.05)]


@pytest.mark.parametrize("n, dim, eps", args(LAYERNORM_CASES), ids=ids(LAYERNORM_CASES))
def test_layernorm_forward(n, dim, eps):
    """LayerNorm1d normalizes each row with its mean and biased variance, eps inside the sqrt."""
    layer = nn.LayerNorm1d(dim, eps=eps)
    w, b = affine(dim, dim + 1)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    x = randn(n, dim, seed=n * dim) * 1.3 + 0.4
    out = layer(tensor(x))
    assert out.dtype == np.float32, f"LayerNorm1d turned float32 into {out.dtype}"
    assert_close(out, numpy_layernorm(x, w, b, eps).astype(np.float32), tol=TOL["float32"],
                 what=f"LayerNorm1d({dim}, eps={eps}) forward")


@pytest.mark.parametrize("n, dim, eps", args(LAYERNORM_CASES), ids=ids(LAYERNORM_CASES))
def test_layernorm_gradient(n, dim, eps):
    """LayerNorm1d's input gradient matches central differences and the closed form."""
    layer = nn.LayerNorm1d(dim, eps=eps, dtype="float64")
    w, b = affine(dim, dim + 2)
    layer.weight.data, layer.bias.data = tensor(w, "float64"), tensor(b, "float64")
    x = randn(n, dim, seed=n + dim, dtype=np.float64) * 0.9 - 0.3
    check_gradient(layer, tensor(x, "float64"), seed=dim, hint="build LayerNorm1d from needle ops")
    upstream = randn(n, dim, seed=50 + dim, dtype=np.float64)
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(upstream, "float64", requires_grad=False))
    assert_close(xt.grad, norm_input_gradient(x, w, upstream, eps, axis=1), tol=TOL["gradient"],
                 what=f"LayerNorm1d({dim}, eps={eps}) input gradient",
                 hint="normalize with sqrt(var + eps): eps inside the sqrt, biased variance")


def test_layernorm_of_width_one_has_zero_input_gradient():
    """A LayerNorm1d over one feature outputs its bias and passes no gradient to the input."""
    layer = nn.LayerNorm1d(1)
    layer.bias.data = tensor(np.array([0.75], np.float32))
    xt = tensor(randn(4, 1, seed=8))
    out = layer(xt)
    assert_close(out, np.full((4, 1), 0.75, np.float32), what="LayerNorm1d(1) forward")
    out.backward(tensor(randn(4, 1, seed=9), requires_grad=False))
    assert_close(xt.grad, np.zeros((4, 1), np.float32), what="LayerNorm1d(1) input gradient")


# --- Dropout -----------------------------------------------------------------

DROPOUT_CASES = [("p=0.3-seed17", 0.3, 17, (5, 8)), ("p=0.6-seed8", 0.6, 8, (9, 4)),
                 ("p=0.15-seed123", 0.15, 123, (3, 2, 5))]


@pytest.mark.parametrize("p, seed, shape", args(DROPOUT_CASES), ids=ids(DROPOUT_CASES))
def test_dropout_mask_and_scaling(p, seed, shape):
    """Training Dropout makes one uniform draw of the input's shape, keeps values where it is <= 1 - p, and rescales them."""
    layer = nn.Dropout(p)
    x = randn(*shape, seed=seed) + 2.0
    np.random.seed(seed)
    keep = np.random.rand(*shape) <= 1 - p
    state_after = np.random.get_state()
    np.random.seed(seed)
    xt = tensor(x)
    out = layer(xt)
    assert rng_state_equal(np.random.get_state(), state_after), (
        "Dropout should make exactly one np.random.rand draw of the input's shape per forward"
    )
    assert out.dtype == np.float32, f"Dropout turned float32 into {out.dtype}"
    assert_close(out, (x.astype(np.float64) * keep / (1 - p)).astype(np.float32), tol=TOL["float32"],
                 what=f"Dropout({p}) training forward under seed {seed}",
                 hint="mask = init.randb(*x.shape, p=1 - p); output x * mask / (1 - p)")
    out.backward(tensor(np.full(shape, 2.0, np.float32), requires_grad=False))
    assert_close(xt.grad, (2.0 * keep / (1 - p)).astype(np.float32), tol=TOL["float32"],
                 what=f"Dropout({p}) input gradient")


def test_dropout_in_eval_mode_is_the_identity_without_a_draw():
    """Dropout in eval mode returns its input's values and draws no random numbers."""
    layer = nn.Dropout(0.7)
    layer.eval()
    x = randn(6, 3, seed=31)
    np.random.seed(5)
    before = np.random.get_state()
    out = layer(tensor(x))
    assert rng_state_equal(np.random.get_state(), before), "Dropout in eval mode drew from NumPy's RNG"
    assert_close(out, x, what="Dropout(0.7) in eval mode")
    layer.train()
    np.random.seed(5)
    keep = np.random.rand(6, 3) <= 0.3
    np.random.seed(5)
    assert_close(layer(tensor(x)), (x.astype(np.float64) * keep / 0.3).astype(np.float32), tol=TOL["float32"],
                 what="Dropout(0.7) back in training mode")


# --- train()/eval() ----------------------------------------------------------


class Bag(nn.Module):
    """Sub-modules kept in a list inside a dict, and in a tuple."""

    def __init__(self):
        super().__init__()
        self.parts = {"norms": [nn.LayerNorm1d(2), nn.BatchNorm1d(2)]}
        self.pair = (nn.Dropout(0.3), nn.Identity())


def test_train_and_eval_reach_nested_modules():
    """train() and eval() switch every nested module, including those in dicts, lists and tuples."""
    bag = Bag()
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(bag, nn.Residual(nn.Dropout(0.1))), nn.BatchNorm1d(2))
    everything = [model, *model.modules, *model.modules[1].modules, *bag.parts["norms"], *bag.pair,
                  model.modules[1].modules[1].fn]
    flags = [[m.training for m in everything]]
    model.eval()
    flags.append([m.training for m in everything])
    model.train()
    flags.append([m.training for m in everything])
    got = np.array(flags, dtype=np.int64)
    expected = np.array([[1] * len(everything), [0] * len(everything), [1] * len(everything)], dtype=np.int64)
    assert_close(got, expected, what="training flags of every module at start, after eval(), after train()")
    assert len(model.parameters()) == 2 + 4 + 2, "parameters() should find the 8 Parameters of the nested modules"


# --- float32 everywhere ------------------------------------------------------

FLOAT32_MODULES = [
    ("Linear-6-6", lambda: nn.Linear(6, 6)),
    ("Sequential-Linear-ReLU-Linear", lambda: nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 6))),
    ("Residual-LayerNorm", lambda: nn.Residual(nn.LayerNorm1d(6))),
    ("BatchNorm1d-6", lambda: nn.BatchNorm1d(6)),
    ("Dropout-0.4", lambda: nn.Dropout(0.4)),
]


@pytest.mark.parametrize("build", args(FLOAT32_MODULES), ids=ids(FLOAT32_MODULES))
def test_float32_outputs_parameters_and_gradients(build):
    """A float32 input gives float32 outputs, parameters and gradients."""
    np.random.seed(6)
    module = build()
    x = tensor(randn(4, 6, seed=6))
    out = module(x)
    assert out.dtype == np.float32, f"the output is {out.dtype}, expected float32"
    loss = (out * out).sum()
    loss.backward()
    assert x.grad.dtype == np.float32, f"the input gradient is {x.grad.dtype}, expected float32"
    for i, p in enumerate(module.parameters()):
        assert p.dtype == np.float32, f"parameter {i} is {p.dtype}, expected float32"
        assert p.grad is not None and p.grad.dtype == np.float32, f"parameter {i}'s gradient is not float32"
    assert_close(np.asarray(loss.numpy()).reshape(()), np.float32((out.numpy().astype(np.float64) ** 2).sum()),
                 tol=TOL["float32"], what="sum of squared outputs")
