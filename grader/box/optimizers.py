"""Inputs and drivers of the "optimizers" question: stepping an optimizer
over hand-made Parameters, reading its per-parameter state, counting live
tensors, and gradients for clip_grad_norm.  They call the code under test;
nothing here says what it should return: the tests hand it over with
``check`` / ``observe``."""
import gc

import numpy as np

from .inputs import away_from_zero, set_grads


def steps(opt, params, grads):
    """Step ``opt`` once per entry of ``grads`` (each step's gradients, set
    by hand on ``params`` first); yields the step number (from 1) after
    each step."""
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        opt.step()
        yield step


def state_values(opt, name):
    """The values of the optimizer's per-parameter state dict ``name``
    (``u``, ``m`` or ``v``), in the order the parameters were first stepped."""
    state = getattr(opt, name, None)
    assert isinstance(state, dict), (
        f"{type(opt).__name__}.{name} should be a dict of per-parameter state (keyed by parameter), "
        f"got {type(state).__name__}"
    )
    return list(state.values())


def live_tensors_after(steps_count, params, make_opt, gradient):
    """Live needle Values added by making ``params()`` (hand-made
    Parameters), ``make_opt(params)`` and ``steps_count`` steps whose
    gradient for each parameter p is ``gradient(p)`` (a node built on p, as
    backward() leaves: it links back to p), with the parameters, the
    optimizer and the last gradients still alive.  Returns the count and the
    parameters."""
    import needle as ndl

    gc.collect()
    start = ndl.autograd.TENSOR_COUNTER
    ps = params()
    opt = make_opt(ps)
    for _ in range(steps_count):
        for p in ps:
            p.grad = gradient(p)
        opt.step()
    gc.collect()
    count = ndl.autograd.TENSOR_COUNTER - start
    del opt
    return count, ps


def clip_gradients(shapes, seed, scales):
    """float32 gradients of ``shapes``, entry magnitudes in [0.5, 2) times
    each shape's scale (so the joint L2 norm lies between known bounds for
    any draw), random signs."""
    return [(away_from_zero(shape, seed=[*np.atleast_1d(seed).tolist(), i]) * scale).astype(np.float32)
            for i, (shape, scale) in enumerate(zip(shapes, scales))]
