"""Question "optimizers": ``needle.optim.SGD`` and ``needle.optim.Adam``
(needle_api.md section 5).

SGD(params, lr, momentum=β, weight_decay=λ):
    u <- β u + (1 - β) (grad + λ θ)     (u starts at 0; L2 weight decay coupled into the gradient)
    θ <- θ - lr u
Adam(params, lr, beta1, beta2, eps, weight_decay=λ):
    g <- grad + λ θ;  m <- β1 m + (1 - β1) g;  v <- β2 v + (1 - β2) g²
    t counts step() calls (one t shared by all parameters)
    θ <- θ - lr m̂ / (sqrt(v̂) + eps),  m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)

The unit tests build ``nn.Parameter``s by hand, set ``.grad`` by hand and
compare θ after each of three steps with these closed forms (computed in
float64 by numpy_reference.py), so they need neither modules nor backward.  Then: gradients are not
changed, parameters without a gradient are skipped, everything stays a float32
leaf, the live-tensor count does not grow with the number of steps, and the
course's ``learn_model_1d`` end-to-end values (needle_api.md 9.4) hold for its
Linear-ReLU-Linear model, rebuilt here from hand-made Parameters and needle
ops (the rows whose model needs BatchNorm1d, LayerNorm1d or Residual are in
test_modules.py).
"""
import gc

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import TOL, as_numpy, assert_close, step_and_compare, step_keeping_gradients, train_on_batches
from tests_public.numpy_reference import (
    adam_history, course_1d_batches, draw_linear, make_params, optimizer_problem, set_grads, sgd_history,
)

SHAPES = [(2, 3), (4,)]  # two parameters: Adam's step count must be shared


def problem(seed):
    """Initial float32 values of the two parameters and their float32
    gradients for steps 1, 2 and 3 (magnitudes spread over decades so that
    eps and the bias correction matter)."""
    return optimizer_problem(seed, SHAPES, steps=3, exponents=(-2, 1))


def set_up(opt_class, kwargs, seed):
    """Problem ``seed``, its parameters, and an optimizer over them."""
    thetas, grads = problem(seed)
    params = make_params(thetas)
    return thetas, grads, params, opt_class(params, **kwargs)


def run_three_steps(opt_class, kwargs, history, seed, hint):
    thetas, grads = problem(seed)
    return step_and_compare(opt_class, kwargs, thetas, grads, history, hint)


SGD_CASES = [
    ("vanilla", dict(lr=0.1, momentum=0.0, weight_decay=0.0)),
    ("momentum", dict(lr=0.1, momentum=0.9, weight_decay=0.0)),
    ("weight-decay", dict(lr=0.1, momentum=0.0, weight_decay=0.1)),
    ("momentum-weight-decay", dict(lr=0.5, momentum=0.6, weight_decay=0.2)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES])
def test_sgd_three_steps_follow_the_closed_form(kwargs):
    run_three_steps(
        ndl.optim.SGD, kwargs, sgd_history, seed=1,
        hint="u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta), u starting at 0 "
        "(dampened momentum, not u = momentum * u + grad; weight decay added to the gradient, not "
        "decoupled); theta <- theta - lr * u",
    )


ADAM_CASES = [
    ("defaults-lr0.1", dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)),
    ("eps0.01", dict(lr=0.1, beta1=0.9, beta2=0.999, eps=0.01, weight_decay=0.0)),
    ("weight-decay", dict(lr=0.05, beta1=0.9, beta2=0.999, eps=0.01, weight_decay=0.3)),
    ("betas-0.5-0.8", dict(lr=0.2, beta1=0.5, beta2=0.8, eps=0.001, weight_decay=0.1)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in ADAM_CASES], ids=[c[0] for c in ADAM_CASES])
def test_adam_three_steps_follow_the_closed_form(kwargs):
    opt = run_three_steps(
        ndl.optim.Adam, kwargs, adam_history, seed=2,
        hint="g = grad + weight_decay * theta (L2, not AdamW); m, v moving averages; t += 1 once per "
        "step() call, shared by all parameters; theta -= lr * m_hat / (sqrt(v_hat) + eps), eps outside "
        "the sqrt, with the bias corrections m / (1 - beta1**t) and v / (1 - beta2**t)",
    )
    assert opt.t == 3, (
        f"Adam.t should count step() calls: 3 after three steps with two parameters, got {opt.t}; "
        f"increment it once per step(), not once per parameter"
    )


