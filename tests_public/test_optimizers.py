"""Question "optimizers": ``needle.optim.SGD`` and ``needle.optim.Adam``
(docs/API.md section 6).

SGD(params, lr, momentum=β, weight_decay=λ):
    u <- β u + (1 - β) (grad + λ θ)     (u starts at 0; L2 weight decay coupled into the gradient)
    θ <- θ - lr u
Adam(params, lr, beta1, beta2, eps, weight_decay=λ):
    g <- grad + λ θ;  m <- β1 m + (1 - β1) g;  v <- β2 v + (1 - β2) g²
    t counts step() calls (one t shared by all parameters)
    θ <- θ - lr m̂ / (sqrt(v̂) + eps),  m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)
SGD.clip_grad_norm(max_norm): scale all gradients so that their joint L2 norm
(over every parameter that has a gradient) is at most max_norm.

The unit tests build ``nn.Parameter``s by hand, set ``.grad`` by hand and
hand over θ (and the optimizer's state u, or m and v) after each of three
steps, so they need neither modules nor backward.  Then: gradients are not
changed, parameters without a gradient are skipped, everything stays a float32
leaf, the live-tensor count does not grow with the number of steps,
clip_grad_norm, and the course's ``learn_model_1d`` end-to-end run
(the course's published test: hw2's test_optim_sgd_* and test_optim_adam_*)
for its Linear-ReLU-Linear model, rebuilt here from
hand-made Parameters and needle ops (the rows whose model needs BatchNorm1d,
LayerNorm1d or Residual are in test_modules.py).  The grader compares what
they hand over with the reference's.
"""
import math

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from grader.box.drive import train_on_batches
from grader.box.inputs import course_1d_batches, make_params, optimizer_problem, seed_global, set_grads
from grader.box.optimizers import clip_gradients, live_tensors_after, state_values, steps
from grader.box.record import check, in_behaviour, observe

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


def run_three_steps(opt_class, kwargs, seed, hint, states=(), counter=None):
    """Three steps on problem ``seed``; after each, hand over the step
    counter (if named), every parameter, then each named state (one value
    per parameter)."""
    _, grads, params, opt = set_up(opt_class, kwargs, seed)
    name = opt_class.__name__
    for step in steps(opt, params, grads):
        if counter:
            observe(getattr(opt, counter), what=f"{name}.{counter} after {step} step() call(s) with two parameters",
                    hint=f"increment {counter} once per step(), not once per parameter")
        for i, p in enumerate(params):
            check(p, what=f"{name}({kwargs}) parameter {i} (shape {p.shape}) after step {step}", hint=hint)
        for state_name in states:
            values = state_values(opt, state_name)
            observe(len(values), what=f"number of entries of {name}.{state_name} after step {step}",
                    hint="one entry per parameter that has a gradient")
            for i, value in enumerate(values):
                check(value, what=f"{name}.{state_name} of parameter {i} after step {step}", hint=hint)


SGD_CASES = [
    ("vanilla", dict(lr=0.1, momentum=0.0, weight_decay=0.0)),
    ("momentum", dict(lr=0.1, momentum=0.9, weight_decay=0.0)),
    ("weight-decay", dict(lr=0.1, momentum=0.0, weight_decay=0.1)),
    ("momentum-weight-decay", dict(lr=0.5, momentum=0.6, weight_decay=0.2)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES])
@pytest.mark.behaviour("SGD")
def test_sgd_three_steps_follow_the_closed_form(kwargs):
    run_three_steps(
        ndl.optim.SGD, kwargs, seed=1,
        hint="u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta), u starting at 0 "
        "(dampened momentum, not u = momentum * u + grad; weight decay added to the gradient, not "
        "decoupled); theta <- theta - lr * u",
        states=("u",) if kwargs["momentum"] > 0 else (),
    )


ADAM_CASES = [
    ("defaults-lr0.1", dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)),
    ("eps0.01", dict(lr=0.1, beta1=0.9, beta2=0.999, eps=0.01, weight_decay=0.0)),
    ("weight-decay", dict(lr=0.05, beta1=0.9, beta2=0.999, eps=0.01, weight_decay=0.3)),
    ("betas-0.5-0.8", dict(lr=0.2, beta1=0.5, beta2=0.8, eps=0.001, weight_decay=0.1)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in ADAM_CASES], ids=[c[0] for c in ADAM_CASES])
