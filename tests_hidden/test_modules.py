"""Hidden tests, question "modules": the ``needle.nn`` layers.

New sizes, seeds and inputs for Linear, Flatten, Sequential, Residual,
SoftmaxLoss, BatchNorm1d, LayerNorm1d, Dropout and train()/eval().  Every
test starts by building the module under test, runs it on seeded inputs and
hands over what came out (outputs, input and parameter gradients, running
statistics, initial parameters), compared with the reference's; seeded
values come from the documented draws under the same seed.  Tests of a
layer's forward or gradients give Linear known parameters (through
``.data``), so that they do not hinge on its initialization.  Facts about a
module's structure are handed over as observations.
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import order_of, out_grad
from grader.box.inputs import randn, rng, seed_global, tensor
from grader.box.modules import (global_draws, is_float32, linear, redraw, shape_of, training_flags,
                                with_affine)
from grader.box.record import check, in_behaviour, observe


def ids(cases):
    return [c[0] for c in cases]


def args(cases):
    return [c[1:] if len(c) > 2 else c[1] for c in cases]


# --- Linear ------------------------------------------------------------------

LINEAR_CASES = [("9x5-seed2024", 9, 5, 2024), ("12x3-seed77", 12, 3, 77), ("1x6-seed31", 1, 6, 31)]


@pytest.mark.parametrize("fan_in, fan_out, seed", args(LINEAR_CASES), ids=ids(LINEAR_CASES))
@pytest.mark.behaviour("Linear")
def test_linear_initial_weight_and_bias(fan_in, fan_out, seed):
    """Linear draws its weight, then its bias, each with kaiming_uniform; float32 Parameters of fixed shapes."""
    seed_global(seed)
    layer, draws = global_draws(lambda: nn.Linear(fan_in, fan_out))
    observe(draws, what=f"uniform values Linear({fan_in}, {fan_out}) drew from NumPy's global RNG",
            hint="Linear should make exactly two draws: the weight's, then the bias's")
    observe(order_of(layer.parameters(), [layer.weight, layer.bias]),
            what="Linear.parameters(), as positions in [weight, bias]",
            hint="Linear.parameters() should be [weight, bias]")
    for p in (layer.weight, layer.bias):
        observe(isinstance(p, nn.Parameter), what="Linear's weight or bias is an nn.Parameter",
                hint="Linear's weight and bias should be nn.Parameters")
    hint = ("weight = kaiming_uniform(in_features, out_features) drawn first, then bias = "
            "kaiming_uniform(out_features, 1) reshaped to (1, out_features)")
    check(layer.weight, what=f"Linear({fan_in}, {fan_out}).weight under seed {seed}", hint=hint)
    check(layer.bias, what=f"Linear({fan_in}, {fan_out}).bias under seed {seed}", hint=hint)


@pytest.mark.parametrize("x_shape", [(6, 9), (1, 9), (2, 3, 9)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.behaviour("Linear")
def test_linear_forward_and_gradients_in_float32(x_shape):
    """Linear computes x @ weight + bias in float32, and its gradients are float32 too."""
    layer = linear(9, 4, seed=4)
    x = randn(*x_shape, seed=sum(x_shape))
    upstream = randn(*x_shape[:-1], 4, seed=3)
    xt = tensor(x)
    out = layer(xt)
    check(out, what=f"Linear(9, 4) of a {x_shape} float32 input",
          hint="x @ weight plus the bias broadcast to the output shape")
    out.backward(tensor(upstream, requires_grad=False))
    check(xt.grad, what="Linear input gradient", hint="upstream @ weight.T")
    check(layer.weight.grad, what="Linear weight.grad",
          hint="x.T @ upstream summed over all leading axes, in the weight's shape")
    check(layer.bias.grad, what="Linear bias.grad",
          hint="upstream summed over all leading axes, in the bias's shape (1, out)")



@pytest.mark.behaviour("Linear")
def test_linear_without_a_bias_is_x_times_weight():
    """Linear(bias=False) draws the weight only, has no bias, and gives x @ weight."""
    seed_global(41)
    layer, draws = global_draws(lambda: nn.Linear(6, 3, bias=False))
    observe(draws, what="uniform values Linear(6, 3, bias=False) drew from NumPy's global RNG",
            hint="without a bias, the weight is the only draw")
    observe(layer.bias is None, what="Linear(6, 3, bias=False).bias is None", hint="bias=False leaves bias None")
    check(layer(tensor(randn(2, 5, 6, seed=42))), what="Linear(6, 3, bias=False) of a 2x5x6 input",
          hint="without a bias the output is x @ weight")

@pytest.mark.behaviour("Linear")
def test_linear_float64_gradient_matches_central_differences():
    """Linear is differentiable end to end: its input gradient matches central differences."""
    layer = linear(5, 7, seed=12, dtype="float64")
    observe(str(layer.weight.dtype) == "float64" and str(layer.bias.dtype) == "float64",
            what="Linear(dtype='float64') has float64 parameters",
            hint="Linear(dtype='float64') should make float64 parameters")
    x = tensor(randn(3, 5, seed=9, dtype=np.float64), "float64")
    y = layer(x)
    (y * layer(x)).backward(out_grad((3, 7), seed=0, dtype="float64"))
    hint = "build Linear's forward from needle ops"
    check(x.grad, what="input gradient of Linear(x) * Linear(x), float64", hint=hint)
    check(layer.weight.grad, what="weight.grad of Linear(x) * Linear(x), float64", hint=hint)
    check(layer.bias.grad, what="bias.grad of Linear(x) * Linear(x), float64", hint=hint)


# --- Flatten, Sequential, Residual -------------------------------------------

FLATTEN_SHAPES = [(2, 3, 1, 2, 2, 3), (4, 1, 5), (1, 7), (3, 2, 2, 2, 2)]


@pytest.mark.parametrize("shape", FLATTEN_SHAPES, ids=lambda s: f"{len(s)}d-" + "x".join(map(str, s)))
@pytest.mark.behaviour("Flatten")
def test_flatten_keeps_the_first_axis(shape):
    """Flatten keeps the batch axis and joins all the others, in row-major order."""
    layer = nn.Flatten()
    x = randn(*shape, seed=len(shape) + 10)
    xt = tensor(x)
    out = layer(xt)
    check(out, what=f"Flatten of shape {shape}", hint="(B, d1, d2, ...) -> (B, d1 * d2 * ...), row-major")
    out.backward(tensor(np.arange(x.size, dtype=np.float32).reshape(out.shape), requires_grad=False))
    check(xt.grad, what="Flatten input gradient", hint="the upstream gradient reshaped back to the input's shape")


@pytest.mark.behaviour("Sequential")
def test_nested_sequential_with_residuals():
    """Sequential and Residual compose: modules run in order and the residual adds the block's input."""
    first, inner, last = linear(3, 5, seed=21), linear(5, 5, seed=22), linear(5, 2, seed=23)
    model = nn.Sequential(first, nn.ReLU(), nn.Residual(nn.Sequential(inner, nn.ReLU())), last)
    x = randn(4, 3, seed=22, scale=2.0)
    check(model(tensor(x)), what="Sequential(Linear, ReLU, Residual, Linear)(x)",
          hint="Sequential feeds each output into the next module; Residual returns fn(x) + x")
    observe(order_of(model.parameters(), [first.weight, first.bias, inner.weight, inner.bias, last.weight, last.bias]),
            what="parameters(), as positions in [weight, bias of each Linear, in module order]",
            hint="parameters() should list each Linear's weight and bias in module order, reaching into Residual")