def sgd_and_adam(ids, adam_case=2):
    """Parametrize (opt_class, kwargs) over SGD with momentum and weight decay,
    and Adam with ADAM_CASES[adam_case]."""
    return pytest.mark.parametrize(
        "opt_class, kwargs", [(ndl.optim.SGD, SGD_CASES[3][1]), (ndl.optim.Adam, ADAM_CASES[adam_case][1])], ids=ids,
    )


HISTORY = {ndl.optim.SGD: sgd_history, ndl.optim.Adam: adam_history}


@sgd_and_adam(["SGD-momentum-weight-decay", "Adam-weight-decay"])
def test_step_does_not_change_the_gradients(opt_class, kwargs):
    _, grads, params, opt = set_up(opt_class, kwargs, 3)
    step_keeping_gradients(opt, params, grads,
                           hint="compute grad + weight_decay * theta into a new value; never write into p.grad")


@sgd_and_adam(["SGD", "Adam"])
def test_parameters_without_a_gradient_are_skipped(opt_class, kwargs):
    thetas, grads = problem(4)
    params = make_params(thetas)
    frozen_value = np.arange(5, dtype=np.float32)
    frozen = nn.Parameter(frozen_value.copy())
    opt = opt_class([params[0], frozen, params[1]], **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        frozen.grad = None
        opt.step()
    assert_close(frozen, frozen_value, what=f"a parameter whose grad is None after three {opt_class.__name__} steps",
                 hint="skip parameters with p.grad is None (no weight decay, no state)")
    final = HISTORY[opt_class](thetas, grads, **kwargs)[-1][0]
    for i, p in enumerate(params):
        assert_close(p, final[i].astype(np.float32), tol=TOL["float32"],
                     what=f"parameter {i} next to a skipped one, after three steps")


def state_tensors(opt):
    """Every value the optimizer keeps in its per-parameter state dicts."""
    names = ("u",) if isinstance(opt, ndl.optim.SGD) else ("m", "v")
    return [(f"{name}[{i}]", value) for name in names for i, value in enumerate(getattr(opt, name).values())]


@sgd_and_adam(["SGD", "Adam"], adam_case=3)
def test_parameters_stay_float32_leaves_and_state_stays_float32_data(opt_class, kwargs):
    _, grads, params, opt = set_up(opt_class, kwargs, 5)
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()
    for i, p in enumerate(params):
        assert isinstance(p, nn.Parameter), f"parameter {i} is no longer the same nn.Parameter"
        assert p.op is None, (
            f"after {opt_class.__name__}.step() parameter {i} has op {type(p.op).__name__}: it must stay a "
            f"leaf; assign new data with p.data = ... (computed from detached values)"
        )
        assert p.requires_grad, f"parameter {i} lost requires_grad after {opt_class.__name__}.step()"
        assert p.dtype == np.float32, (
            f"parameter {i} became {p.dtype} after {opt_class.__name__}.step(); use Python floats for the "
            f"hyperparameters so float32 stays float32"
        )
    state = state_tensors(opt)
    assert state, f"{opt_class.__name__} kept no per-parameter state in its dicts"
    for name, value in state:
        if isinstance(value, ndl.Tensor):
            assert value.op is None, f"{opt_class.__name__}.{name} holds a graph (op {type(value.op).__name__}); detach it"
        assert as_numpy(value).dtype == np.float32, (
            f"{opt_class.__name__}.{name} is {as_numpy(value).dtype}, expected float32"
        )


# --- live tensors do not grow with the number of steps -----------------------


def live_tensors_after(steps, make_opt):
    """Live needle Values added by ``steps`` steps on hand-made Parameters
    (the parameters, the optimizer and the last gradients still alive).  Each
    step's gradient is computed from its parameter, ``p * 2 + 1``: like a
    gradient from backward(), it carries a graph back to ``p``, so an
    optimizer that keeps it (or anything built from it) un-detached in its
    state or in the parameter keeps every step's graph alive."""
    gc.collect()
    start = ndl.autograd.TENSOR_COUNTER
    params = make_params(problem(6)[0])
    opt = make_opt(params)
    for _ in range(steps):
        for p in params:
            p.grad = p * 2.0 + 1.0
        opt.step()
    gc.collect()
    count = ndl.autograd.TENSOR_COUNTER - start
    del params, opt
    return count


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", lambda ps: ndl.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("Adam-weight-decay", lambda ps: ndl.optim.Adam(ps, lr=0.001, weight_decay=0.01)),
]