@pytest.mark.behaviour("Adam")
def test_adam_three_steps_follow_the_closed_form(kwargs):
    run_three_steps(
        ndl.optim.Adam, kwargs, seed=2,
        hint="g = grad + weight_decay * theta (L2, not AdamW); m, v moving averages; t += 1 once per "
        "step() call, shared by all parameters; theta -= lr * m_hat / (sqrt(v_hat) + eps), eps outside "
        "the sqrt, with the bias corrections m / (1 - beta1**t) and v / (1 - beta2**t)",
        states=("m", "v"), counter="t",
    )


def sgd_and_adam(ids, adam_case=2):
    """Parametrize (opt_class, kwargs) over SGD with momentum and weight decay,
    and Adam with ADAM_CASES[adam_case]."""
    return pytest.mark.parametrize("opt_class, kwargs", [
        in_behaviour("SGD", ndl.optim.SGD, SGD_CASES[3][1], id=ids[0]),
        in_behaviour("Adam", ndl.optim.Adam, ADAM_CASES[adam_case][1], id=ids[1]),
    ])


@sgd_and_adam(["SGD-momentum-weight-decay", "Adam-weight-decay"])
def test_step_does_not_change_the_gradients(opt_class, kwargs):
    _, grads, params, opt = set_up(opt_class, kwargs, 3)
    name = opt_class.__name__
    hint = "compute grad + weight_decay * theta into a new value; never write into p.grad"
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        before = [p.grad for p in params]
        opt.step()
        for i, p in enumerate(params):
            observe(p.grad is before[i], what=f"parameter {i} keeps the same .grad Tensor across {name}.step() {step}",
                    hint=hint)
            observe(p.grad, what=f"parameter {i}'s .grad after {name}.step() {step}", hint=hint)
            check(p, what=f"{name} parameter {i} after step {step}", hint="see docs/API.md section 6")


@sgd_and_adam(["SGD", "Adam"])
def test_parameters_without_a_gradient_are_skipped(opt_class, kwargs):
    thetas, grads = problem(4)
    params = make_params(thetas)
    frozen = nn.Parameter(np.arange(5, dtype=np.float32))
    opt = opt_class([params[0], frozen, params[1]], **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        frozen.grad = None
        opt.step()
    observe(frozen, what=f"a parameter whose grad is None after three {opt_class.__name__} steps",
            hint="skip parameters with p.grad is None (no weight decay, no state)")
    for i, p in enumerate(params):
        check(p, what=f"parameter {i} next to a skipped one, after three steps",
              hint="skip only the parameters whose grad is None; step the others as usual")


def state_tensors(opt):
    """Every value the optimizer keeps in its per-parameter state dicts."""
    names = ("u",) if isinstance(opt, ndl.optim.SGD) else ("m", "v")
    return [(f"{name}[{i}]", value) for name in names for i, value in enumerate(state_values(opt, name))]


@sgd_and_adam(["SGD", "Adam"], adam_case=3)
def test_parameters_stay_float32_leaves_and_state_stays_float32_data(opt_class, kwargs):
    _, grads, params, opt = set_up(opt_class, kwargs, 5)
    name = opt_class.__name__
    for _ in steps(opt, params, grads):
        pass
    for i, p in enumerate(params):
        observe(p.op is None, what=f"parameter {i} is still a leaf (op is None) after {name}.step()",
                hint="assign new data with p.data = ... (computed from detached values)")
        observe(bool(p.requires_grad), what=f"parameter {i}.requires_grad after {name}.step()",
                hint="assign new data with p.data = ..., keeping the same Parameter")
        check(p, what=f"{name} parameter {i} after three steps", hint="see docs/API.md section 6 for the update rules")
    state = state_tensors(opt)
    observe(len(state), what=f"number of per-parameter state values {name} keeps",
            hint="one state entry per parameter (u for SGD; m and v for Adam)")
    for state_name, value in state:
        observe(not isinstance(value, ndl.Tensor) or value.op is None,
                what=f"{name}.{state_name} holds no graph (a detached value)", hint="detach the state")
        check(value, what=f"{name}.{state_name} after three steps",
              hint="the state of docs/API.md section 6.5 (u for SGD; m and v for Adam), as detached data")


# --- live tensors do not grow with the number of steps -----------------------


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", lambda ps: ndl.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("Adam-weight-decay", lambda ps: ndl.optim.Adam(ps, lr=0.001, weight_decay=0.01)),
]


