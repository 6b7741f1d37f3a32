"""Hidden tests, question "optimizers": ``needle.optim.SGD`` and ``needle.optim.Adam``.

Every test drives the optimizer on hand-made ``nn.Parameter``s whose ``.grad``
is set by hand (no module, no backward), and compares with closed forms
computed here in float64:

    SGD:  u <- m u + (1 - m)(grad + wd theta);  theta <- theta - lr u
    Adam: g = grad + wd theta;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
          t counts step() calls;  theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
"""
import gc

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import TOL, Tol, as_numpy, assert_close, op_node

SHAPES = [(3, 2), (5,)]  # two parameters of different shapes


def problem(seed, steps=4, exponents=(-1, 1)):
    """float32 initial values of the two parameters and float32 gradients for
    each step, of magnitudes 10**e for e in [exponents[0], exponents[1])."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [
        [(rng.standard_normal(s) * 10.0 ** rng.integers(*exponents, size=s)).astype(np.float32) for s in SHAPES]
        for _ in range(steps)
    ]
    return thetas, grads


def make_params(thetas):
    return [nn.Parameter(theta.copy()) for theta in thetas]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = ndl.Tensor(g.copy(), requires_grad=False)


def sgd_history(thetas, grads, lr, momentum, weight_decay):
    """[(thetas, us)] after each step, float64."""
    thetas = [t.astype(np.float64) for t in thetas]
    us = [np.zeros_like(t) for t in thetas]
    history = []
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            us[i] = momentum * us[i] + (1 - momentum) * (g + weight_decay * thetas[i])
            thetas[i] = thetas[i] - lr * us[i]
        history.append(([t.copy() for t in thetas], [u.copy() for u in us]))
    return history


def adam_history(thetas, grads, lr, beta1, beta2, eps, weight_decay):
    """[(thetas, ms, vs)] after each step, float64."""
    thetas = [t.astype(np.float64) for t in thetas]
    ms = [np.zeros_like(t) for t in thetas]
    vs = [np.zeros_like(t) for t in thetas]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            g = grad + weight_decay * thetas[i]
            ms[i] = beta1 * ms[i] + (1 - beta1) * g
            vs[i] = beta2 * vs[i] + (1 - beta2) * g * g
            m_hat, v_hat = ms[i] / (1 - beta1 ** t), vs[i] / (1 - beta2 ** t)
            thetas[i] = thetas[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(([x.copy() for x in thetas], [x.copy() for x in ms], [x.copy() for x in vs]))
    return history


def state_values(opt, name, count):
    """The first ``count`` values of the optimizer's state dict ``name`` (one
    per parameter, in the order the parameters were first stepped)."""
    state = getattr(opt, name, None)
    assert isinstance(state, dict), f"{type(opt).__name__}.{name} should be a dict of per-parameter state"
    values = list(state.values())
    assert len(values) == count, (
        f"{type(opt).__name__}.{name} should hold one entry per parameter with a gradient ({count}), "
        f"got {len(values)}"
    )
    return values


# --- SGD ---------------------------------------------------------------------

SGD_CASES = [
    ("plain-lr0.3", dict(lr=0.3, momentum=0.0, weight_decay=0.0)),
    ("momentum-0.7", dict(lr=0.2, momentum=0.7, weight_decay=0.0)),
    ("weight-decay-0.3", dict(lr=0.2, momentum=0.0, weight_decay=0.3)),
    ("momentum-0.5-weight-decay-0.4", dict(lr=0.4, momentum=0.5, weight_decay=0.4)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES])
def test_sgd_four_steps_on_two_parameters(kwargs):
    """SGD: dampened momentum and L2 weight decay added to the gradient, step after step."""
    thetas, grads = problem(11)
    params = make_params(thetas)
    opt = ndl.optim.SGD(params, **kwargs)
    history = sgd_history(thetas, grads, **kwargs)
    hint = ("u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta), u starting at 0; "
            "theta <- theta - lr * u")
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        opt.step()
        want_thetas, want_us = history[step - 1]
        for i, p in enumerate(params):
            assert_close(p, want_thetas[i].astype(np.float32), tol=TOL["float32"],
                         what=f"SGD({kwargs}) parameter {i} after step {step}", hint=hint)
        if kwargs["momentum"] > 0:
            for i, u in enumerate(state_values(opt, "u", len(params))):
                assert_close(as_numpy(u), want_us[i].astype(np.float32), tol=TOL["float32"],
                             what=f"SGD.u of parameter {i} after step {step}", hint=hint)


# --- Adam --------------------------------------------------------------------

ADAM_CASES = [
    # (id, hyperparameters, gradient magnitudes as powers of ten)
    ("bias-correction-betas-0.8-0.95", dict(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-8, weight_decay=0.0), (-1, 1)),
    ("small-gradients-default-eps", dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0), (-5, -3)),
    ("weight-decay-0.2", dict(lr=0.03, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.2), (-2, 0)),
    ("eps-0.001-weight-decay-0.05", dict(lr=0.1, beta1=0.7, beta2=0.9, eps=1e-3, weight_decay=0.05), (-3, -1)),
]


@pytest.mark.parametrize("kwargs, exponents", [c[1:] for c in ADAM_CASES], ids=[c[0] for c in ADAM_CASES])
def test_adam_four_steps_on_two_parameters(kwargs, exponents):
    """Adam: bias-corrected moments, eps added after the square root, L2 weight decay, one step count per step()."""
    thetas, grads = problem(12, exponents=exponents)
    params = make_params(thetas)
    opt = ndl.optim.Adam(params, **kwargs)
    history = adam_history(thetas, grads, **kwargs)
    hint = ("g = grad + weight_decay * theta (not AdamW); t += 1 once per step() for all parameters; "
            "theta -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)")
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        opt.step()
        want_thetas, want_ms, want_vs = history[step - 1]
        for i, p in enumerate(params):
            assert_close(p, want_thetas[i].astype(np.float32), tol=TOL["float32"],
                         what=f"Adam({kwargs}) parameter {i} after step {step}", hint=hint)
        for name, want in (("m", want_ms), ("v", want_vs)):
            for i, value in enumerate(state_values(opt, name, len(params))):
                # Relative to the state's own scale: the moments of tiny gradients are tiny.
                tol = Tol(rtol=1e-5, atol=1e-5 * float(np.abs(want[i]).max()))
                assert_close(as_numpy(value), want[i].astype(np.float32), tol=tol,
                             what=f"Adam.{name} of parameter {i} after step {step}", hint=hint)
    assert opt.t == len(grads), (
        f"Adam.t should count step() calls ({len(grads)} with two parameters), got {opt.t}"
    )


# --- gradients, skipped parameters, dtypes -----------------------------------

OPTIMIZERS = [
    ("SGD", ndl.optim.SGD, dict(lr=0.1, momentum=0.8, weight_decay=0.3), sgd_history),
    ("Adam", ndl.optim.Adam, dict(lr=0.02, beta1=0.85, beta2=0.99, eps=1e-8, weight_decay=0.3), adam_history),
]
OPT_IDS = [c[0] for c in OPTIMIZERS]


@pytest.mark.parametrize("name, opt_class, kwargs, history", OPTIMIZERS, ids=OPT_IDS)
def test_step_leaves_gradients_untouched(name, opt_class, kwargs, history):
    """The optimizer reads each gradient but never changes it."""
    thetas, grads = problem(13, steps=3)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        before = [p.grad for p in params]
        opt.step()
        for i, (p, g) in enumerate(zip(params, step_grads)):
            assert p.grad is before[i], f"{name}.step() replaced parameter {i}'s .grad"
            assert_close(p.grad, g, what=f"parameter {i}'s .grad after {name}.step() {step}",
                         hint="add the weight decay into a new value; never write into p.grad")
    final = history(thetas, grads, **kwargs)[-1][0]
    for i, p in enumerate(params):
        assert_close(p, final[i].astype(np.float32), tol=TOL["float32"], what=f"{name} parameter {i} after 3 steps")


@pytest.mark.parametrize("name, opt_class, kwargs, history", OPTIMIZERS, ids=OPT_IDS)
def test_parameters_whose_grad_is_none_are_left_alone(name, opt_class, kwargs, history):
    """A parameter without a gradient is skipped: no weight decay, no state, no move."""
    thetas, grads = problem(14, steps=3)
    params = make_params(thetas)
    frozen_value = np.linspace(-1.0, 2.0, 6, dtype=np.float32).reshape(2, 3)
    frozen = nn.Parameter(frozen_value.copy())
    opt_class([frozen, params[0], params[1]], **kwargs).step()  # no parameter has a gradient yet
    for i, p in enumerate(params):
        assert_close(p, thetas[i], what=f"{name} parameter {i} after a step with no gradients at all")
    opt = opt_class([frozen, params[0], params[1]], **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        frozen.grad = None
        opt.step()
    assert_close(frozen, frozen_value, what=f"the parameter whose grad is None after {name} steps",
                 hint="skip parameters with p.grad is None")
    final = history(thetas, grads, **kwargs)[-1][0]
    for i, p in enumerate(params):
        assert_close(p, final[i].astype(np.float32), tol=TOL["float32"],
                     what=f"{name} parameter {i} next to a skipped one, after three steps")


@pytest.mark.parametrize("name, opt_class, kwargs, history", OPTIMIZERS, ids=OPT_IDS)
def test_parameters_and_state_stay_float32_leaves(name, opt_class, kwargs, history):
    """After step() every parameter is still a float32 leaf, and the optimizer's state is float32 data."""
    thetas, grads = problem(15, steps=2)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()
    final = history(thetas, grads, **kwargs)[-1][0]
    for i, p in enumerate(params):
        assert isinstance(p, nn.Parameter) and p.op is None, (
            f"after {name}.step() parameter {i} should be the same leaf nn.Parameter; assign new data with p.data = ..."
        )
        assert p.requires_grad, f"parameter {i} lost requires_grad after {name}.step()"
        assert p.dtype == np.float32, f"parameter {i} became {p.dtype} after {name}.step(); keep float32"
        assert_close(p, final[i].astype(np.float32), tol=TOL["float32"], what=f"{name} parameter {i} after 2 steps")
    for state_name in (("u",) if name == "SGD" else ("m", "v")):
        for i, value in enumerate(state_values(opt, state_name, len(params))):
            if isinstance(value, ndl.Tensor):
                assert value.op is None, f"{name}.{state_name} of parameter {i} holds a graph; detach it"
            assert as_numpy(value).dtype == np.float32, (
                f"{name}.{state_name} of parameter {i} is {as_numpy(value).dtype}, expected float32"
            )