@pytest.mark.behaviour("ReLU")
def test_relu_module_on_a_three_dimensional_input_and_its_gradient():
    """ReLU keeps the positive values of an input of any rank and passes the gradient where the input is positive."""
    x = randn(2, 3, 4, seed=61)
    xt = tensor(x)
    out = nn.ReLU()(xt)
    check(out, what="ReLU()(x) of a (2, 3, 4) input", hint="max(x, 0) elementwise, with ops.relu, for any rank")
    out.backward(tensor(randn(2, 3, 4, seed=62), requires_grad=False))
    check(xt.grad, what="ReLU input gradient", hint="build ReLU's forward from ops.relu for backward to reach x")


@pytest.mark.behaviour("Residual")
def test_residual_adds_the_input_and_passes_the_gradient_both_ways():
    """Residual returns fn(x) + x: the input gradient flows through fn and around it."""
    inner = linear(5, 5, seed=63)
    model = nn.Residual(inner)
    xt = tensor(randn(4, 5, seed=64))
    out = model(xt)
    check(out, what="Residual(Linear(5, 5))(x)", hint="fn(x) + x")
    out.backward(tensor(randn(4, 5, seed=65), requires_grad=False))
    check(xt.grad, what="Residual(Linear) input gradient", hint="fn(x) + x built from needle ops: both terms reach x")
    check(inner.weight.grad, what="the inner Linear's weight.grad", hint="call fn on x once, inside the graph")

