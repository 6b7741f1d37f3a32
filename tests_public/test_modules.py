"""Question "modules": ``needle.nn`` layers (needle_api.md sections 1.5, 3.1 and 4).

Linear, Flatten, ReLU, Sequential, Residual, SoftmaxLoss, BatchNorm1d,
LayerNorm1d and Dropout, plus Module's train()/eval(), and the course's
learn_model_1d values for models with BatchNorm1d, LayerNorm1d or Residual.
Every expected value is computed with NumPy from the documented formula;
seeded values replay the documented draws (Linear: weight's np.random.rand
first, then the bias's; Dropout: one np.random.rand of the input's shape,
kept where <= 1 - p) under the same seed.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import TOL, assert_close, check_gradient, train_on_batches
from tests_public.numpy_reference import (
    affine, course_1d_batches, get_int_tensor, get_tensor, kaiming_uniform_expected, norm_input_gradient, np_softmax,
    numpy_layernorm, randn, rng_state_equal, softmax_loss_value, tensor,
)


# --- Linear ------------------------------------------------------------------

LINEAR_SEEDS = [("7x4-seed1337", 7, 4, 1337), ("10x5-seed199", 10, 5, 199), ("3x8-seed0", 3, 8, 0)]


@pytest.mark.parametrize("fan_in, fan_out, seed", [c[1:] for c in LINEAR_SEEDS], ids=[c[0] for c in LINEAR_SEEDS])
def test_linear_draws_weight_then_bias_with_kaiming_uniform(fan_in, fan_out, seed):
    np.random.seed(seed)
    weight_draw = np.random.rand(fan_in, fan_out)
    bias_draw = np.random.rand(fan_out, 1)
    np.random.seed(seed)
    layer = nn.Linear(fan_in, fan_out)
    assert_close(
        layer.weight, kaiming_uniform_expected(weight_draw, fan_in).astype(np.float32),
        what=f"Linear({fan_in}, {fan_out}).weight under seed {seed}",
        hint="weight = Parameter(init.kaiming_uniform(in_features, out_features)), drawn before the bias",
    )
    assert_close(
        layer.bias, kaiming_uniform_expected(bias_draw, fan_out).reshape(1, fan_out).astype(np.float32),
        what=f"Linear({fan_in}, {fan_out}).bias under seed {seed}",
        hint="bias = Parameter(init.kaiming_uniform(out_features, 1).reshape((1, out_features))), "
        "drawn after the weight, with fan_in = out_features",
    )


def test_linear_course_bias_value():
    # Published by the course (needle_api.md section 4): Linear(7, 4) under seed 1337.
    np.random.seed(1337)
    layer = nn.Linear(7, 4)
    assert_close(layer.bias, np.array([[0.077647, 0.814139, -0.770975, 1.120297]], dtype=np.float32),
                 what="Linear(7, 4).bias under seed 1337 (course value)")


def test_linear_parameters_are_float32_weight_then_bias():
    layer = nn.Linear(6, 3)
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias, (
        f"Linear.parameters() should be [weight, bias] in that order; got {len(params)} parameters"
        + (f" with shapes {[p.shape for p in params]}" if params else "")
    )
    for name, p, shape in (("weight", layer.weight, (6, 3)), ("bias", layer.bias, (1, 3))):
        assert isinstance(p, nn.Parameter), f"Linear.{name} should be an nn.Parameter, got {type(p).__name__}"
        assert p.shape == shape, f"Linear(6, 3).{name} should have shape {shape}, got {p.shape}"
        assert p.dtype == np.float32, f"Linear.{name} should be float32, got {p.dtype}"


def test_linear_without_bias_has_only_a_weight_and_draws_once():
    np.random.seed(3)
    weight_draw = np.random.rand(5, 2)
    state_after_one_draw = np.random.get_state()
    np.random.seed(3)
    layer = nn.Linear(5, 2, bias=False)
    assert rng_state_equal(np.random.get_state(), state_after_one_draw), (
        "Linear(5, 2, bias=False) should make exactly one draw (the weight's); it drew more or less"
    )
    params = layer.parameters()
    assert len(params) == 1 and params[0] is layer.weight, (
        f"Linear(bias=False).parameters() should be [weight]; got {len(params)} parameters"
    )
    x = randn(4, 5, seed=1)
    W = kaiming_uniform_expected(weight_draw, 5).astype(np.float32)
    assert_close(layer(tensor(x)), x @ W, tol=TOL["float32"], what="Linear(5, 2, bias=False)(x)",
                 hint="without a bias the output is x @ weight")


@pytest.mark.parametrize("x_shape", [(1, 10), (3, 10), (1, 3, 10), (2, 4, 10)], ids=lambda s: "x".join(map(str, s)))
def test_linear_forward_is_x_times_weight_plus_bias(x_shape):
    np.random.seed(199)
    layer = nn.Linear(10, 5)
    x = randn(*x_shape, seed=2)
    expected = x @ layer.weight.numpy() + layer.bias.numpy()
    got = layer(tensor(x))
    assert_close(got, expected, tol=TOL["float32"], what=f"Linear(10, 5) of a {x_shape} input",
                 hint="x @ weight, plus the bias broadcast to the output's shape (inputs may have extra leading axes)")


def test_linear_accepts_a_one_dimensional_bias_set_through_data():
    # The course's Linear tests overwrite the bias with a (5,) Tensor.
    np.random.seed(199)
    layer = nn.Linear(10, 5)
    layer.bias.data = get_tensor(5)
    x = get_tensor(3, 10)
    expected = x.numpy() @ layer.weight.numpy() + layer.bias.numpy().reshape(1, 5)
    assert_close(layer(x), expected, tol=TOL["float32"], what="Linear(10, 5) with a (5,) bias",
                 hint="broadcast the bias to the output's shape instead of assuming it is (1, out)")


def test_linear_backward_matches_central_differences():
    np.random.seed(5)
    layer = nn.Linear(4, 3, dtype="float64")
    C = tensor(randn(2, 3, seed=5, dtype=np.float64), "float64", requires_grad=False)
    x = tensor(randn(2, 4, seed=6, dtype=np.float64), "float64")
    check_gradient(layer, x, hint="Linear's forward must be built from needle ops")
    layer(x).backward(C)
    assert_close(x.grad, C.numpy() @ layer.weight.numpy().T, tol=TOL["float64"], what="Linear input gradient",
                 check_dtype=False)
    assert_close(layer.weight.grad, x.numpy().T @ C.numpy(), tol=TOL["float64"], what="Linear weight.grad",
                 check_dtype=False)
    assert_close(layer.bias.grad, C.numpy().sum(axis=0, keepdims=True), tol=TOL["float64"],
                 what="Linear bias.grad", check_dtype=False)


# --- Flatten, ReLU, Sequential, Residual -------------------------------------

FLATTEN_SHAPES = [(3, 3), (3, 3, 3), (1, 2, 3, 4), (3, 3, 4, 4), (2, 1, 3, 2, 2, 2)]


@pytest.mark.parametrize("shape", FLATTEN_SHAPES, ids=lambda s: f"{len(s)}d-" + "x".join(map(str, s)))
def test_flatten_keeps_the_batch_axis_and_joins_the_rest(shape):
    x = randn(*shape, seed=len(shape))
    got = nn.Flatten()(tensor(x))
    assert_close(got, x.reshape(shape[0], -1), what=f"Flatten of shape {shape}",
                 hint="(B, d1, d2, ...) -> (B, d1 * d2 * ...), in row-major order")


def test_relu_module_zeroes_negatives():
    x = randn(4, 6, seed=7)
    x[0, :3] = 0.0
    assert_close(nn.ReLU()(tensor(x)), np.maximum(x, 0), what="ReLU()(x)")


def test_sequential_applies_modules_in_order():
    np.random.seed(2)
    first, second = nn.Linear(4, 6), nn.Linear(6, 3)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = randn(5, 4, seed=3)
    hidden = np.maximum(x @ first.weight.numpy() + first.bias.numpy(), 0)
    expected = hidden @ second.weight.numpy() + second.bias.numpy()
    assert_close(model(tensor(x)), expected, tol=TOL["float32"], what="Sequential(Linear, ReLU, Linear)(x)",
                 hint="feed each module's output into the next, in the order given")
    params, expected_params = model.parameters(), [first.weight, first.bias, second.weight, second.bias]
    assert len(params) == 4 and all(a is b for a, b in zip(params, expected_params)), (
        f"Sequential.parameters() should be [weight, bias] of each Linear, in order; got shapes "
        f"{[p.shape for p in params]}"
    )


def test_empty_sequential_is_the_identity():
    x = randn(2, 3, seed=4)
    assert_close(nn.Sequential()(tensor(x)), x, what="Sequential()(x)")


def test_residual_adds_the_input():
    np.random.seed(8)
    inner = nn.Linear(4, 4)
    model = nn.Residual(nn.Sequential(inner, nn.ReLU()))
    x = randn(3, 4, seed=8)
    expected = np.maximum(x @ inner.weight.numpy() + inner.bias.numpy(), 0) + x
    assert_close(model(tensor(x)), expected, tol=TOL["float32"], what="Residual(fn)(x)", hint="fn(x) + x")


# --- SoftmaxLoss -------------------------------------------------------------


SOFTMAX_CASES = [("5x10-int64", 5, 10, "int64"), ("3x11-uint8", 3, 11, "uint8"), ("8x4-int32", 8, 4, "int32")]


@pytest.mark.parametrize("m, k, label_dtype", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_loss_value_and_gradient_with_integer_labels(m, k, label_dtype):
    Z = randn(m, k, seed=m, scale=2.0)
    y = np.random.default_rng(k).integers(0, k, size=m).astype(label_dtype)
    logits = tensor(Z)
    loss = nn.SoftmaxLoss()(logits, ndl.Tensor(y, requires_grad=False))
    value = np.asarray(loss.numpy())
    assert value.size == 1, f"SoftmaxLoss should return a single value, got shape {value.shape}"
    assert_close(value.reshape(()), np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"],
                 what=f"SoftmaxLoss of a {m}x{k} batch with {label_dtype} labels",
                 hint="mean over the batch of logsumexp(z) - z_y, with y turned into a one-hot by init.one_hot")
    loss.backward()
    onehot = np.eye(k)[y.astype(np.int64)]
    assert_close(logits.grad, ((np_softmax(Z) - onehot) / m).astype(np.float32), tol=TOL["float32"],
                 what="d SoftmaxLoss / d logits", hint="(softmax - onehot) / batch, kept float32")


# --- BatchNorm1d -------------------------------------------------------------


def numpy_batchnorm_train(x, w, b, eps):
    x = x.astype(np.float64)
    mean, var = x.mean(axis=0), x.var(axis=0)  # biased variance
    return (x - mean) / np.sqrt(var + eps) * w + b, mean, var


def upstream_input_gradient(layer, x, upstream):
    """x.grad after layer(x).backward(upstream), for float64 arrays x and upstream."""
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(upstream, "float64", requires_grad=False))
    return xt.grad


def assert_fresh_weight_and_bias(layer, dim):
    """A new norm layer's parameters() are [weight, bias]: ``dim`` ones and ``dim`` zeros."""
    __tracebackhide__ = True
    name = type(layer).__name__
    params = layer.parameters()
    assert len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias, (
        f"{name}.parameters() should be [weight, bias]; got {len(params)} parameters"
    )
    assert_close(layer.weight, np.ones(dim, np.float32), what=f"{name} weight at init")
    assert_close(layer.bias, np.zeros(dim, np.float32), what=f"{name} bias at init")


