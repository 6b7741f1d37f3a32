"""Hidden tests, question "optimizers": ``needle.optim.SGD`` and ``needle.optim.Adam``.

Every test drives the optimizer on hand-made ``nn.Parameter``s whose ``.grad``
is set by hand (no module, no backward), and hands over the parameters (and
the optimizer's state) after each step; the grader compares them with the
reference's:

    SGD:  u <- m u + (1 - m)(grad + wd theta);  theta <- theta - lr u
    Adam: g = grad + wd theta;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
          t counts step() calls;  theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
    SGD.clip_grad_norm(max_norm): scale every gradient by max_norm / (joint L2 norm) when that norm exceeds max_norm
"""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.inputs import make_params, optimizer_problem, set_grads
from grader.box.optimizers import clip_gradients, live_tensors_after, state_values, steps
from grader.box.record import check, in_behaviour, observe

SHAPES = [(3, 2), (5,)]  # two parameters of different shapes


def problem(seed, steps=4, exponents=(-1, 1)):
    """float32 initial values of the two parameters and float32 gradients for
    each step, of magnitudes 10**e for e in [exponents[0], exponents[1])."""
    return optimizer_problem(seed, SHAPES, steps, exponents)


def step_and_check(opt_class, kwargs, thetas, grads, hint, states=(), counter=None):
    """Step an ``opt_class(params, **kwargs)`` optimizer over Parameters of
    initial values ``thetas`` with each step's ``grads``; after each step
    hand over the step counter (if named), every parameter, then each named
    state (one value per parameter)."""
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    name = opt_class.__name__
    for step in steps(opt, params, grads):
        if counter:
            observe(getattr(opt, counter), what=f"{name}.{counter} after {step} step() call(s) with two parameters",
                    hint=f"increment {counter} once per step(), not once per parameter")
        for i, p in enumerate(params):
            check(p, what=f"{name}({kwargs}) parameter {i} (shape {p.shape}) after step {step}", hint=hint)
        for state_name in states:
            values = state_values(opt, state_name)
            observe(len(values), what=f"number of entries of {name}.{state_name} after step {step}")
            for i, value in enumerate(values):
                check(value, what=f"{name}.{state_name} of parameter {i} after step {step}", hint=hint)


# --- SGD ---------------------------------------------------------------------

SGD_CASES = [
    ("plain-lr0.3", dict(lr=0.3, momentum=0.0, weight_decay=0.0)),
    ("momentum-0.7", dict(lr=0.2, momentum=0.7, weight_decay=0.0)),
    ("weight-decay-0.3", dict(lr=0.2, momentum=0.0, weight_decay=0.3)),
    ("momentum-0.5-weight-decay-0.4", dict(lr=0.4, momentum=0.5, weight_decay=0.4)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES])
@pytest.mark.behaviour("SGD")
def test_sgd_four_steps_on_two_parameters(kwargs):
    """SGD: dampened momentum and L2 weight decay added to the gradient, step after step."""
    thetas, grads = problem(11)
    step_and_check(ndl.optim.SGD, kwargs, thetas, grads,
                   hint="u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta), u starting at 0; "
                   "theta <- theta - lr * u",
                   states=("u",) if kwargs["momentum"] > 0 else ())


# --- Adam --------------------------------------------------------------------

ADAM_CASES = [
    # (id, hyperparameters, gradient magnitudes as powers of ten)
    ("bias-correction-betas-0.8-0.95", dict(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-8, weight_decay=0.0), (-1, 1)),
    ("small-gradients-default-eps", dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0), (-5, -3)),
    ("weight-decay-0.2", dict(lr=0.03, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.2), (-2, 0)),
    ("eps-0.001-weight-decay-0.05", dict(lr=0.1, beta1=0.7, beta2=0.9, eps=1e-3, weight_decay=0.05), (-3, -1)),
]


@pytest.mark.parametrize("kwargs, exponents", [c[1:] for c in ADAM_CASES], ids=[c[0] for c in ADAM_CASES])
@pytest.mark.behaviour("Adam")
def test_adam_four_steps_on_two_parameters(kwargs, exponents):
    """Adam: bias-corrected moments, eps added after the square root, L2 weight decay, one step count per step()."""
    thetas, grads = problem(12, exponents=exponents)
    step_and_check(
        ndl.optim.Adam, kwargs, thetas, grads,
        hint="g = grad + weight_decay * theta (not AdamW); t += 1 once per step() for all parameters; "
        "theta -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)",
        states=("m", "v"), counter="t",
    )


# --- gradients, skipped parameters, dtypes -----------------------------------