@pytest.mark.parametrize("make_opt", [in_behaviour(c[0].split("-")[0], c[1], id=c[0]) for c in MEMORY_CASES])
def test_live_tensor_count_does_not_grow_with_steps(make_opt):
    # Each step's gradient is computed from its parameter, p * 2 + 1: like a
    # gradient from backward(), it carries a graph back to p, so an optimizer
    # that keeps it (or anything built from it) un-detached in its state or in
    # the parameter keeps every step's graph alive.
    def run(count):
        return live_tensors_after(count, lambda: make_params(problem(6)[0]), make_opt, lambda p: p * 2.0 + 1.0)

    after_10, _ = run(10)
    after_50, params = run(50)
    observe(abs(after_50 - after_10) <= 2,
            what="the live-tensor count after 50 steps is within 2 of the count after 10 steps",
            hint="something keeps each step's graph alive; compute updates and optimizer state from detached data "
            "(.data / .detach() / .numpy()) so that no Tensor links back to earlier steps")
    for i, p in enumerate(params):
        check(p, what=f"parameter {i} after 50 steps with gradient 2 p + 1", tol="training",
              hint="see docs/API.md section 6 for the update rules")


# --- SGD.clip_grad_norm -------------------------------------------------------

CLIP_HINT = ("the norm is joint: sqrt of the sum of g**2 over every gradient of every parameter; when it exceeds "
             "max_norm, multiply every gradient by max_norm / norm (and leave them alone otherwise)")

CLIP_CASES = [("default-max-norm", None), ("max-norm-1", 1.0)]


@pytest.mark.parametrize("max_norm", [c[1] for c in CLIP_CASES], ids=[c[0] for c in CLIP_CASES])
@pytest.mark.behaviour("clip_grad_norm")
def test_sgd_clip_grad_norm_scales_gradients_to_max_norm(max_norm):
    # entries of magnitude >= 0.5: the joint norm is above 1.5, so clipping happens for any draw
    params = make_params(problem(7)[0])
    set_grads(params, clip_gradients(SHAPES, 7, scales=(1.0, 1.0)))
    opt = ndl.optim.SGD(params, lr=0.1)
    if max_norm is None:
        opt.clip_grad_norm()
    else:
        opt.clip_grad_norm(max_norm)
    for i, p in enumerate(params):
        check(p.grad, what=f"parameter {i}'s .grad after clip_grad_norm({'' if max_norm is None else max_norm})",
              hint=CLIP_HINT + ("; max_norm defaults to 0.25" if max_norm is None else ""))


@pytest.mark.behaviour("clip_grad_norm")
def test_sgd_clip_grad_norm_is_joint_over_parameters():
    # one large gradient (joint norm above 1.2 for any draw) and one tiny one (norm below 0.04):
    # clipping each parameter on its own would leave the tiny one unchanged
    params = make_params(problem(8)[0])
    set_grads(params, clip_gradients(SHAPES, 8, scales=(1.0, 0.01)))
    opt = ndl.optim.SGD(params, lr=0.1)
    opt.clip_grad_norm(1.0)
    for i, p in enumerate(params):
        check(p.grad, what=f"parameter {i}'s .grad after clip_grad_norm(1.0) (gradient norms: large, tiny)",
              hint=CLIP_HINT)


@pytest.mark.behaviour("clip_grad_norm")
def test_sgd_clip_grad_norm_skips_a_parameter_without_a_gradient():
    params = make_params(problem(10)[0])
    set_grads(params, clip_gradients(SHAPES, 10, scales=(1.0, 1.0)))
    params[0].grad = None
    ndl.optim.SGD(params, lr=0.1).clip_grad_norm(0.5)
    observe(params[0].grad is None, what="the .grad of parameter 0 (None) after clip_grad_norm(0.5)",
            hint="skip parameters whose grad is None, in the norm and in the scaling")
    check(params[1].grad, what="parameter 1's .grad after clip_grad_norm(0.5), parameter 0 without a gradient",
          hint=CLIP_HINT + "; parameters without a gradient take no part in the norm")