NORM_CASES = [
    # (id, batch, dim, eps, input scale): a small scale or a large eps makes eps's place matter.
    ("6x4-eps1e-5", 6, 4, 1e-5, 1.0),
    ("5x3-small-variance", 5, 3, 1e-5, 0.01),
    ("4x5-eps0.5", 4, 5, 0.5, 1.0),
]
NORM_IDS = [c[0] for c in NORM_CASES]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in NORM_CASES], ids=NORM_IDS)
def test_batchnorm_training_forward_uses_batch_mean_and_biased_variance(n, dim, eps, scale):
    x = randn(n, dim, seed=n, scale=scale) + 3 * scale
    w, b = affine(dim, n)
    layer = nn.BatchNorm1d(dim, eps=eps)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    expected, _, _ = numpy_batchnorm_train(x, w, b, eps)
    assert_close(layer(tensor(x)), expected.astype(np.float32), tol=TOL["float32"],
                 what=f"BatchNorm1d({dim}, eps={eps}) training forward",
                 hint="per feature over the batch: (x - mean) / sqrt(var + eps) with the biased variance "
                 "(divide by the batch size), eps inside the sqrt; then weight * . + bias")


@pytest.mark.parametrize("momentum", [0.1, 0.35], ids=lambda m: f"momentum={m}")
def test_batchnorm_running_stats_follow_the_recurrence_with_biased_variance(momentum):
    layer = nn.BatchNorm1d(3, momentum=momentum)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for i in range(10):
        x = randn(4, 3, seed=40 + i, scale=1.0 + i) + i
        layer(tensor(x))
        running_mean = (1 - momentum) * running_mean + momentum * x.astype(np.float64).mean(axis=0)
        running_var = (1 - momentum) * running_var + momentum * x.astype(np.float64).var(axis=0)
    hint = ("after each training forward: running = (1 - momentum) * running + momentum * batch statistic, "
            "with the BIASED batch variance (divide by the batch size), starting from mean 0 and var 1")
    assert_close(layer.running_mean, running_mean.astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d.running_mean after 10 batches", hint=hint)
    assert_close(layer.running_var, running_var.astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d.running_var after 10 batches", hint=hint)


def test_batchnorm_eval_normalizes_with_the_running_stats():
    layer = nn.BatchNorm1d(4, eps=0.01)
    w, b = affine(4, 9)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    for i in range(3):
        layer(tensor(randn(5, 4, seed=50 + i, scale=2.0) + 1))
    running_mean, running_var = layer.running_mean.numpy().copy(), layer.running_var.numpy().copy()
    layer.eval()
    x = randn(3, 4, seed=60)
    expected = (x - running_mean) / np.sqrt(running_var.astype(np.float64) + 0.01) * w + b
    assert_close(layer(tensor(x)), expected.astype(np.float32), tol=TOL["float32"],
                 what="BatchNorm1d eval forward",
                 hint="in eval mode use running_mean and running_var, not the batch's statistics")
    assert_close(layer.running_mean, running_mean, what="running_mean after an eval forward",
                 hint="eval mode must not update the running statistics")
    assert_close(layer.running_var, running_var, what="running_var after an eval forward",
                 hint="eval mode must not update the running statistics")


def test_batchnorm_running_stats_are_detached_float32_tensors_not_parameters():
    layer = nn.BatchNorm1d(5)
    for i in range(2):
        layer(tensor(randn(4, 5, seed=70 + i))).sum().backward()
    for name in ("running_mean", "running_var"):
        stat = getattr(layer, name)
        assert isinstance(stat, ndl.Tensor), f"BatchNorm1d.{name} should be a needle Tensor, got {type(stat).__name__}"
        assert not isinstance(stat, nn.Parameter), (
            f"BatchNorm1d.{name} is a Parameter: the optimizer would update it; make it a plain Tensor"
        )
        assert stat.op is None, (
            f"BatchNorm1d.{name} has op {type(stat.op).__name__}: it keeps the graph of every batch alive; "
            f"update it from detached data (e.g. batch_mean.detach())"
        )
        assert stat.shape == (5,) and stat.dtype == np.float32, (
            f"BatchNorm1d(5).{name} should be a float32 Tensor of shape (5,), got {stat.dtype} {stat.shape}"
        )


@pytest.mark.parametrize("dim", [1, 3, 32])
def test_batchnorm_has_exactly_weight_and_bias_parameters(dim):
    layer = nn.BatchNorm1d(dim)
    params = layer.parameters()
    sizes = [int(np.prod(p.shape)) for p in params]
    assert len(params) == 2 and sum(sizes) == 2 * dim, (
        f"BatchNorm1d({dim}) should have 2 parameters of {2 * dim} values in all (weight and bias); got "
        f"{len(params)} of sizes {sizes}; running statistics are not Parameters"
    )
    assert_fresh_weight_and_bias(layer, dim)


def test_batchnorm_training_backward_matches_closed_form():
    eps = 0.1
    w, b = affine(3, 11)
    layer = nn.BatchNorm1d(3, eps=eps, dtype="float64")
    layer.weight.data, layer.bias.data = tensor(w, "float64"), tensor(b, "float64")
    x = randn(5, 3, seed=12, dtype=np.float64)
    C = randn(5, 3, seed=13, dtype=np.float64)
    check_gradient(layer, tensor(x, "float64"), hint="BatchNorm1d's forward must be built from needle ops")
    assert_close(upstream_input_gradient(layer, x, C), norm_input_gradient(x, w, C, eps, axis=0),
                 tol=TOL["gradient"], what="BatchNorm1d input gradient",
                 hint="(x - mean) / sqrt(var + eps) with eps inside the sqrt and the biased variance")


# --- LayerNorm1d -------------------------------------------------------------

LAYERNORM_CASES = NORM_CASES + [("1x5", 1, 5, 1e-5, 1.0), ("5x1", 5, 1, 1e-5, 1.0), ("3x3", 3, 3, 1e-5, 1.0)]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in LAYERNORM_CASES], ids=[c[0] for c in LAYERNORM_CASES])
def test_layernorm_forward_uses_row_mean_and_biased_variance(n, dim, eps, scale):
    x = randn(n, dim, seed=dim, scale=scale) + 2 * scale
    w, b = affine(dim, dim)
    layer = nn.LayerNorm1d(dim, eps=eps)
    layer.weight.data, layer.bias.data = tensor(w), tensor(b)
    assert_close(layer(tensor(x)), numpy_layernorm(x, w, b, eps).astype(np.float32), tol=TOL["float32"],
                 what=f"LayerNorm1d({dim}, eps={eps}) forward",
                 hint="per row: (x - mean) / sqrt(var + eps), biased variance (divide by dim), eps inside "
                 "the sqrt; then weight * . + bias")