OPTIMIZERS = [
    ("SGD", ndl.optim.SGD, dict(lr=0.1, momentum=0.8, weight_decay=0.3)),
    ("Adam", ndl.optim.Adam, dict(lr=0.02, beta1=0.85, beta2=0.99, eps=1e-8, weight_decay=0.3)),
]
OPT_IDS = [c[0] for c in OPTIMIZERS]


@pytest.mark.parametrize("name, opt_class, kwargs", [in_behaviour(c[0], *c, id=c[0]) for c in OPTIMIZERS])
def test_step_leaves_gradients_untouched(name, opt_class, kwargs):
    """The optimizer reads each gradient but never changes it."""
    thetas, grads = problem(13, steps=3)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    hint = "add the weight decay into a new value; never write into p.grad"
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        before = [p.grad for p in params]
        opt.step()
        for i, p in enumerate(params):
            observe(p.grad is before[i], what=f"parameter {i} keeps the same .grad Tensor across {name}.step() {step}",
                    hint=hint)
            observe(p.grad, what=f"parameter {i}'s .grad after {name}.step() {step}", hint=hint)
    for i, p in enumerate(params):
        check(p, what=f"{name} parameter {i} after 3 steps")


@pytest.mark.parametrize("name, opt_class, kwargs", [in_behaviour(c[0], *c, id=c[0]) for c in OPTIMIZERS])
def test_parameters_whose_grad_is_none_are_left_alone(name, opt_class, kwargs):
    """A parameter without a gradient is skipped: no weight decay, no state, no move."""
    thetas, grads = problem(14, steps=3)
    params = make_params(thetas)
    frozen = nn.Parameter(np.linspace(-1.0, 2.0, 6, dtype=np.float32).reshape(2, 3))
    opt_class([frozen, params[0], params[1]], **kwargs).step()  # no parameter has a gradient yet
    for i, p in enumerate(params):
        observe(p, what=f"{name} parameter {i} after a step with no gradients at all")
    opt = opt_class([frozen, params[0], params[1]], **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        frozen.grad = None
        opt.step()
    observe(frozen, what=f"the parameter whose grad is None after {name} steps",
            hint="skip parameters with p.grad is None")
    for i, p in enumerate(params):
        check(p, what=f"{name} parameter {i} next to a skipped one, after three steps")


@pytest.mark.parametrize("name, opt_class, kwargs", [in_behaviour(c[0], *c, id=c[0]) for c in OPTIMIZERS])
def test_parameters_and_state_stay_float32_leaves(name, opt_class, kwargs):
    """After step() every parameter is still a float32 leaf, and the optimizer's state is float32 data."""
    thetas, grads = problem(15, steps=2)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    for _ in steps(opt, params, grads):
        pass
    for i, p in enumerate(params):
        observe(isinstance(p, nn.Parameter) and p.op is None,
                what=f"parameter {i} is still a leaf nn.Parameter after {name}.step()",
                hint="assign new data with p.data = ...")
        observe(bool(p.requires_grad), what=f"parameter {i}.requires_grad after {name}.step()")
        check(p, what=f"{name} parameter {i} after 2 steps")
    for state_name in (("u",) if name == "SGD" else ("m", "v")):
        values = state_values(opt, state_name)
        observe(len(values), what=f"number of entries of {name}.{state_name}")
        for i, value in enumerate(values):
            observe(not isinstance(value, ndl.Tensor) or value.op is None,
                    what=f"{name}.{state_name} of parameter {i} holds no graph", hint="detach it")
            check(value, what=f"{name}.{state_name} of parameter {i} after 2 steps")


# --- live tensors stay flat over many steps ----------------------------------


def train_with_graph_gradients(make_opt, steps_count, seed=16):
    """Live needle Values added by ``steps_count`` steps on two Parameters
    whose gradient each step is the node ``p * 1.5 + 0.25`` built on ``p``
    (a graph like backward() leaves), and the parameters."""
    return live_tensors_after(steps_count, lambda: make_params(problem(seed)[0]), make_opt,
                              lambda p: p * 1.5 + 0.25)


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", ndl.optim.SGD, dict(lr=0.02, momentum=0.8, weight_decay=0.05)),
    ("Adam-weight-decay", ndl.optim.Adam, dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05)),
]


