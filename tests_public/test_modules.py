"""Question "modules": ``needle.nn`` layers (docs/API.md sections 4.1, 5 and 5.1).

Linear, Flatten, ReLU, Sequential, Residual, SoftmaxLoss, BatchNorm1d,
LayerNorm1d and Dropout, plus Module's train()/eval(), and the course's
learn_model_1d values for models with BatchNorm1d, LayerNorm1d or Residual.

Each test builds seeded inputs, runs the layer, and hands over what came out
(outputs, input and parameter gradients, running statistics, initial
parameters): they are compared with the reference's for the same inputs.
Seeded values come from the documented draws (Linear: weight's
np.random.rand first, then the bias's; Dropout: one np.random.rand of the
input's shape, kept where <= 1 - p) under the same seed.  Tests of a layer's
forward or gradients give Linear known parameters (through ``.data``), so
that they do not hinge on its initialization, which is tested on its own.
Facts about a module's structure (its parameters, its training flags, how
many values it drew) are handed over as observations.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import order_of, train_on_batches
from grader.box.inputs import course_1d_batches, get_int_tensor, get_tensor, randn, rng, seed_global, tensor
from grader.box.modules import (global_draws, is_float32, linear, redraw, shape_of, training_flags,
                                with_affine)
from grader.box.record import check, in_behaviour, observe


# --- Linear ------------------------------------------------------------------

LINEAR_SEEDS = [("7x4-seed1337", 7, 4, 1337), ("10x5-seed199", 10, 5, 199), ("3x8-seed0", 3, 8, 0)]


@pytest.mark.parametrize("fan_in, fan_out, seed", [c[1:] for c in LINEAR_SEEDS], ids=[c[0] for c in LINEAR_SEEDS])
@pytest.mark.behaviour("Linear")
def test_linear_draws_weight_then_bias_with_kaiming_uniform(fan_in, fan_out, seed):
    seed_global(seed)
    layer = nn.Linear(fan_in, fan_out)
    check(layer.weight, what=f"Linear({fan_in}, {fan_out}).weight under seed {seed}",
          hint="weight = Parameter(init.kaiming_uniform(in_features, out_features)), drawn before the bias")
    check(layer.bias, what=f"Linear({fan_in}, {fan_out}).bias under seed {seed}",
          hint="bias = Parameter(init.kaiming_uniform(out_features, 1).reshape((1, out_features))), "
          "drawn after the weight, with fan_in = out_features")


@pytest.mark.behaviour("Linear")
def test_linear_course_bias_value():
    # The course's published test (hw2's test_nn_linear_bias_init_1; docs/API.md section 5.2):
    # Linear(7, 4) under seed 1337.
    seed_global(1337)
    layer = nn.Linear(7, 4)
    check(layer.bias, what="Linear(7, 4).bias under seed 1337 (course value)",
          hint="the bias is kaiming_uniform(out_features, 1) reshaped to (1, out_features), drawn after the weight")


@pytest.mark.behaviour("Linear")
def test_linear_parameters_are_float32_weight_then_bias():
    layer = nn.Linear(6, 3)
    params = layer.parameters()
    observe(order_of(params, [layer.weight, layer.bias]),
            what="Linear(6, 3).parameters(), as positions in [weight, bias]",
            hint="Linear.parameters() should be [weight, bias] in that order")
    for name, p in (("weight", layer.weight), ("bias", layer.bias)):
        observe(isinstance(p, nn.Parameter), what=f"Linear.{name} is an nn.Parameter",
                hint="wrap the initial values in nn.Parameter(...)")
        observe(shape_of(p), what=f"the shape of Linear(6, 3).{name}",
                hint="weight (in_features, out_features); bias (1, out_features)")
        observe(is_float32(p), what=f"Linear.{name} is float32", hint="make the parameters in the layer's dtype")


@pytest.mark.behaviour("Linear")
def test_linear_without_bias_has_only_a_weight_and_draws_once():
    seed_global(3)
    layer, draws = global_draws(lambda: nn.Linear(5, 2, bias=False))
    observe(draws, what="uniform values Linear(5, 2, bias=False) drew from NumPy's global RNG (-1: other draws)",
            hint="Linear(5, 2, bias=False) should make exactly one draw: np.random.rand(5, 2) for the weight")
    observe(order_of(layer.parameters(), [layer.weight]),
            what="Linear(bias=False).parameters(), as positions in [weight]",
            hint="Linear(bias=False).parameters() should be [weight]")
    x = randn(4, 5, seed=1)
    check(layer(tensor(x)), what="Linear(5, 2, bias=False)(x)", hint="without a bias the output is x @ weight")


@pytest.mark.parametrize("x_shape", [(1, 10), (3, 10), (1, 3, 10), (2, 4, 10)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.behaviour("Linear")
def test_linear_forward_is_x_times_weight_plus_bias(x_shape):
    layer = linear(10, 5, seed=199)
    x = randn(*x_shape, seed=2)
    check(layer(tensor(x)), what=f"Linear(10, 5) of a {x_shape} input",
          hint="x @ weight, plus the bias broadcast to the output's shape (inputs may have extra leading axes)")


@pytest.mark.behaviour("Linear")
def test_linear_accepts_a_one_dimensional_bias_set_through_data():
    # The course's Linear tests overwrite the bias with a (5,) Tensor.
    layer = linear(10, 5, seed=199)
    layer.bias.data = get_tensor(5)
    x = get_tensor(3, 10)
    check(layer(x), what="Linear(10, 5) with a (5,) bias",
          hint="broadcast the bias to the output's shape instead of assuming it is (1, out)")


@pytest.mark.behaviour("Linear")
def test_linear_backward_matches_central_differences():
    layer = linear(4, 3, seed=5, dtype="float64")
    C = tensor(randn(2, 3, seed=5, dtype=np.float64), "float64", requires_grad=False)
    x = tensor(randn(2, 4, seed=6, dtype=np.float64), "float64")
    layer(x).backward(C)
    hint = "Linear's forward must be built from needle ops (matmul, broadcast_to, add) for backward to reach"
    check(x.grad, what="Linear input gradient", hint=hint + "; d/dx = C @ weight.T")
    check(layer.weight.grad, what="Linear weight.grad", hint=hint + "; d/dweight = x.T @ C")
    check(layer.bias.grad, what="Linear bias.grad",
          hint=hint + "; d/dbias sums C over the batch, in the bias's shape (1, out)")


# --- Flatten, ReLU, Sequential, Residual -------------------------------------

FLATTEN_SHAPES = [(3, 3), (3, 3, 3), (1, 2, 3, 4), (3, 3, 4, 4), (2, 1, 3, 2, 2, 2)]


@pytest.mark.parametrize("shape", FLATTEN_SHAPES, ids=lambda s: f"{len(s)}d-" + "x".join(map(str, s)))
@pytest.mark.behaviour("Flatten")
def test_flatten_keeps_the_batch_axis_and_joins_the_rest(shape):
    x = randn(*shape, seed=len(shape))
    check(nn.Flatten()(tensor(x)), what=f"Flatten of shape {shape}",
          hint="(B, d1, d2, ...) -> (B, d1 * d2 * ...), in row-major order")


@pytest.mark.behaviour("ReLU")
def test_relu_module_zeroes_negatives():
    x = randn(4, 6, seed=7)
    x[0, :3] = 0.0
    check(nn.ReLU()(tensor(x)), what="ReLU()(x)", hint="max(x, 0) elementwise, with ops.relu")


@pytest.mark.behaviour("Sequential")
def test_sequential_applies_modules_in_order():
    first, second = linear(4, 6, seed=2), linear(6, 3, seed=3)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = randn(5, 4, seed=3)
    check(model(tensor(x)), what="Sequential(Linear, ReLU, Linear)(x)",
          hint="feed each module's output into the next, in the order given")
    observe(order_of(model.parameters(), [first.weight, first.bias, second.weight, second.bias]),
            what="Sequential.parameters(), as positions in [first weight, first bias, second weight, second bias]",
            hint="Sequential.parameters() should be [weight, bias] of each Linear, in order")


@pytest.mark.behaviour("Sequential")
def test_empty_sequential_is_the_identity():
    x = randn(2, 3, seed=4)
    check(nn.Sequential()(tensor(x)), what="Sequential()(x)", hint="with no modules, return x")


@pytest.mark.behaviour("Residual")
def test_residual_adds_the_input():
    inner = linear(4, 4, seed=8)
    model = nn.Residual(nn.Sequential(inner, nn.ReLU()))
    x = randn(3, 4, seed=8)
    check(model(tensor(x)), what="Residual(fn)(x)", hint="fn(x) + x")


# --- SoftmaxLoss -------------------------------------------------------------


SOFTMAX_CASES = [("5x10-int64", 5, 10, "int64"), ("3x11-uint8", 3, 11, "uint8"), ("8x4-int32", 8, 4, "int32")]


@pytest.mark.parametrize("m, k, label_dtype", [c[1:] for c in SOFTMAX_CASES], ids=[c[0] for c in SOFTMAX_CASES])
@pytest.mark.behaviour("SoftmaxLoss")
def test_softmax_loss_value_and_gradient_with_integer_labels(m, k, label_dtype):
    Z = randn(m, k, seed=m, scale=2.0)
    y = rng(k).integers(0, k, size=m).astype(label_dtype)
    logits = tensor(Z)
    loss = nn.SoftmaxLoss()(logits, ndl.Tensor(y, requires_grad=False))
    value = np.asarray(loss.numpy())
    assert value.size == 1, f"SoftmaxLoss should return a single value, got shape {value.shape}"
    check(value.reshape(()), what=f"SoftmaxLoss of a {m}x{k} batch with {label_dtype} labels",
          hint="mean over the batch of logsumexp(z) - z_y, with y turned into a one-hot by init.one_hot")
    loss.backward()
    check(logits.grad, what="d SoftmaxLoss / d logits", hint="(softmax - onehot) / batch")


# --- BatchNorm1d -------------------------------------------------------------


def upstream_input_gradient(layer, x, upstream):
    """x.grad after layer(x).backward(upstream), for float64 arrays x and upstream."""
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(upstream, "float64", requires_grad=False))
    return xt.grad


def check_fresh_weight_and_bias(layer):
    """A new norm layer's parameters() are [weight, bias]; their initial values are handed over."""
    __tracebackhide__ = True
    name = type(layer).__name__
    observe(order_of(layer.parameters(), [layer.weight, layer.bias]),
            what=f"{name}.parameters(), as positions in [weight, bias]",
            hint=f"{name}.parameters() should be [weight, bias]; running statistics are not Parameters")
    check(layer.weight, what=f"{name} weight at init", hint="the weight starts as init.ones(dim)")
    check(layer.bias, what=f"{name} bias at init", hint="the bias starts as init.zeros(dim)")


