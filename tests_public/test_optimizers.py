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
compare θ after each of three steps with these closed forms (computed here in
float64), so they need neither modules nor backward.  Then: gradients are not
changed, parameters without a gradient are skipped, everything stays a float32
leaf, the live-tensor count does not grow with the number of steps, and the
course's ``learn_model_1d`` end-to-end values (needle_api.md 9.4) hold.
"""
import gc

import numpy as np
import pytest

import needle as ndl
import needle.nn as nn
from tests_public.helpers import TOL, as_numpy, assert_close

SHAPES = [(2, 3), (4,)]  # two parameters: Adam's step count must be shared


def problem(seed, grad_scale=1.0):
    """Initial float32 values of the two parameters and their float32
    gradients for steps 1, 2 and 3 (magnitudes spread over decades so that
    eps and the bias correction matter)."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [
        [(rng.standard_normal(s) * grad_scale * 10.0 ** rng.integers(-2, 1, size=s)).astype(np.float32) for s in SHAPES]
        for _ in range(3)
    ]
    return thetas, grads


def make_params(thetas):
    return [nn.Parameter(theta.copy()) for theta in thetas]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = ndl.Tensor(g.copy(), requires_grad=False)


def sgd_expected(thetas, grads, lr, momentum, weight_decay):
    """θ of each parameter after each step, in float64."""
    thetas = [t.astype(np.float64) for t in thetas]
    u = [np.zeros_like(t) for t in thetas]
    history = []
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            u[i] = momentum * u[i] + (1 - momentum) * (g + weight_decay * thetas[i])
            thetas[i] = thetas[i] - lr * u[i]
        history.append([t.copy() for t in thetas])
    return history