# --- SoftmaxLoss -------------------------------------------------------------


SOFTMAX_CASES = [("6x9-int64", 6, 9, "int64", 1.0), ("12x5-uint8", 12, 5, "uint8", 3.0),
                 ("1x4-int32", 1, 4, "int32", 1.0), ("7x3-logits-200", 7, 3, "int64", 200.0)]


@pytest.mark.parametrize("m, k, label_dtype, scale", args(SOFTMAX_CASES), ids=ids(SOFTMAX_CASES))
@pytest.mark.behaviour("SoftmaxLoss")
def test_softmax_loss_value_and_gradient(m, k, label_dtype, scale):
    """SoftmaxLoss is the batch mean of logsumexp(z) - z_y, float32, with gradient (softmax - onehot) / batch."""
    loss_fn = nn.SoftmaxLoss()
    Z = randn(m, k, seed=100 + m, scale=scale)
    y = rng(k + m).integers(0, k, size=m).astype(label_dtype)
    logits = tensor(Z)
    loss = loss_fn(logits, ndl.Tensor(y, requires_grad=False))
    value = np.asarray(loss.numpy())
    assert value.size == 1, f"SoftmaxLoss should return a single value, got shape {value.shape}"
    check(value.reshape(()), what=f"SoftmaxLoss of a {m}x{k} batch",
          hint="mean over the batch of logsumexp(z) - z_y, stably")
    loss.backward()
    check(logits.grad, what="d SoftmaxLoss / d logits", hint="(softmax - onehot) / batch")


# --- BatchNorm1d -------------------------------------------------------------


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_training_forward_and_gradient():
    """BatchNorm1d in training normalizes each feature with the batch mean and biased variance, eps inside the sqrt."""
    eps = 0.2
    layer = with_affine(nn.BatchNorm1d(6, eps=eps), 6, 1)
    x = randn(7, 6, seed=2, scale=0.8) - 1.5
    xt = tensor(x)
    out = layer(xt)
    check(out, what=f"BatchNorm1d(6, eps={eps}) training forward",
          hint="per feature: (x - batch mean) / sqrt(biased batch var + eps), then weight * . + bias")
    out.backward(tensor(randn(7, 6, seed=3), requires_grad=False))
    hint = "the batch mean and variance are part of the graph in training"
    check(xt.grad, what="BatchNorm1d input gradient (float32)", hint=hint)
    check(layer.weight.grad, what="BatchNorm1d weight.grad (float32)", hint=hint)
    check(layer.bias.grad, what="BatchNorm1d bias.grad (float32)", hint=hint)


MOMENTUM_CASES = [("momentum=0.2", 0.2), ("momentum=0.05", 0.05), ("momentum=0.6", 0.6)]