NORM_CASES = [
    # (id, batch, dim, eps, input scale): a small scale or a large eps makes eps's place matter.
    ("6x4-eps1e-5", 6, 4, 1e-5, 1.0),
    ("5x3-small-variance", 5, 3, 1e-5, 0.01),
    ("4x5-eps0.5", 4, 5, 0.5, 1.0),
]
NORM_IDS = [c[0] for c in NORM_CASES]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in NORM_CASES], ids=NORM_IDS)
@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_training_forward_uses_batch_mean_and_biased_variance(n, dim, eps, scale):
    x = randn(n, dim, seed=n, scale=scale) + 3 * scale
    layer = with_affine(nn.BatchNorm1d(dim, eps=eps), dim, n)
    check(layer(tensor(x)), what=f"BatchNorm1d({dim}, eps={eps}) training forward",
          hint="per feature over the batch: (x - mean) / sqrt(var + eps) with the biased variance "
          "(divide by the batch size), eps inside the sqrt; then weight * . + bias")


@pytest.mark.parametrize("momentum", [0.1, 0.35], ids=lambda m: f"momentum={m}")
@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_running_stats_follow_the_recurrence_with_biased_variance(momentum):
    layer = nn.BatchNorm1d(3, momentum=momentum)
    for i in range(10):
        layer(tensor(randn(4, 3, seed=40 + i, scale=1.0 + i) + i))
    hint = ("after each training forward: running = (1 - momentum) * running + momentum * batch statistic, "
            "with the BIASED batch variance (divide by the batch size), starting from mean 0 and var 1")
    check(layer.running_mean, what="BatchNorm1d.running_mean after 10 batches", hint=hint)
    check(layer.running_var, what="BatchNorm1d.running_var after 10 batches", hint=hint)


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_eval_normalizes_with_the_running_stats():
    layer = with_affine(nn.BatchNorm1d(4, eps=0.01), 4, 9)
    for i in range(3):
        layer(tensor(randn(5, 4, seed=50 + i, scale=2.0) + 1))
    layer.eval()
    x = randn(3, 4, seed=60)
    check(layer(tensor(x)), what="BatchNorm1d eval forward",
          hint="in eval mode use running_mean and running_var, not the batch's statistics")
    check(layer.running_mean, what="running_mean after an eval forward",
          hint="eval mode must not update the running statistics")
    check(layer.running_var, what="running_var after an eval forward",
          hint="eval mode must not update the running statistics")


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_running_stats_are_detached_float32_tensors_not_parameters():
    layer = nn.BatchNorm1d(5)
    for i in range(2):
        layer(tensor(randn(4, 5, seed=70 + i))).sum().backward()
    for name in ("running_mean", "running_var"):
        stat = getattr(layer, name)
        observe(isinstance(stat, ndl.Tensor), what=f"BatchNorm1d.{name} is a needle Tensor",
                hint=f"BatchNorm1d.{name} should be a needle Tensor")
        observe(isinstance(stat, nn.Parameter), what=f"BatchNorm1d.{name} is an nn.Parameter",
                hint=f"BatchNorm1d.{name} must not be a Parameter (the optimizer would update it); "
                "make it a plain Tensor")
        observe(getattr(stat, "op", None) is None, what=f"BatchNorm1d.{name} is a leaf (op is None)",
                hint=f"BatchNorm1d.{name} keeps the graph of every batch alive; update it from detached "
                "data (e.g. batch_mean.detach())")
        observe(shape_of(stat), what=f"the shape of BatchNorm1d(5).{name}",
                hint="one running value per feature: shape (dim,)")
        observe(is_float32(stat), what=f"BatchNorm1d.{name} is float32",
                hint="keep the running statistics in the layer's dtype (float32)")