@pytest.mark.parametrize("opt_class, kwargs", [in_behaviour(c[0].split("-")[0], *c[1:], id=c[0]) for c in MEMORY_CASES])
def test_live_tensors_stay_flat_over_steps(opt_class, kwargs):
    """Gradients that carry a graph must not keep earlier steps alive through the optimizer."""
    after_10, params_10 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 10)
    for i, p in enumerate(params_10):
        check(p, what=f"{opt_class.__name__} parameter {i} after 10 steps with gradient 1.5 p + 0.25", tol="training")
    after_40, params_40 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 40)
    for i, p in enumerate(params_40):
        check(p, what=f"{opt_class.__name__} parameter {i} after 40 steps with gradient 1.5 p + 0.25", tol="training")
    observe(abs(after_40 - after_10) <= 2,
            what="the live-tensor count after 40 steps is within 2 of the count after 10 steps",
            hint="the optimizer keeps each step's graph alive; compute the update and the state from detached data "
            "(.data / .detach() / .numpy())")


# --- SGD.clip_grad_norm ------------------------------------------------------

CLIP_HINT = ("the norm is joint over every gradient of every parameter that has one; when it exceeds max_norm, "
             "multiply every gradient by max_norm / norm")

CLIP_SHAPES = [(3, 2), (5,), (2, 2)]


@pytest.mark.parametrize("max_norm", [0.1, 2.0, None], ids=["max-norm-0.1", "max-norm-2", "default-max-norm"])
@pytest.mark.behaviour("clip_grad_norm")
def test_clip_grad_norm_scales_to_max_norm(max_norm):
    """clip_grad_norm scales every gradient by the same factor, down to a joint norm of max_norm."""
    # entries of magnitude >= 1: the joint norm is above 3.8 for any draw
    params = make_params(optimizer_problem(21, CLIP_SHAPES, steps=0)[0])
    set_grads(params, clip_gradients(CLIP_SHAPES, 21, scales=(2.0, 2.0, 2.0)))
    opt = ndl.optim.SGD(params, lr=0.1)
    if max_norm is None:
        opt.clip_grad_norm()
    else:
        opt.clip_grad_norm(max_norm)
    for i, p in enumerate(params):
        check(p.grad, what=f"parameter {i}'s .grad after clip_grad_norm({'' if max_norm is None else max_norm})",
              hint=CLIP_HINT + ("; max_norm defaults to 0.25" if max_norm is None else ""))


@pytest.mark.behaviour("clip_grad_norm")
def test_clip_grad_norm_skips_parameters_without_a_gradient():
    """clip_grad_norm skips parameters whose grad is None, in the norm and in the scaling."""
    params = make_params(optimizer_problem(22, CLIP_SHAPES, steps=0)[0])
    grads = clip_gradients(CLIP_SHAPES, 22, scales=(1.0, 1.0, 1.0))
    set_grads(params, grads)
    params[1].grad = None
    ndl.optim.SGD(params, lr=0.1).clip_grad_norm(0.5)
    observe(params[1].grad is None, what="the .grad of the parameter without a gradient is still None",
            hint="skip parameters whose grad is None")
    for i in (0, 2):
        check(params[i].grad, what=f"parameter {i}'s .grad after clip_grad_norm(0.5), parameter 1 without a gradient",
              hint=CLIP_HINT)


@pytest.mark.behaviour("clip_grad_norm")
def test_clip_grad_norm_below_max_norm_leaves_gradients_alone():
    """Gradients whose joint norm is already at most max_norm are left as they are."""
    # entries of magnitude < 0.02: the joint norm is below 0.08 for any draw
    params = make_params(optimizer_problem(23, CLIP_SHAPES, steps=0)[0])
    set_grads(params, clip_gradients(CLIP_SHAPES, 23, scales=(0.01, 0.01, 0.01)))
    ndl.optim.SGD(params, lr=0.1).clip_grad_norm(0.25)
    for i, p in enumerate(params):
        observe(p.grad, what=f"parameter {i}'s .grad after clip_grad_norm(0.25) with a joint norm below 0.25",
                hint="scale only when the joint norm exceeds max_norm")
    for i, p in enumerate(params):
        observe(p, what=f"parameter {i} after clip_grad_norm (it changes gradients only)")


@pytest.mark.behaviour("clip_grad_norm")
def test_clip_grad_norm_then_step_uses_the_clipped_gradients():
    """A step after clip_grad_norm moves the parameters by the clipped gradients."""
    thetas, _ = optimizer_problem(24, CLIP_SHAPES, steps=0)
    params = make_params(thetas)
    opt = ndl.optim.SGD(params, lr=0.1, momentum=0.5, weight_decay=0.1)
    for step in range(1, 4):
        set_grads(params, clip_gradients(CLIP_SHAPES, [24, step], scales=(1.0, 0.1, 1.0)))
        opt.clip_grad_norm(0.5)
        opt.step()
        for i, p in enumerate(params):
            check(p, what=f"parameter {i} after clip_grad_norm(0.5) and step {step}",
                  hint=CLIP_HINT + "; step() then uses the clipped p.grad")