def adam_expected(thetas, grads, lr, beta1, beta2, eps, weight_decay):
    thetas = [t.astype(np.float64) for t in thetas]
    m = [np.zeros_like(t) for t in thetas]
    v = [np.zeros_like(t) for t in thetas]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            g = grad + weight_decay * thetas[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat, v_hat = m[i] / (1 - beta1 ** t), v[i] / (1 - beta2 ** t)
            thetas[i] = thetas[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append([t.copy() for t in thetas])
    return history


def run_three_steps(opt_class, kwargs, expected, seed, hint):
    thetas, grads = problem(seed)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        opt.step()
        for i, p in enumerate(params):
            assert_close(
                p, expected(thetas, grads, **kwargs)[step - 1][i].astype(np.float32), tol=TOL["float32"],
                what=f"{opt_class.__name__}({kwargs}) parameter {i} (shape {p.shape}) after step {step}",
                hint=hint,
            )
    return opt, params


SGD_CASES = [
    ("vanilla", dict(lr=0.1, momentum=0.0, weight_decay=0.0)),
    ("momentum", dict(lr=0.1, momentum=0.9, weight_decay=0.0)),
    ("weight-decay", dict(lr=0.1, momentum=0.0, weight_decay=0.1)),
    ("momentum-weight-decay", dict(lr=0.5, momentum=0.6, weight_decay=0.2)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in SGD_CASES], ids=[c[0] for c in SGD_CASES])
def test_sgd_three_steps_follow_the_closed_form(kwargs):
    run_three_steps(
        ndl.optim.SGD, kwargs, sgd_expected, seed=1,
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
    opt, _ = run_three_steps(
        ndl.optim.Adam, kwargs, adam_expected, seed=2,
        hint="g = grad + weight_decay * theta (L2, not AdamW); m, v moving averages; t += 1 once per "
        "step() call, shared by all parameters; theta -= lr * m_hat / (sqrt(v_hat) + eps), eps outside "
        "the sqrt, with the bias corrections m / (1 - beta1**t) and v / (1 - beta2**t)",
    )
    assert opt.t == 3, (
        f"Adam.t should count step() calls: 3 after three steps with two parameters, got {opt.t}; "
        f"increment it once per step(), not once per parameter"
    )


@pytest.mark.parametrize(
    "opt_class, kwargs",
    [(ndl.optim.SGD, SGD_CASES[3][1]), (ndl.optim.Adam, ADAM_CASES[2][1])],
    ids=["SGD-momentum-weight-decay", "Adam-weight-decay"],
)
def test_step_does_not_change_the_gradients(opt_class, kwargs):
    thetas, grads = problem(3)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        before = [p.grad for p in params]
        opt.step()
        for i, (p, g) in enumerate(zip(params, step_grads)):
            assert p.grad is before[i], f"{opt_class.__name__}.step() replaced parameter {i}'s .grad"
            assert_close(p.grad, g, what=f"parameter {i}'s .grad after {opt_class.__name__}.step() {step}",
                         hint="compute grad + weight_decay * theta into a new value; never write into p.grad")


@pytest.mark.parametrize(
    "opt_class, kwargs, expected",
    [(ndl.optim.SGD, SGD_CASES[3][1], sgd_expected), (ndl.optim.Adam, ADAM_CASES[2][1], adam_expected)],
    ids=["SGD", "Adam"],
)
def test_parameters_without_a_gradient_are_skipped(opt_class, kwargs, expected):
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
    final = expected(thetas, grads, **kwargs)[-1]
    for i, p in enumerate(params):
        assert_close(p, final[i].astype(np.float32), tol=TOL["float32"],
                     what=f"parameter {i} next to a skipped one, after three steps")


def state_tensors(opt):
    """Every value the optimizer keeps in its per-parameter state dicts."""
    names = ("u",) if isinstance(opt, ndl.optim.SGD) else ("m", "v")
    return [(f"{name}[{i}]", value) for name in names for i, value in enumerate(getattr(opt, name).values())]


@pytest.mark.parametrize(
    "opt_class, kwargs",
    [(ndl.optim.SGD, SGD_CASES[3][1]), (ndl.optim.Adam, ADAM_CASES[3][1])],
    ids=["SGD", "Adam"],
)
def test_parameters_stay_float32_leaves_and_state_stays_float32_data(opt_class, kwargs):
    thetas, grads = problem(5)
    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
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
    """Live needle Values added by building a small model and training it
    ``steps`` steps (model, optimizer and the last gradients still alive)."""
    gc.collect()
    start = ndl.autograd.TENSOR_COUNTER
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = make_opt(model.parameters())
    loss_fn = nn.SoftmaxLoss()
    rng = np.random.default_rng(0)
    X = ndl.Tensor(rng.standard_normal((32, 8)).astype(np.float32), requires_grad=False)
    y = ndl.Tensor(rng.integers(0, 4, size=32), requires_grad=False)
    for _ in range(steps):
        opt.reset_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
    del loss
    gc.collect()
    count = ndl.autograd.TENSOR_COUNTER - start
    del model, opt
    return count


MEMORY_CASES = [
    ("SGD-momentum-weight-decay", lambda ps: ndl.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("Adam-weight-decay", lambda ps: ndl.optim.Adam(ps, lr=0.001, weight_decay=0.01)),
]


@pytest.mark.parametrize("make_opt", [c[1] for c in MEMORY_CASES], ids=[c[0] for c in MEMORY_CASES])
def test_live_tensor_count_does_not_grow_with_steps(make_opt):
    after_10 = live_tensors_after(10, make_opt)
    after_50 = live_tensors_after(50, make_opt)
    assert abs(after_50 - after_10) <= 5, (
        f"{after_10} live tensors after 10 training steps but {after_50} after 50: something keeps each "
        f"step's graph alive; compute updates and optimizer state from detached data "
        f"(.data / .detach() / .numpy()) so that no Tensor links back to earlier steps"
    )


# --- the course's end-to-end values (needle_api.md 9.4) ----------------------


def get_tensor(*shape, entropy=1):
    np.random.seed(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(0, 100, size=shape) / 20, dtype="float32")


def get_int_tensor(*shape, low=0, high=10, entropy=1):
    np.random.seed(np.prod(shape) * len(shape) * entropy)
    return ndl.Tensor(np.random.randint(low, high, size=shape))


def learn_model_1d(feature_size, nclasses, model_fn, optimizer, epochs=1, eval_after=False, **kwargs):
    """The course harness: seed 42, build the model, 32 in-order batches of 32
    rows of get_tensor(1024, F) with uint8 labels; returns the last batch's
    loss (or, with eval_after, the eval-mode loss on a new 32-row batch)."""
    np.random.seed(42)
    model = model_fn()
    X = get_tensor(1024, feature_size).numpy()
    y = get_int_tensor(1024, low=0, high=nclasses).numpy().astype(np.uint8)
    m, batch = X.shape[0], 32
    loss_func = nn.SoftmaxLoss()
    opt = optimizer(model.parameters(), **kwargs)
    for _ in range(epochs):
        for X0, y0 in zip(np.array_split(X, m // batch), np.array_split(y, m // batch)):
            opt.reset_grad()
            X0, y0 = ndl.Tensor(X0, dtype="float32"), ndl.Tensor(y0)
            loss = loss_func(model(X0), y0)
            loss.backward()
            grad_before = model.parameters()[0].grad.numpy().copy()
            opt.step()
            assert_close(model.parameters()[0].grad, grad_before,
                         what="the first parameter's gradient across opt.step()",
                         hint="the optimizer should not modify gradients in place")
    if eval_after:
        model.eval()
        X_test = ndl.Tensor(get_tensor(batch, feature_size).numpy())
        y_test = ndl.Tensor(get_int_tensor(batch, low=0, high=nclasses).numpy().astype(np.uint8))
        loss = loss_func(model(X_test), y_test)
    return np.asarray(loss.numpy())


def mlp():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16))


def ln_residual():
    nn.LayerNorm1d(8)  # built first in the course test (it draws nothing)
    return nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Residual(nn.Linear(8, 8)), nn.Linear(8, 16))


def mlp_batchnorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 16))


def mlp_layernorm():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.LayerNorm1d(32), nn.Linear(32, 16))


