"""The kit's proof that the reference's optimizers are right: SGD and Adam
stepped over hand-made parameters against the closed forms computed in
float64 (tests/numpy_reference.py: sgd_history, adam_history), with their
state; gradients untouched, skipped parameters, float32 leaves, flat live
tensors; SGD.clip_grad_norm against the joint-norm formula; and the course's
published learn_model_1d losses through the public suite's own harness."""
import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.optimizers import clip_gradients, live_tensors_after
from tests.numpy_checks import TOL, Tol, as_numpy, assert_close, state_values, step_and_compare, step_keeping_gradients
from tests.numpy_reference import adam_history, make_params, optimizer_problem, set_grads, sgd_history
from tests_hidden import test_optimizers as hidden
from tests_public import test_optimizers as public

SGD, Adam = ndl.optim.SGD, ndl.optim.Adam
HISTORY = {SGD: sgd_history, Adam: adam_history}

# (id, optimizer, hyperparameters, problem: (seed, shapes, steps, exponents)) of both suites
CLOSED_FORM_CASES = (
    [(f"public-{i}", SGD, kw, (1, public.SHAPES, 3, (-2, 1))) for i, kw in public.SGD_CASES]
    + [(f"public-{i}", Adam, kw, (2, public.SHAPES, 3, (-2, 1))) for i, kw in public.ADAM_CASES]
    + [(f"hidden-{i}", SGD, kw, (11, hidden.SHAPES, 4, (-1, 1))) for i, kw in hidden.SGD_CASES]
    + [(f"hidden-{i}", Adam, kw, (12, hidden.SHAPES, 4, e)) for i, kw, e in hidden.ADAM_CASES]
)


def relative_tol(want):
    """Within float32 rounding of the state's own scale (the moments of tiny gradients are tiny)."""
    return Tol(rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


@pytest.mark.parametrize("opt_class, kwargs, problem", [c[1:] for c in CLOSED_FORM_CASES],
                         ids=[f"{c[1].__name__}-{c[0]}" for c in CLOSED_FORM_CASES])
def test_steps_follow_the_closed_form(opt_class, kwargs, problem):
    seed, shapes, steps, exponents = problem
    thetas, grads = optimizer_problem(seed, shapes, steps, exponents)
    states = ("u",) if opt_class is SGD and kwargs["momentum"] > 0 else ("m", "v") if opt_class is Adam else ()
    opt = step_and_compare(opt_class, kwargs, thetas, grads, HISTORY[opt_class], hint="", states=states,
                           state_tol=relative_tol)
    if opt_class is Adam:
        assert opt.t == steps


BEHAVIOUR_CASES = [(SGD, dict(lr=0.5, momentum=0.6, weight_decay=0.2)),
                   (SGD, dict(lr=0.1, momentum=0.8, weight_decay=0.3)),
                   (Adam, dict(lr=0.05, beta1=0.9, beta2=0.999, eps=0.01, weight_decay=0.3)),
                   (Adam, dict(lr=0.02, beta1=0.85, beta2=0.99, eps=1e-8, weight_decay=0.3))]
BEHAVIOUR_IDS = ["SGD-a", "SGD-b", "Adam-a", "Adam-b"]


@pytest.mark.parametrize("opt_class, kwargs", BEHAVIOUR_CASES, ids=BEHAVIOUR_IDS)
def test_gradients_untouched_and_parameters_without_a_gradient_skipped(opt_class, kwargs):
    thetas, grads = optimizer_problem(13, [(3, 2), (5,)], 3)
    params = make_params(thetas)
    step_keeping_gradients(opt_class(params, **kwargs), params, grads, hint="")
    for i, p in enumerate(params):
        assert_close(p, HISTORY[opt_class](thetas, grads, **kwargs)[-1][0][i].astype(np.float32), tol=TOL["float32"])
    params = make_params(thetas)
    frozen_value = np.arange(5, dtype=np.float32)
    frozen = nn.Parameter(frozen_value.copy())
    opt_class([frozen, *params], **kwargs).step()  # nothing has a gradient
    opt = opt_class([params[0], frozen, params[1]], **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        frozen.grad = None
        opt.step()
    assert_close(frozen, frozen_value, what="the skipped parameter")
    for i, p in enumerate(params):
        assert_close(p, HISTORY[opt_class](thetas, grads, **kwargs)[-1][0][i].astype(np.float32), tol=TOL["float32"])
    for i, p in enumerate(params):
        assert isinstance(p, nn.Parameter) and p.op is None and p.requires_grad and p.dtype == np.float32
    for name in ("u",) if opt_class is SGD else ("m", "v"):
        for value in state_values(opt, name, len(params)):
            assert not isinstance(value, ndl.Tensor) or value.op is None
            assert as_numpy(value).dtype == np.float32


@pytest.mark.parametrize("opt_class, kwargs", BEHAVIOUR_CASES, ids=BEHAVIOUR_IDS)
def test_live_tensors_stay_flat_and_values_follow_the_closed_form(opt_class, kwargs):
    thetas = optimizer_problem(16, hidden.SHAPES, 0)[0]
    counts = {}
    for steps in (10, 40):
        counts[steps], params = live_tensors_after(steps, lambda: make_params(thetas),
                                                   lambda ps: opt_class(ps, **kwargs), lambda p: p * 1.5 + 0.25)
        want = HISTORY[opt_class](thetas, [[lambda theta: 1.5 * theta + 0.25] * len(thetas)] * steps, **kwargs)
        for i, p in enumerate(params):
            assert_close(p, want[-1][0][i].astype(np.float32), tol=TOL["training"], what=f"after {steps} steps")
    assert abs(counts[40] - counts[10]) <= 2, counts


def np_clip(grads, max_norm):
    """Gradients scaled to a joint L2 norm of max_norm when it exceeds it (None stays None)."""
    total = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads if g is not None))
    scale = min(1.0, max_norm / total)
    return [None if g is None else (g.astype(np.float64) * scale).astype(np.float32) for g in grads]