# --- live tensors stay flat over many steps ----------------------------------


def train_with_graph_gradients(make_opt, steps, seed=16):
    """Live needle Values added by ``steps`` steps on two Parameters whose
    gradient each step is the node ``p * 1.5 + 0.25`` built on ``p`` (a graph
    like backward() leaves), and the final parameter values."""
    gc.collect()
    start = ndl.autograd.TENSOR_COUNTER
    params = make_params(problem(seed)[0])
    opt = make_opt(params)
    for _ in range(steps):
        for p in params:
            p.grad = op_node(ndl.ops.MulScalar(1.5), [p], lambda a: a * np.float32(1.5) + np.float32(0.25))
        opt.step()
    gc.collect()
    count = ndl.autograd.TENSOR_COUNTER - start
    values = [p.numpy().copy() for p in params]
    del params, opt
    return count, values


def make_thetas(seed):
    return problem(seed)[0]


def sgd_with_own_gradients(thetas, steps, lr, momentum, weight_decay):
    thetas = [t.astype(np.float64) for t in thetas]
    us = [np.zeros_like(t) for t in thetas]
    for _ in range(steps):
        for i in range(len(thetas)):
            g = 1.5 * thetas[i] + 0.25
            us[i] = momentum * us[i] + (1 - momentum) * (g + weight_decay * thetas[i])
            thetas[i] = thetas[i] - lr * us[i]
    return thetas