# Central differences (step 1e-4) need inputs of size about 1: a large eps, not a tiny variance,
# makes eps's place visible here.
LAYERNORM_BACKWARD_CASES = [c for c in LAYERNORM_CASES if c[4] == 1.0]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in LAYERNORM_BACKWARD_CASES],
                         ids=[c[0] for c in LAYERNORM_BACKWARD_CASES])
def test_layernorm_backward_matches_closed_form(n, dim, eps, scale):
    x = randn(n, dim, seed=20 + dim, scale=scale, dtype=np.float64) + scale
    w, b = affine(dim, 30 + dim)
    C = randn(n, dim, seed=40 + dim, dtype=np.float64)
    layer = nn.LayerNorm1d(dim, eps=eps, dtype="float64")
    layer.weight.data, layer.bias.data = tensor(w, "float64"), tensor(b, "float64")
    check_gradient(layer, tensor(x, "float64"), hint="LayerNorm1d's forward must be built from needle ops")
    assert_close(upstream_input_gradient(layer, x, C), norm_input_gradient(x, w, C, eps, axis=1), tol=TOL["gradient"],
                 what=f"LayerNorm1d({dim}, eps={eps}) input gradient",
                 hint="normalise with sqrt(var + eps) (eps inside the sqrt) and the biased variance")