@pytest.mark.parametrize("momentum", args(MOMENTUM_CASES), ids=ids(MOMENTUM_CASES))
@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_running_statistics(momentum):
    """BatchNorm1d's running mean and variance follow the momentum recurrence with the biased batch variance."""
    layer = nn.BatchNorm1d(4, momentum=momentum)
    for i in range(8):
        layer(tensor(randn(5, 4, seed=200 + i, scale=0.5 + i / 2) + (i % 3) - 1))
    hint = "running = (1 - momentum) * running + momentum * batch statistic, with the biased batch variance"
    check(layer.running_mean, what="BatchNorm1d.running_mean after 8 batches", hint=hint)
    check(layer.running_var, what="BatchNorm1d.running_var after 8 batches", hint=hint)


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_eval_uses_running_statistics():
    """In eval mode BatchNorm1d normalizes with its running statistics and leaves them unchanged."""
    eps = 0.05
    layer = with_affine(nn.BatchNorm1d(3, eps=eps, momentum=0.3), 3, 5)
    for i in range(4):
        layer(tensor(randn(6, 3, seed=300 + i, scale=3.0) + 2.0))
    layer.eval()
    x = randn(2, 3, seed=310)
    xt = tensor(x)
    out = layer(xt)
    check(out, what="BatchNorm1d eval forward",
          hint="eval mode: (x - running_mean) / sqrt(running_var + eps), then the affine")
    out.backward(tensor(np.ones((2, 3), np.float32), requires_grad=False))
    check(xt.grad, what="BatchNorm1d eval input gradient", hint="in eval mode the running statistics are constants")
    check(layer.running_mean, what="running_mean after an eval forward",
          hint="training forwards update it with momentum; an eval forward leaves it unchanged")
    check(layer.running_var, what="running_var after an eval forward",
          hint="training forwards update it with momentum (biased batch variance); an eval forward leaves it unchanged")


@pytest.mark.behaviour("BatchNorm1d")
def test_batchnorm_statistics_are_plain_detached_float32_tensors():
    """BatchNorm1d has exactly two Parameters; its running statistics are detached float32 Tensors."""
    layer = nn.BatchNorm1d(7)
    params = layer.parameters()
    observe(order_of(params, [layer.weight, layer.bias]),
            what="BatchNorm1d.parameters(), as positions in [weight, bias]",
            hint="BatchNorm1d.parameters() should be [weight, bias]")
    for i in range(3):
        x = tensor(randn(3, 7, seed=400 + i) * 2)
        layer(x).sum().backward()
    for name in ("running_mean", "running_var"):
        stat = getattr(layer, name)
        observe(isinstance(stat, ndl.Tensor) and not isinstance(stat, nn.Parameter),
                what=f"BatchNorm1d.{name} is a plain Tensor",
                hint=f"BatchNorm1d.{name} should be a plain Tensor (not a Parameter)")
        observe(getattr(stat, "op", None) is None, what=f"BatchNorm1d.{name} is a leaf (op is None)",
                hint=f"BatchNorm1d.{name} holds a graph; update it from detached values")
        observe(is_float32(stat), what=f"BatchNorm1d.{name} is float32", hint="keep the running statistics float32")
        observe(shape_of(stat), what=f"the shape of BatchNorm1d(7).{name}", hint="one value per feature")
    for p, name in zip(params, ("weight", "bias")):
        check(p, what=f"BatchNorm1d {name} after three backward passes",
              hint="weight starts as ones, bias as zeros; backward alone changes no parameter")
    # The last backward of sum(output).
    check(layer.bias.grad, what="BatchNorm1d bias.grad of sum(output)", hint="d/dbias of sum(output) counts the rows")
    check(layer.weight.grad, what="BatchNorm1d weight.grad of sum(output)",
          hint="d/dweight of sum(output) is the sum of the normalized values over the batch")


# --- LayerNorm1d -------------------------------------------------------------


LAYERNORM_CASES = [("4x7-eps1e-5", 4, 7, 1e-5), ("3x6-eps0.3", 3, 6, 0.3), ("2x2-eps1.0", 2, 2, 1.0),
                   ("5x9-eps0.05", 5, 9, 0.05)]