@pytest.mark.behaviour("clip_grad_norm")
def test_sgd_clip_grad_norm_leaves_small_gradients_alone_then_step_uses_them():
    # entries of magnitude below 0.02: the joint norm is below 0.07 for any draw, under max_norm 0.25
    params = make_params(problem(9)[0])
    set_grads(params, clip_gradients(SHAPES, 9, scales=(0.01, 0.01)))
    opt = ndl.optim.SGD(params, lr=0.5, momentum=0.0, weight_decay=0.0)
    opt.clip_grad_norm(0.25)
    for i, p in enumerate(params):
        observe(p.grad, what=f"parameter {i}'s .grad after clip_grad_norm(0.25), joint norm already below 0.25",
                hint="scale the gradients only when their joint norm exceeds max_norm")
    opt.step()
    for i, p in enumerate(params):
        check(p, what=f"parameter {i} after clip_grad_norm(0.25) then SGD(lr=0.5).step()",
              hint="theta <- theta - lr * u, with the gradients that clip_grad_norm left")


# --- the course's end-to-end values (the course's published test: hw2's test_optim_*) ---
#
# The course's learn_model_1d rows whose model is Sequential(Linear(64, 32),
# ReLU(), Linear(32, 16)), rebuilt without nn modules: the four Parameters are
# drawn as the two Linear layers draw them (one uniform draw of the weight,
# then one of the bias, over +-sqrt(2) * sqrt(3 / fan_in) from the global
# stream), the forward and the softmax loss are needle ops.  (The rows with
# BatchNorm1d, LayerNorm1d or Residual are in test_modules.py.)


def linear_parameters(fan_in, fan_out):
    """nn.Linear(fan_in, fan_out)'s weight, then its bias, as Parameters
    drawn from the global stream as Linear draws them (inputs: drawn here,
    not by the initializers of the question "initializers")."""
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    weight = np.random.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
    bias_bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    bias = np.random.uniform(-bias_bound, bias_bound, (fan_out, 1)).reshape(1, fan_out).astype(np.float32)
    return [nn.Parameter(weight), nn.Parameter(bias)]


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
    uint8 labels in [0, 16); returns the last batch's loss.  It first hands
    over the parameters after a step of another optimizer with every
    gradient None (they must not move), and whether every step left the
    first parameter's gradient as it was."""
    seed_global(42)
    params = linear_parameters(64, 32) + linear_parameters(32, 16)
    idle = optimizer(params, **kwargs)
    idle.reset_grad()  # every .grad is None
    idle.step()
    for i, p in enumerate(params):
        observe(p, what=f"parameter {i} after a {optimizer.__name__} step with no gradients",
                hint="skip parameters whose grad is None")
    opt = optimizer(params, **kwargs)
    kept = []

    def step():
        grad = params[0].grad
        grad_before = grad.numpy().copy()
        opt.step()
        kept.append(params[0].grad is grad and np.array_equal(params[0].grad.numpy(), grad_before))

    loss = train_on_batches(
        course_1d_batches(), lambda X0, y0: softmax_loss(mlp_forward(params, ndl.Tensor(X0, dtype="float32")), y0),
        opt, step=step,
    )
    observe(all(kept), what="the first parameter's gradient is the same, unchanged Tensor after every opt.step()",
            hint="the optimizer should not modify or replace gradients")
    return loss


COURSE_CASES = [
    # (id, optimizer, options); the course publishes the last loss of each
    ("sgd_vanilla_1", "SGD", dict(lr=0.01, momentum=0.0)),
    ("sgd_momentum_1", "SGD", dict(lr=0.01, momentum=0.9)),
    ("sgd_weight_decay_1", "SGD", dict(lr=0.01, momentum=0.0, weight_decay=0.01)),
    ("sgd_momentum_weight_decay_1", "SGD", dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("adam_1", "Adam", dict(lr=0.001)),
    ("adam_weight_decay_1", "Adam", dict(lr=0.001, weight_decay=0.01)),
]


@pytest.mark.parametrize("opt_name, kwargs", [in_behaviour(c[1], *c[1:], id=c[0]) for c in COURSE_CASES])
def test_course_learn_model_1d_values(opt_name, kwargs):
    loss = learn_mlp_1d(getattr(ndl.optim, opt_name), **kwargs)
    check(loss, what=f"learn_model_1d({opt_name}, {kwargs}) last loss", tol="training",
          hint="see docs/API.md section 6 for the exact update rules; the unit tests above say which one is off")