def test_layernorm_parameters_are_weight_and_bias():
    assert_fresh_weight_and_bias(nn.LayerNorm1d(6), 6)


# --- Dropout -----------------------------------------------------------------

DROPOUT_CASES = [("p=0.45", 0.45, 3), ("p=0.26", 0.26, 4), ("p=0.8", 0.8, 5)]


@pytest.mark.parametrize("p, seed", [c[1:] for c in DROPOUT_CASES], ids=[c[0] for c in DROPOUT_CASES])
def test_dropout_masks_with_one_draw_and_rescales(p, seed):
    x = randn(6, 7, seed=seed) + 1
    np.random.seed(seed)
    keep = np.random.rand(6, 7) <= 1 - p
    state_after = np.random.get_state()
    np.random.seed(seed)
    xt = tensor(x)
    out = nn.Dropout(p)(xt)
    hint = (f"mask = init.randb(*x.shape, p=1 - p): keep where np.random.rand(*x.shape) <= 1 - p; "
            f"scale kept values by 1 / (1 - p) = {1 / (1 - p):.6g}")
    assert_close(out, (x * keep / (1 - p)).astype(np.float32), tol=TOL["float32"],
                 what=f"Dropout({p}) training forward under seed {seed}", hint=hint)
    assert rng_state_equal(np.random.get_state(), state_after), (
        f"Dropout({p}) should make exactly one np.random.rand(6, 7) draw per forward"
    )
    out.sum().backward()
    assert_close(xt.grad, (keep / (1 - p)).astype(np.float32), tol=TOL["float32"],
                 what=f"Dropout({p}) input gradient", hint="the gradient is mask / (1 - p)")