@pytest.mark.parametrize("n, dim, eps", args(LAYERNORM_CASES), ids=ids(LAYERNORM_CASES))
@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_forward(n, dim, eps):
    """LayerNorm1d normalizes each row with its mean and biased variance, eps inside the sqrt."""
    layer = with_affine(nn.LayerNorm1d(dim, eps=eps), dim, dim + 1)
    x = randn(n, dim, seed=n * dim) * 1.3 + 0.4
    check(layer(tensor(x)), what=f"LayerNorm1d({dim}, eps={eps}) forward",
          hint="per row: (x - mean) / sqrt(biased var + eps), then weight * . + bias")


@pytest.mark.parametrize("n, dim, eps", args(LAYERNORM_CASES), ids=ids(LAYERNORM_CASES))
@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_gradient(n, dim, eps):
    """LayerNorm1d's input gradient matches central differences and the closed form."""
    layer = with_affine(nn.LayerNorm1d(dim, eps=eps, dtype="float64"), dim, dim + 2, "float64")
    x = randn(n, dim, seed=n + dim, dtype=np.float64) * 0.9 - 0.3
    upstream = randn(n, dim, seed=50 + dim, dtype=np.float64)
    xt = tensor(x, "float64")
    layer(xt).backward(tensor(upstream, "float64", requires_grad=False))
    hint = "build LayerNorm1d from needle ops; normalize with sqrt(var + eps): eps inside the sqrt, biased variance"
    check(xt.grad, what=f"LayerNorm1d({dim}, eps={eps}) input gradient", hint=hint)
    check(layer.weight.grad, what=f"LayerNorm1d({dim}, eps={eps}) weight.grad", hint=hint)
    check(layer.bias.grad, what=f"LayerNorm1d({dim}, eps={eps}) bias.grad", hint=hint)


@pytest.mark.behaviour("LayerNorm1d")
def test_layernorm_of_width_one_has_zero_input_gradient():
    """A LayerNorm1d over one feature outputs its bias and passes no gradient to the input."""
    layer = nn.LayerNorm1d(1)
    layer.bias.data = tensor(np.array([0.75], np.float32))
    xt = tensor(randn(4, 1, seed=8))
    out = layer(xt)
    check(out, what="LayerNorm1d(1) forward", hint="a row of one value is its own mean: the output is the bias")
    out.backward(tensor(randn(4, 1, seed=9), requires_grad=False))
    check(xt.grad, what="LayerNorm1d(1) input gradient", hint="the mean is part of the graph: it cancels x's gradient")


# --- Dropout -----------------------------------------------------------------

DROPOUT_CASES = [("p=0.3-seed17", 0.3, 17, (5, 8)), ("p=0.6-seed8", 0.6, 8, (9, 4)),
                 ("p=0.15-seed123", 0.15, 123, (3, 2, 5))]


@pytest.mark.parametrize("p, seed, shape", args(DROPOUT_CASES), ids=ids(DROPOUT_CASES))
@pytest.mark.behaviour("Dropout")
def test_dropout_mask_and_scaling(p, seed, shape):
    """Training Dropout makes one uniform draw of the input's shape, keeps values where it is <= 1 - p, and rescales them."""
    layer = nn.Dropout(p)
    x = randn(*shape, seed=seed) + 2.0
    xt = tensor(x)
    seed_global(seed)
    out, draws = global_draws(lambda: layer(xt))
    observe(draws, what=f"uniform values Dropout({p}) drew from NumPy's global RNG for a {shape} input",
            hint="Dropout should make exactly one np.random.rand draw of the input's shape per forward")
    check(out, what=f"Dropout({p}) training forward under seed {seed}",
          hint="mask = init.randb(*x.shape, p=1 - p); output x * mask / (1 - p)")
    out.backward(tensor(np.full(shape, 2.0, np.float32), requires_grad=False))
    check(xt.grad, what=f"Dropout({p}) input gradient", hint="the upstream gradient times mask / (1 - p)")