@pytest.mark.parametrize("make_opt", [c[1] for c in MEMORY_CASES], ids=[c[0] for c in MEMORY_CASES])
def test_live_tensor_count_does_not_grow_with_steps(make_opt):
    after_10 = live_tensors_after(10, make_opt)
    after_50 = live_tensors_after(50, make_opt)
    assert abs(after_50 - after_10) <= 2, (
        f"{after_10} live tensors after 10 steps but {after_50} after 50: something keeps each step's "
        f"graph alive; compute updates and optimizer state from detached data "
        f"(.data / .detach() / .numpy()) so that no Tensor links back to earlier steps"
    )


# --- the course's end-to-end values (needle_api.md 9.4) ----------------------
#
# The course's learn_model_1d rows whose model is Sequential(Linear(64, 32),
# ReLU(), Linear(32, 16)), rebuilt without nn modules: the four Parameters are
# drawn exactly as the two Linear layers draw them, the forward and the
# softmax loss are needle ops.  (The rows with BatchNorm1d, LayerNorm1d or
# Residual are in test_modules.py.)


def linear_parameters(fan_in, fan_out):
    """nn.Linear(fan_in, fan_out)'s weight, then its bias, as Parameters drawn
    as Linear draws them."""
    return [nn.Parameter(a) for a in draw_linear(fan_in, fan_out)]


def mlp_forward(params, X):
    """Sequential(Linear, ReLU(), Linear)(X) on the parameters of linear_parameters."""
    W1, b1, W2, b2 = params
    hidden = ndl.relu(X @ W1 + b1.broadcast_to((X.shape[0], W1.shape[1])))
    return hidden @ W2 + b2.broadcast_to((X.shape[0], W2.shape[1]))


def softmax_loss(logits, y):
    """nn.SoftmaxLoss()(logits, y) from ops: the batch mean of -logsoftmax(z)_y."""
    y_one_hot = ndl.Tensor(np.eye(logits.shape[1], dtype=np.float32)[y], requires_grad=False)
    return ndl.summation(ndl.logsoftmax(logits) * y_one_hot) / -logits.shape[0]


def learn_mlp_1d(optimizer, **kwargs):
    """The course harness for the Linear-ReLU-Linear model: seed 42, draw the
    parameters, 32 in-order batches of 32 rows of get_tensor(1024, 64) with
    uint8 labels in [0, 16); returns the last batch's loss.  It first checks
    that a step of another optimizer, with every gradient None, changes
    nothing."""
    np.random.seed(42)
    params = linear_parameters(64, 32) + linear_parameters(32, 16)
    initial = [p.numpy().copy() for p in params]
    idle = optimizer(params, **kwargs)
    idle.reset_grad()  # every .grad is None
    idle.step()
    for i, (p, value) in enumerate(zip(params, initial)):
        assert_close(p, value, what=f"parameter {i} after a {optimizer.__name__} step with no gradients",
                     hint="skip parameters whose grad is None")
    opt = optimizer(params, **kwargs)

    def step():
        grad_before = params[0].grad.numpy().copy()
        opt.step()
        assert_close(params[0].grad, grad_before, what="the first parameter's gradient across opt.step()",
                     hint="the optimizer should not modify gradients in place")

    return train_on_batches(
        course_1d_batches(), lambda X0, y0: softmax_loss(mlp_forward(params, ndl.Tensor(X0, dtype="float32")), y0),
        opt, step=step,
    )


COURSE_CASES = [
    # (id, optimizer, options, published last loss)
    ("sgd_vanilla_1", "SGD", dict(lr=0.01, momentum=0.0), 3.207009),
    ("sgd_momentum_1", "SGD", dict(lr=0.01, momentum=0.9), 3.311805),
    ("sgd_weight_decay_1", "SGD", dict(lr=0.01, momentum=0.0, weight_decay=0.01), 3.202637),
    ("sgd_momentum_weight_decay_1", "SGD", dict(lr=0.01, momentum=0.9, weight_decay=0.01), 3.306993),
    ("adam_1", "Adam", dict(lr=0.001), 3.703999),
    ("adam_weight_decay_1", "Adam", dict(lr=0.001, weight_decay=0.01), 3.705134),
]


@pytest.mark.parametrize("opt_name, kwargs, expected", [c[1:] for c in COURSE_CASES],
                         ids=[c[0] for c in COURSE_CASES])
def test_course_learn_model_1d_values(opt_name, kwargs, expected):
    loss = learn_mlp_1d(getattr(ndl.optim, opt_name), **kwargs)
    assert loss.size == 1, f"the loss should be a single value, got shape {loss.shape}"
    assert_close(
        loss.reshape(()), np.float32(expected), tol=TOL["float32"],
        what=f"learn_model_1d({opt_name}, {kwargs}) last loss (course value)",
        hint="see needle_api.md section 5 for the exact update rules; the unit tests above say which one is off",
    )