def test_dropout_course_value():
    # Published by the course (needle_api.md section 4): seed 3, get_tensor(2, 3), p = 0.45.
    np.random.seed(3)
    x = get_tensor(2, 3)
    assert_close(nn.Dropout(0.45)(x), np.array([[6.818182, 0, 0], [0.181818, 0, 6.090909]], dtype=np.float32),
                 what="Dropout(0.45)(get_tensor(2, 3)) (course value)")


def test_dropout_eval_is_the_identity_and_draws_nothing():
    x = randn(4, 5, seed=6)
    layer = nn.Dropout(0.5)
    layer.eval()
    np.random.seed(0)
    before = np.random.get_state()
    out = layer(tensor(x))
    assert rng_state_equal(np.random.get_state(), before), (
        "Dropout in eval mode drew from NumPy's RNG; it should return its input untouched, with no draw"
    )
    assert_close(out, x, what="Dropout(0.5) in eval mode", hint="eval mode is the identity: return x")


def test_dropout_with_p_zero_is_the_identity():
    x = randn(3, 8, seed=7)
    assert_close(nn.Dropout(0.0)(tensor(x)), x, what="Dropout(0.0) in training mode")


# --- Module: train()/eval() --------------------------------------------------


class Holder(nn.Module):
    """A custom module keeping sub-modules in a dict that holds a list and a tuple."""

    def __init__(self):
        super().__init__()
        self.blocks = {"drop": nn.Dropout(0.1), "more": [nn.BatchNorm1d(3), (nn.ReLU(), nn.Sequential(nn.LayerNorm1d(3)))]}