@pytest.mark.parametrize("dim", [1, 3, 32])
@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_has_exactly_weight_and_bias_parameters(dim):
    layer = nn.BatchNorm1d(dim)
    check_fresh_weight_and_bias(layer)


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_training_backward_matches_closed_form():
    eps = 0.1
    layer = with_affine(nn.BatchNorm1d(3, eps=eps, dtype="float64"), 3, 11, "float64")
    x = randn(5, 3, seed=12, dtype=np.float64)
    C = randn(5, 3, seed=13, dtype=np.float64)
    hint = ("BatchNorm1d's forward must be built from needle ops; (x - mean) / sqrt(var + eps) with eps inside the "
            "sqrt and the biased variance, the batch statistics part of the graph")
    check(upstream_input_gradient(layer, x, C), what="BatchNorm1d input gradient", hint=hint)
    check(layer.weight.grad, what="BatchNorm1d weight.grad", hint=hint + "; d/dweight sums C * x_hat over the batch")
    check(layer.bias.grad, what="BatchNorm1d bias.grad", hint=hint + "; d/dbias sums C over the batch")


# --- LayerNorm1d -------------------------------------------------------------

LAYERNORM_CASES = NORM_CASES + [("1x5", 1, 5, 1e-5, 1.0), ("5x1", 5, 1, 1e-5, 1.0), ("3x3", 3, 3, 1e-5, 1.0)]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in LAYERNORM_CASES], ids=[c[0] for c in LAYERNORM_CASES])
@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_forward_uses_row_mean_and_biased_variance(n, dim, eps, scale):
    x = randn(n, dim, seed=dim, scale=scale) + 2 * scale
    layer = with_affine(nn.LayerNorm1d(dim, eps=eps), dim, dim)
    check(layer(tensor(x)), what=f"LayerNorm1d({dim}, eps={eps}) forward",
          hint="per row: (x - mean) / sqrt(var + eps), biased variance (divide by dim), eps inside "
          "the sqrt; then weight * . + bias")