SGD, ADAM = "SGD", "Adam"
COURSE_CASES = [
    # (id, model, optimizer, options, published last loss)
    ("sgd_vanilla_1", mlp, SGD, dict(lr=0.01, momentum=0.0), 3.207009),
    ("sgd_momentum_1", mlp, SGD, dict(lr=0.01, momentum=0.9), 3.311805),
    ("sgd_weight_decay_1", mlp, SGD, dict(lr=0.01, momentum=0.0, weight_decay=0.01), 3.202637),
    ("sgd_momentum_weight_decay_1", mlp, SGD, dict(lr=0.01, momentum=0.9, weight_decay=0.01), 3.306993),
    ("sgd_layernorm_residual_1", ln_residual, SGD, dict(epochs=3, lr=0.01, weight_decay=0.001), 2.852236),
    ("adam_1", mlp, ADAM, dict(lr=0.001), 3.703999),
    ("adam_weight_decay_1", mlp, ADAM, dict(lr=0.001, weight_decay=0.01), 3.705134),
    ("adam_batchnorm_1", mlp_batchnorm, ADAM, dict(lr=0.001, weight_decay=0.001), 3.296256),
    ("adam_batchnorm_eval_mode_1", mlp_batchnorm, ADAM, dict(eval_after=True, lr=0.001, weight_decay=0.001), 3.192054),
    ("adam_layernorm_1", mlp_layernorm, ADAM, dict(lr=0.01, weight_decay=0.01), 2.82192),
]


@pytest.mark.parametrize("model_fn, opt_name, kwargs, expected", [c[1:] for c in COURSE_CASES],
                         ids=[c[0] for c in COURSE_CASES])
def test_course_learn_model_1d_values(model_fn, opt_name, kwargs, expected):
    optimizer = getattr(ndl.optim, opt_name)
    loss = learn_model_1d(64, 16, model_fn, optimizer, **kwargs)
    assert loss.size == 1, f"the loss should be a single value, got shape {loss.shape}"
    assert_close(
        loss.reshape(()), np.float32(expected), tol=TOL["float32"],
        what=f"learn_model_1d({opt_name}, {kwargs}) last loss (course value)",
        hint="see needle_api.md section 5 for the exact update rules; the unit tests above say which one is off",
    )