@pytest.mark.behaviour("Dropout")
def test_dropout_in_eval_mode_is_the_identity_without_a_draw():
    """Dropout in eval mode returns its input's values and draws no random numbers."""
    layer = nn.Dropout(0.7)
    layer.eval()
    x = randn(6, 3, seed=31)
    seed_global(5)
    out, draws = global_draws(lambda: layer(tensor(x)))
    observe(draws, what="uniform values Dropout in eval mode drew from NumPy's global RNG",
            hint="Dropout in eval mode should draw nothing")
    check(out, what="Dropout(0.7) in eval mode", hint="eval mode is the identity")
    layer.train()
    seed_global(5)
    check(layer(tensor(x)), what="Dropout(0.7) back in training mode",
          hint="after train() Dropout masks again: x * randb(p=1 - p) / (1 - p)")


# --- train()/eval() ----------------------------------------------------------


class Bag(nn.Module):
    """Sub-modules kept in a list inside a dict, and in a tuple."""

    def __init__(self):
        super().__init__()
        self.parts = {"norms": [nn.LayerNorm1d(2), nn.BatchNorm1d(2)]}
        self.pair = (nn.Dropout(0.3), nn.Identity())


@pytest.mark.behaviour("Sequential")
def test_train_and_eval_reach_nested_modules():
    """train() and eval() switch every nested module, including those in dicts, lists and tuples."""
    bag = Bag()
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(bag, nn.Residual(nn.Dropout(0.1))), nn.BatchNorm1d(2))
    everything = [model, *model.modules, *model.modules[1].modules, *bag.parts["norms"], *bag.pair,
                  model.modules[1].modules[1].fn]
    flags = [training_flags(everything)]
    model.eval()
    flags.append(training_flags(everything))
    model.train()
    flags.append(training_flags(everything))
    observe(np.array(flags), what="training flags of every module at start, after eval(), after train()",
            hint="modules start training; eval() and train() reach sub-modules in dicts, lists and tuples")
    observe(len(model.parameters()), what="the number of Parameters of the nested model",
            hint="parameters() should find the Parameters of the nested modules")


# --- float32 everywhere ------------------------------------------------------

FLOAT32_MODULES = [
    ("Linear-6-6", lambda: nn.Linear(6, 6)),
    ("Sequential-Linear-ReLU-Linear", lambda: nn.Sequential(nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 6))),
    ("Residual-LayerNorm", lambda: nn.Residual(nn.LayerNorm1d(6))),
    ("BatchNorm1d-6", lambda: nn.BatchNorm1d(6)),
    ("Dropout-0.4", lambda: nn.Dropout(0.4)),
]


@pytest.mark.parametrize("build", [in_behaviour(name.split("-")[0], build, id=name) for name, build in FLOAT32_MODULES])
def test_float32_outputs_parameters_and_gradients(build):
    """A float32 input gives float32 outputs, parameters and gradients."""
    seed_global(6)
    module = build()
    params = module.parameters()
    for i, p in enumerate(params):
        observe(is_float32(p), what=f"parameter {i} is float32", hint="make the parameters float32")
    redraw(params, seed=7)  # values of their own dtype: the test is about dtypes, not initialization
    x = tensor(randn(4, 6, seed=6))
    out = module(x)
    check(out, what="the output for a float32 input", hint="the module's forward on a float32 input")
    loss = (out * out).sum()
    loss.backward()
    check(x.grad, what="the input gradient of sum(output ** 2)", hint="backward through the module's forward")
    for i, p in enumerate(params):
        observe(p.grad is not None, what=f"parameter {i} has a gradient",
                hint="every parameter takes part in the forward")
        if p.grad is not None:
            check(p.grad, what=f"parameter {i}'s gradient of sum(output ** 2)",
                  hint="backward through the module's forward")
    check(loss, what="sum of squared outputs", hint="the module's forward on a float32 input")