# Inputs of size about 1 (the kit checks these gradients against central differences too): a large eps,
# not a tiny variance, makes eps's place visible here.
LAYERNORM_BACKWARD_CASES = [c for c in LAYERNORM_CASES if c[4] == 1.0]


@pytest.mark.parametrize("n, dim, eps, scale", [c[1:] for c in LAYERNORM_BACKWARD_CASES],
                         ids=[c[0] for c in LAYERNORM_BACKWARD_CASES])
@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_backward_matches_closed_form(n, dim, eps, scale):
    x = randn(n, dim, seed=20 + dim, scale=scale, dtype=np.float64) + scale
    C = randn(n, dim, seed=40 + dim, dtype=np.float64)
    layer = with_affine(nn.LayerNorm1d(dim, eps=eps, dtype="float64"), dim, 30 + dim, "float64")
    hint = ("LayerNorm1d's forward must be built from needle ops; normalise with sqrt(var + eps) (eps inside the "
            "sqrt) and the biased variance, the row statistics part of the graph")
    check(upstream_input_gradient(layer, x, C), what=f"LayerNorm1d({dim}, eps={eps}) input gradient", hint=hint)
    check(layer.weight.grad, what=f"LayerNorm1d({dim}, eps={eps}) weight.grad",
          hint=hint + "; d/dweight sums C * x_hat over the rows")
    check(layer.bias.grad, what=f"LayerNorm1d({dim}, eps={eps}) bias.grad",
          hint=hint + "; d/dbias sums C over the rows")


