"""Optimization algorithms.

Each update is computed on detached data and written back through
``Parameter.data``: an optimizer never changes a gradient in place, keeps
every parameter a leaf of its dtype, and holds no graph in its state.
"""
import numbers

import numpy as np

from .autograd import Tensor


def _hyperparameter(name, value, low=0.0, high=None):
    """``value`` as a Python float (a NumPy float64 would promote float32
    parameters to float64), checked to lie in [low, high)."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    value = float(value)
    if value < low or (high is not None and value >= high):
        bound = f"[{low:g}, {high:g})" if high is not None else f">= {low:g}"
        raise ValueError(f"{name} must be {bound}; got {value:g}")
    return value


class Optimizer:
    def __init__(self, params):
        self.params = list(params)
        for index, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{type(self).__name__} optimizes Tensors (pass model.parameters()); "
                    f"got {type(param).__name__} at index {index}"
                )

    def step(self):
        raise NotImplementedError()

    def reset_grad(self):
        for p in self.params:
            p.grad = None

    def _gradients(self):
        """(parameter, its data, its gradient) as arrays, for each parameter
        that has a gradient."""
        for p in self.params:
            grad = getattr(p, "grad", None)
            if grad is None:
                continue
            theta = p.realize_cached_data()
            if grad.shape != theta.shape:
                raise ValueError(
                    f"{type(self).__name__}: a parameter of shape {theta.shape} has a "
                    f"gradient of shape {grad.shape}"
                )
            yield p, theta, grad.realize_cached_data()

    @staticmethod
    def _assign(p, value):
        p.data = Tensor.make_const(value.astype(p.dtype, copy=False))


class SGD(Optimizer):
    """SGD with dampened momentum and L2 weight decay:
    u <- momentum * u + (1 - momentum) * (grad + weight_decay * theta),
    theta <- theta - lr * u, with u starting at 0 (state in ``self.u``)."""

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr = _hyperparameter("lr", lr)
        self.momentum = _hyperparameter("momentum", momentum, high=1.0)
        self.weight_decay = _hyperparameter("weight_decay", weight_decay)
        self.u = {}

    def step(self):
        ### BEGIN SOLUTION
        for p, theta, grad in self._gradients():
            grad = grad + self.weight_decay * theta
            u = (1 - self.momentum) * grad
            if p in self.u:
                u += self.momentum * self.u[p].realize_cached_data()
            self.u[p] = Tensor.make_const(u)
            self._assign(p, theta - self.lr * u)
        ### END SOLUTION

    def clip_grad_norm(self, max_norm=0.25):
        """Scale all gradients so that their joint L2 norm is at most max_norm."""
        ### BEGIN SOLUTION
        grads = [p.grad for p in self.params if getattr(p, "grad", None) is not None]
        total = float(np.sqrt(sum(float(np.sum(g.realize_cached_data().astype(np.float64) ** 2)) for g in grads)))
        if total > max_norm:
            scale = max_norm / (total + 1e-6)
            for p in self.params:
                if getattr(p, "grad", None) is not None:
                    p.grad = Tensor.make_const(p.grad.realize_cached_data() * scale)
        ### END SOLUTION


class Adam(Optimizer):
    """Adam with L2 weight decay (not AdamW) and bias correction:
    g = grad + weight_decay * theta; m <- beta1 m + (1 - beta1) g;
    v <- beta2 v + (1 - beta2) g^2; t counts step() calls;
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps), with
    m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)."""

    def __init__(self, params, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr = _hyperparameter("lr", lr)
        self.beta1 = _hyperparameter("beta1", beta1, high=1.0)
        self.beta2 = _hyperparameter("beta2", beta2, high=1.0)
        self.eps = _hyperparameter("eps", eps)
        self.weight_decay = _hyperparameter("weight_decay", weight_decay)
        self.t = 0
        self.m = {}
        self.v = {}

    def step(self):
        ### BEGIN SOLUTION
        self.t += 1
        m_correction = 1 - self.beta1**self.t
        v_correction = 1 - self.beta2**self.t
        for p, theta, grad in self._gradients():
            grad = grad + self.weight_decay * theta
            m = (1 - self.beta1) * grad
            v = (1 - self.beta2) * grad * grad
            if p in self.m:
                m += self.beta1 * self.m[p].realize_cached_data()
                v += self.beta2 * self.v[p].realize_cached_data()
            self.m[p], self.v[p] = Tensor.make_const(m), Tensor.make_const(v)
            m_hat = m / m_correction
            v_hat = v / v_correction
            self._assign(p, theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps))
        ### END SOLUTION