def nested_model():
    holder = Holder()
    inner = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.2))
    residual_inner = nn.Sequential(nn.ReLU())
    model = nn.Sequential(nn.Linear(3, 3), inner, holder, nn.Residual(residual_inner))
    drop, (bn, (relu, seq)) = holder.blocks["drop"], holder.blocks["more"]
    everything = [model, *model.modules, *inner.modules, drop, bn, relu, seq, *seq.modules,
                  model.modules[3].fn, *residual_inner.modules]
    return model, everything


def test_train_and_eval_reach_every_nested_module():
    model, modules = nested_model()
    assert all(m.training for m in modules), "modules should start in training mode (Module.__init__ sets training)"
    model.eval()
    still_training = [type(m).__name__ for m in modules if m.training]
    assert not still_training, (
        f"after model.eval() these modules are still training: {still_training}; eval() must reach "
        f"sub-modules in attributes, lists, tuples and dicts, recursively"
    )
    model.train()
    not_training = [type(m).__name__ for m in modules if not m.training]
    assert not not_training, f"after model.train() these modules are not training: {not_training}"


# --- float32 everywhere ------------------------------------------------------

FLOAT32_MODULES = {
    "Linear": lambda: nn.Linear(4, 3),
    "Linear-no-bias": lambda: nn.Linear(4, 3, bias=False),
    "Flatten": lambda: nn.Flatten(),
    "ReLU": lambda: nn.ReLU(),
    "Sequential": lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU()),
    "Residual": lambda: nn.Residual(nn.Linear(4, 4)),
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
    assert out.dtype == np.float32, f"{name} turned a float32 input into {out.dtype}; keep float32 float32"
    out.sum().backward()
    assert x.grad.dtype == np.float32, f"{name}'s input gradient is {x.grad.dtype}, expected float32"
    for i, p in enumerate(module.parameters()):
        assert p.dtype == np.float32, f"{name} parameter {i} is {p.dtype}, expected float32"
        assert p.grad is not None and p.grad.dtype == np.float32, (
            f"{name} parameter {i} has gradient "
            + ("None" if p.grad is None else f"of dtype {p.grad.dtype}") + ", expected a float32 gradient"
        )