@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_parameters_are_weight_and_bias():
    check_fresh_weight_and_bias(nn.LayerNorm1d(6))


# --- Dropout -----------------------------------------------------------------

DROPOUT_CASES = [("p=0.45", 0.45, 3), ("p=0.26", 0.26, 4), ("p=0.8", 0.8, 5)]


@pytest.mark.parametrize("p, seed", [c[1:] for c in DROPOUT_CASES], ids=[c[0] for c in DROPOUT_CASES])
@pytest.mark.behaviour("Dropout")
def test_dropout_masks_with_one_draw_and_rescales(p, seed):
    x = randn(6, 7, seed=seed) + 1
    xt = tensor(x)
    layer = nn.Dropout(p)
    seed_global(seed)
    out, draws = global_draws(lambda: layer(xt))
    hint = ("mask = init.randb(*x.shape, p=1 - p): keep where np.random.rand(*x.shape) <= 1 - p; "
            "scale kept values by 1 / (1 - p)")
    check(out, what=f"Dropout({p}) training forward under seed {seed}", hint=hint)
    observe(draws,
            what=f"uniform values Dropout({p}) drew from NumPy's global RNG for a (6, 7) input (-1: other draws)",
            hint=f"Dropout({p}) should make exactly one np.random.rand(6, 7) draw per forward")
    out.sum().backward()
    check(xt.grad, what=f"Dropout({p}) input gradient", hint="the gradient is mask / (1 - p)")


@pytest.mark.behaviour("Dropout")
def test_dropout_course_value():
    # The course's published test (hw2's test_nn_dropout_forward_1; docs/API.md section 5.7):
    # seed 3, get_tensor(2, 3), p = 0.45.
    seed_global(3)
    x = get_tensor(2, 3)
    check(nn.Dropout(0.45)(x), what="Dropout(0.45)(get_tensor(2, 3)) (course value)",
          hint="mask = init.randb(*x.shape, p=1 - p), drawn at the forward; output x * mask / (1 - p)")


@pytest.mark.behaviour("Dropout")
def test_dropout_eval_is_the_identity_and_draws_nothing():
    x = randn(4, 5, seed=6)
    xt = tensor(x)
    layer = nn.Dropout(0.5)
    layer.eval()
    seed_global(0)
    out, draws = global_draws(lambda: layer(xt))
    observe(draws, what="uniform values Dropout in eval mode drew from NumPy's global RNG (-1: other draws)",
            hint="Dropout in eval mode should return its input untouched, with no draw")
    check(out, what="Dropout(0.5) in eval mode", hint="eval mode is the identity: return x")


@pytest.mark.behaviour("Dropout")
def test_dropout_with_p_zero_is_the_identity():
    x = randn(3, 8, seed=7)
    check(nn.Dropout(0.0)(tensor(x)), what="Dropout(0.0) in training mode",
          hint="with p = 0 every value is kept and scaled by 1 / (1 - 0) = 1")


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


@pytest.mark.behaviour("Sequential")
def test_train_and_eval_reach_every_nested_module():
    model, modules = nested_model()
    names = ", ".join(type(m).__name__ for m in modules)
    observe(training_flags(modules), what=f"training flags of [{names}] when built",
            hint="modules should start in training mode (Module.__init__ sets training)")
    model.eval()
    observe(training_flags(modules), what=f"training flags of [{names}] after model.eval()",
            hint="eval() must reach sub-modules in attributes, lists, tuples and dicts, recursively")
    model.train()
    observe(training_flags(modules), what=f"training flags of [{names}] after model.train()",
            hint="train() must reach sub-modules in attributes, lists, tuples and dicts, recursively")


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