def adam_with_own_gradients(thetas, steps, lr, beta1, beta2, eps, weight_decay):
    thetas = [t.astype(np.float64) for t in thetas]
    ms = [np.zeros_like(t) for t in thetas]
    vs = [np.zeros_like(t) for t in thetas]
    for t in range(1, steps + 1):
        for i in range(len(thetas)):
            g = 1.5 * thetas[i] + 0.25 + weight_decay * thetas[i]
            ms[i] = beta1 * ms[i] + (1 - beta1) * g
            vs[i] = beta2 * vs[i] + (1 - beta2) * g * g
            thetas[i] = thetas[i] - lr * (ms[i] / (1 - beta1 ** t)) / (np.sqrt(vs[i] / (1 - beta2 ** t)) + eps)
    return thetas


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", ndl.optim.SGD, dict(lr=0.02, momentum=0.8, weight_decay=0.05),
     sgd_with_own_gradients),
    ("Adam-weight-decay", ndl.optim.Adam, dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05),
     adam_with_own_gradients),
]


@pytest.mark.parametrize("opt_class, kwargs, closed_form", [c[1:] for c in MEMORY_CASES],
                         ids=[c[0] for c in MEMORY_CASES])
def test_live_tensors_stay_flat_over_steps(opt_class, kwargs, closed_form):
    """Gradients that carry a graph must not keep earlier steps alive through the optimizer."""
    after_10, values_10 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 10)
    after_40, values_40 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 40)
    for steps, values in ((10, values_10), (40, values_40)):
        want = closed_form(make_thetas(16), steps, **kwargs)
        for i, value in enumerate(values):
            assert_close(value, want[i].astype(np.float32), tol=TOL["training"],
                         what=f"{opt_class.__name__} parameter {i} after {steps} steps with gradient 1.5 p + 0.25")
    assert abs(after_40 - after_10) <= 2, (
        f"{after_10} live tensors after 10 steps but {after_40} after 40: the optimizer keeps each step's graph "
        f"alive; compute the update and the state from detached data (.data / .detach() / .numpy())"
    )