CLIP_CASES = [
    # (shapes, seed, scales, index without a gradient or None, max_norm)
    (public.SHAPES, 7, (1.0, 1.0), None, 0.25),
    (public.SHAPES, 7, (1.0, 1.0), None, 1.0),
    (public.SHAPES, 8, (1.0, 0.01), None, 1.0),
    (public.SHAPES, 9, (0.01, 0.01), None, 0.25),
    (hidden.CLIP_SHAPES, 21, (2.0, 2.0, 2.0), None, 0.1),
    (hidden.CLIP_SHAPES, 21, (2.0, 2.0, 2.0), None, 2.0),
    (hidden.CLIP_SHAPES, 22, (1.0, 1.0, 1.0), 1, 0.5),
    (hidden.CLIP_SHAPES, 23, (0.01, 0.01, 0.01), None, 0.25),
]


@pytest.mark.parametrize("shapes, seed, scales, missing, max_norm", CLIP_CASES)
def test_clip_grad_norm_scales_to_the_joint_norm(shapes, seed, scales, missing, max_norm):
    grads = clip_gradients(shapes, seed, scales)
    if missing is not None:
        grads[missing] = None
    params = make_params(optimizer_problem(seed, shapes, 0)[0])
    for p, g in zip(params, grads):
        p.grad = None if g is None else ndl.Tensor(g.copy(), requires_grad=False)
    SGD(params, lr=0.1).clip_grad_norm(max_norm)
    for p, want in zip(params, np_clip(grads, max_norm)):
        if want is None:
            assert p.grad is None
        else:
            assert_close(p.grad, want, tol=TOL["float32"], what=f"clipped gradient (max_norm {max_norm})")


def test_clip_then_step_follows_the_closed_form():
    shapes, kwargs = hidden.CLIP_SHAPES, dict(lr=0.1, momentum=0.5, weight_decay=0.1)
    thetas = optimizer_problem(24, shapes, 0)[0]
    clipped = [np_clip(clip_gradients(shapes, [24, step], (1.0, 0.1, 1.0)), 0.5) for step in range(1, 4)]
    params = make_params(thetas)
    opt = SGD(params, **kwargs)
    for step, want in enumerate(sgd_history(thetas, clipped, **kwargs)):
        set_grads(params, clip_gradients(shapes, [24, step + 1], (1.0, 0.1, 1.0)))
        opt.clip_grad_norm(0.5)
        opt.step()
        for p, w in zip(params, want[0]):
            assert_close(p, w.astype(np.float32), tol=TOL["float32"], what=f"after clip and step {step + 1}")


PUBLISHED = {"sgd_vanilla_1": 3.207009, "sgd_momentum_1": 3.311805, "sgd_weight_decay_1": 3.202637,
             "sgd_momentum_weight_decay_1": 3.306993, "adam_1": 3.703999, "adam_weight_decay_1": 3.705134}


@pytest.mark.parametrize("case", public.COURSE_CASES, ids=[c[0] for c in public.COURSE_CASES])
def test_course_learn_model_1d_published_losses(case):
    name, opt_name, kwargs = case
    loss = public.learn_mlp_1d(getattr(ndl.optim, opt_name), **kwargs)
    assert_close(loss.numpy().reshape(()), np.float32(PUBLISHED[name]), tol=TOL["float32"], what=f"{name} last loss")