# --- the course's end-to-end values with norm layers (needle_api.md 9.4) ----
#
# The rows of the course's learn_model_1d whose model holds BatchNorm1d,
# LayerNorm1d or Residual (the Linear-ReLU-Linear rows are in
# test_optimizers.py).  They train with needle.optim, so SGD and Adam must be
# right as well.


def course_learn_model_1d(build, opt_class, epochs=1, eval_after=False, **opt_kwargs):
    """seed 42, build the model, then `epochs` passes over 32 in-order batches
    of 32 rows of get_tensor(1024, 64) with uint8 labels in [0, 16); the last
    batch's loss, or with eval_after the eval-mode loss on a new 32-row batch."""
    np.random.seed(42)
    model = build()
    criterion, opt = nn.SoftmaxLoss(), opt_class(model.parameters(), **opt_kwargs)
    loss = train_on_batches(course_1d_batches(), lambda x, y: criterion(model(ndl.Tensor(x)), ndl.Tensor(y)),
                            opt, epochs)
    if eval_after:
        model.eval()
        logits = model(get_tensor(32, 64))
        labels = ndl.Tensor(get_int_tensor(32, high=16).numpy().astype(np.uint8))
        loss = np.asarray(criterion(logits, labels).numpy())
    return loss


def ln_residual():
    nn.LayerNorm1d(8)  # built first in the course test (it draws nothing)
    return nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Residual(nn.Linear(8, 8)), nn.Linear(8, 16))


def mlp_batchnorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 16))


def mlp_layernorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.LayerNorm1d(32), nn.Linear(32, 16))


COURSE_CASES = [
    # (id, model, optimizer, options, published last loss)
    ("sgd_layernorm_residual_1", ln_residual, "SGD", dict(epochs=3, lr=0.01, weight_decay=0.001), 2.852236),
    ("adam_batchnorm_1", mlp_batchnorm, "Adam", dict(lr=0.001, weight_decay=0.001), 3.296256),
    ("adam_batchnorm_eval_mode_1", mlp_batchnorm, "Adam", dict(eval_after=True, lr=0.001, weight_decay=0.001),
     3.192054),
    ("adam_layernorm_1", mlp_layernorm, "Adam", dict(lr=0.01, weight_decay=0.01), 2.82192),
]


@pytest.mark.parametrize("build, opt_name, kwargs, expected", [c[1:] for c in COURSE_CASES],
                         ids=[c[0] for c in COURSE_CASES])
def test_course_learn_model_1d_values(build, opt_name, kwargs, expected):
    loss = course_learn_model_1d(build, getattr(ndl.optim, opt_name), **kwargs)
    assert loss.size == 1, f"the loss should be a single value, got shape {loss.shape}"
    assert_close(
        loss.reshape(()), np.float32(expected), tol=TOL["float32"],
        what=f"learn_model_1d({build.__name__}, {opt_name}, {kwargs}) last loss (course value)",
        hint="the norm layers' formulas (biased variance, eps inside the sqrt, running statistics with "
        "momentum, eval mode on the running statistics); the unit tests above say which one is off",
    )