@pytest.mark.parametrize("name", [in_behaviour(name.split("-")[0], name, id=name) for name in FLOAT32_MODULES])
def test_float32_in_gives_float32_out_parameters_and_gradients(name):
    seed_global(0)
    module = FLOAT32_MODULES[name]()
    params = module.parameters()
    for i, p in enumerate(params):
        observe(is_float32(p), what=f"{name} parameter {i} is float32", hint="make the parameters in the layer's dtype")
    redraw(params, seed=2)  # values of their own dtype: the test is about dtypes, not initialization
    x = tensor(randn(5, 4, seed=1))
    out = module(x)
    check(out, what=f"{name} output for a float32 input",
          hint=f"{name}'s forward; the tests of {name} above say which part is off")
    out.sum().backward()
    check(x.grad, what=f"{name} input gradient of sum(output)",
          hint=f"backward through {name}'s forward; the tests of {name} above say which part is off")
    for i, p in enumerate(params):
        observe(p.grad is not None, what=f"{name} parameter {i} has a gradient after backward",
                hint="every parameter takes part in the forward's graph")
        if p.grad is not None:
            check(p.grad, what=f"{name} parameter {i}'s gradient of sum(output)",
                  hint=f"backward through {name}'s forward; the tests of {name} above say which part is off")


# --- the course's end-to-end values with norm layers (the course's published test: hw2's test_optim_*) ----
#
# The rows of the course's learn_model_1d whose model holds BatchNorm1d,
# LayerNorm1d or Residual (the Linear-ReLU-Linear rows are in
# test_optimizers.py).  They train with needle.optim, so SGD and Adam must be
# right as well.


def course_learn_model_1d(build, opt_class, epochs=1, eval_after=False, **opt_kwargs):
    """seed 42, build the model, then `epochs` passes over 32 in-order batches
    of 32 rows of get_tensor(1024, 64) with uint8 labels in [0, 16); the last
    batch's loss, or with eval_after the eval-mode loss on a new 32-row batch."""
    seed_global(42)
    model = build()
    criterion, opt = nn.SoftmaxLoss(), opt_class(model.parameters(), **opt_kwargs)
    loss = train_on_batches(course_1d_batches(), lambda x, y: criterion(model(ndl.Tensor(x)), ndl.Tensor(y)),
                            opt, epochs)
    if eval_after:
        model.eval()
        logits = model(get_tensor(32, 64))
        labels = ndl.Tensor(get_int_tensor(32, high=16).numpy().astype(np.uint8))
        loss = criterion(logits, labels)
    return np.asarray(loss.numpy())


def ln_residual():
    nn.LayerNorm1d(8)  # built first in the course test (it draws nothing)
    return nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Residual(nn.Linear(8, 8)), nn.Linear(8, 16))


def mlp_batchnorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 16))


def mlp_layernorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.LayerNorm1d(32), nn.Linear(32, 16))


COURSE_CASES = [
    # (id, the layer it tests, model, optimizer, options)
    ("sgd_layernorm_residual_1", "Residual", ln_residual, "SGD", dict(epochs=3, lr=0.01, weight_decay=0.001)),
    ("adam_batchnorm_1", "BatchNorm1d", mlp_batchnorm, "Adam", dict(lr=0.001, weight_decay=0.001)),
    ("adam_batchnorm_eval_mode_1", "BatchNorm1d", mlp_batchnorm, "Adam",
     dict(eval_after=True, lr=0.001, weight_decay=0.001)),
    ("adam_layernorm_1", "LayerNorm1d", mlp_layernorm, "Adam", dict(lr=0.01, weight_decay=0.01)),
]


@pytest.mark.parametrize("build, opt_name, kwargs", [in_behaviour(*c[1:], id=c[0]) for c in COURSE_CASES])
def test_course_learn_model_1d_values(build, opt_name, kwargs):
    loss = course_learn_model_1d(build, getattr(ndl.optim, opt_name), **kwargs)
    assert loss.size == 1, f"the loss should be a single value, got shape {loss.shape}"
    check(
        loss.reshape(()), tol="training",
        what=f"learn_model_1d({build.__name__}, {opt_name}, {kwargs}) last loss (course value)",
        hint="the norm layers' formulas (biased variance, eps inside the sqrt, running statistics with "
        "momentum, eval mode on the running statistics); the unit tests above say which one is off",
    )
