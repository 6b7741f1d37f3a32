"""Hidden tests, question "optimizers": ``needle.optim.SGD`` and ``needle.optim.Adam``.

Every test drives the optimizer on hand-made ``nn.Parameter``s whose ``.grad``
is set by hand (no module, no backward), and compares with closed forms
computed in float64 (numpy_reference.py):

    SGD:  u <- m u + (1 - m)(grad + wd theta);  theta <- theta - lr u
    Adam: g = grad + wd theta;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
          t counts step() calls;  theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
"""
import gc

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import (
    TOL, Tol, as_numpy, assert_close, op_node, state_values, step_and_compare, step_keeping_gradients,
)
from tests_public.numpy_reference import adam_history, make_params, optimizer_problem, set_grads, sgd_history

SHAPES = [(3, 2), (5,)]  # two parameters of different shapes


def problem(seed, steps=4, exponents=(-1, 1)):
    """float32 initial values of the two parameters and float32 gradients for
    each step, of magnitudes 10**e for e in [exponents[0], exponents[1])."""
    return optimizer_problem(seed, SHAPES, steps, exponents)


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
    step_and_compare(ndl.optim.SGD, kwargs, thetas, grads, sgd_history,
                     hint="u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta), u starting at 0; "
                     "theta <- theta - lr * u",
                     states=("u",) if kwargs["momentum"] > 0 else (), state_tol=lambda want: TOL["float32"])


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
    opt = step_and_compare(
        ndl.optim.Adam, kwargs, thetas, grads, adam_history,
        hint="g = grad + weight_decay * theta (not AdamW); t += 1 once per step() for all parameters; "
        "theta -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)",
        states=("m", "v"),
        # Relative to the state's own scale: the moments of tiny gradients are tiny.
        state_tol=lambda want: Tol(rtol=1e-5, atol=1e-5 * float(np.abs(want).max())),
    )
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
    step_keeping_gradients(opt, params, grads, hint="add the weight decay into a new value; never write into p.grad")
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


def own_gradient(theta):
    """The gradient train_with_graph_gradients gives each parameter."""
    return 1.5 * theta + 0.25


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", ndl.optim.SGD, dict(lr=0.02, momentum=0.8, weight_decay=0.05), sgd_history),
    ("Adam-weight-decay", ndl.optim.Adam, dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05),
     adam_history),
]


@pytest.mark.parametrize("opt_class, kwargs, history", [c[1:] for c in MEMORY_CASES],
                         ids=[c[0] for c in MEMORY_CASES])
def test_live_tensors_stay_flat_over_steps(opt_class, kwargs, history):
    """Gradients that carry a graph must not keep earlier steps alive through the optimizer."""
    after_10, values_10 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 10)
    after_40, values_40 = train_with_graph_gradients(lambda ps: opt_class(ps, **kwargs), 40)
    for steps, values in ((10, values_10), (40, values_40)):
        want = history(make_thetas(16), [[own_gradient] * len(SHAPES)] * steps, **kwargs)[-1][0]
        for i, value in enumerate(values):
            assert_close(value, want[i].astype(np.float32), tol=TOL["training"],
                         what=f"{opt_class.__name__} parameter {i} after {steps} steps with gradient 1.5 p + 0.25")
    assert abs(after_40 - after_10) <= 2, (
        f"{after_10} live tensors after 10 steps but {after_40} after 40: the optimizer keeps each step's graph "
        f"alive; compute the update and the state from detached data (.data / .detach() / .numpy())"
    )
