"""The nn module: Parameters, Modules and the basic layers."""
import math
from typing import Any, List

from needle import init, ops
from needle.autograd import Tensor


class Parameter(Tensor):
    """A special kind of tensor that represents parameters."""


def _unpack_params(value: object) -> List[Tensor]:
    if isinstance(value, Parameter):
        return [value]
    if isinstance(value, Module):
        return value.parameters()
    if isinstance(value, dict):
        return [p for v in value.values() for p in _unpack_params(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _unpack_params(v)]
    return []


def _child_modules(value: object) -> List["Module"]:
    if isinstance(value, Module):
        return [value] + _child_modules(value.__dict__)
    if isinstance(value, dict):
        return [m for v in value.values() for m in _child_modules(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _child_modules(v)]
    return []


class Module:
    """A layer or a model: its Parameters and sub-modules are found through
    its attributes (and lists, tuples and dicts of them), in insertion order."""

    def __init__(self):
        self.training = True

    def parameters(self) -> List[Tensor]:
        """Return the list of parameters in the module."""
        return _unpack_params(self.__dict__)

    def _children(self) -> List["Module"]:
        return _child_modules(self.__dict__)

    def eval(self):
        self.training = False
        for m in self._children():
            m.training = False

    def train(self):
        self.training = True
        for m in self._children():
            m.training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def _check_input(module, x, ndim=None, features=None, features_name="features"):
    """Raise a TypeError or ValueError that says what ``module`` expected of
    ``x`` and what came."""
    name = type(module).__name__
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} takes a needle Tensor; got {type(x).__name__}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{name} expects a {ndim}-D input; got shape {x.shape}")
    if features is not None and (len(x.shape) < 1 or x.shape[-1] != features):
        raise ValueError(
            f"{name} expects inputs whose last axis has {features_name}={features}; "
            f"got shape {x.shape}"
        )


class Identity(Module):
    def forward(self, x):
        return x


class Linear(Module):
    """y = x @ weight + bias, for inputs of shape (..., in_features).

    The weight, (in_features, out_features), is drawn with
    ``kaiming_uniform(in_features, out_features)`` first; then the bias with
    ``kaiming_uniform(out_features, 1)``, reshaped to (1, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype="float32"):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        ### BEGIN SOLUTION
        self.weight = Parameter(
            init.kaiming_uniform(in_features, out_features, device=device, dtype=dtype)
        )
        self.bias = None
        if bias:
            self.bias = Parameter(
                init.kaiming_uniform(out_features, 1, device=device, dtype=dtype).reshape(
                    (1, out_features)
                )
            )
        ### END SOLUTION

    def forward(self, X: Tensor) -> Tensor:
        _check_input(self, X, features=self.in_features, features_name="in_features")
        ### BEGIN SOLUTION
        out = X @ self.weight
        if self.bias is not None:
            out = out + self.bias.broadcast_to(out.shape)
        return out
        ### END SOLUTION


class Flatten(Module):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...)."""

    def forward(self, X):
        ### BEGIN SOLUTION
        return X.reshape((X.shape[0], math.prod(X.shape[1:])))
        ### END SOLUTION


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return ops.relu(x)
        ### END SOLUTION


class Sequential(Module):
    """Applies ``self.modules`` (a tuple) in order."""

    def __init__(self, *modules):
        super().__init__()
        self.modules = modules

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        for module in self.modules:
            x = module(x)
        return x
        ### END SOLUTION


class SoftmaxLoss(Module):
    """Mean over the batch of the softmax cross-entropy of ``logits``, shape
    (batch, classes), for integer labels ``y``, shape (batch,)."""

    def forward(self, logits: Tensor, y: Tensor):
        _check_input(self, logits, ndim=2)
        if not isinstance(y, Tensor) or y.shape != logits.shape[:1]:
            raise ValueError(
                f"SoftmaxLoss: y must be a Tensor of {logits.shape[0]} integer "
                f"labels, shape ({logits.shape[0]},); got "
                + (f"shape {y.shape}" if isinstance(y, Tensor) else type(y).__name__)
            )
        ### BEGIN SOLUTION
        y_one_hot = init.one_hot(logits.shape[1], y, dtype=logits.dtype)
        # The loss of an example is -log softmax(z)_y = logsumexp(z) - z_y.
        return ops.summation(ops.logsoftmax(logits) * y_one_hot) / -logits.shape[0]
        ### END SOLUTION


def _row(vector: Tensor, shape) -> Tensor:
    """A (dim,) Tensor broadcast along the rows of a (batch, dim) shape."""
    return vector.reshape((1, shape[1])).broadcast_to(shape)


class BatchNorm1d(Module):
    """Normalizes each feature over the batch: (x - mean) / sqrt(var + eps),
    then weight * . + bias.

    Training uses the batch's mean and biased variance, and updates
    ``running_mean`` and ``running_var`` (plain Tensors, not Parameters) as
    running = (1 - momentum) * running + momentum * batch statistic.
    Evaluation uses the running statistics.
    """

    def __init__(self, dim, eps=1e-5, momentum=0.1, device=None, dtype="float32"):
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.momentum = momentum
        ### BEGIN SOLUTION
        self.weight = Parameter(init.ones(dim, device=device, dtype=dtype))
        self.bias = Parameter(init.zeros(dim, device=device, dtype=dtype))
        self.running_mean = init.zeros(dim, device=device, dtype=dtype)
        self.running_var = init.ones(dim, device=device, dtype=dtype)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, ndim=2, features=self.dim, features_name="dim")
        ### BEGIN SOLUTION
        batch = x.shape[0]
        if self.training:
            mean = x.sum((0,)) / batch
            centered = x - _row(mean, x.shape)
            var = (centered**2).sum((0,)) / batch
            # Detached: the running statistics must not keep the graph alive.
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.detach()
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var.detach()
        else:
            centered = x - _row(self.running_mean, x.shape)
            var = self.running_var
        normalized = centered / _row((var + self.eps) ** 0.5, x.shape)
        return _row(self.weight, x.shape) * normalized + _row(self.bias, x.shape)
        ### END SOLUTION


class LayerNorm1d(Module):
    """Normalizes each row: (x - mean) / sqrt(var + eps) with the row's mean
    and biased variance, then weight * . + bias."""

    def __init__(self, dim, eps=1e-5, device=None, dtype="float32"):
        super().__init__()
        self.dim = dim
        self.eps = eps
        ### BEGIN SOLUTION
        self.weight = Parameter(init.ones(dim, device=device, dtype=dtype))
        self.bias = Parameter(init.zeros(dim, device=device, dtype=dtype))
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, ndim=2, features=self.dim, features_name="dim")
        ### BEGIN SOLUTION
        column = (x.shape[0], 1)
        mean = (x.sum((1,)) / self.dim).reshape(column).broadcast_to(x.shape)
        centered = x - mean
        var = ((centered**2).sum((1,)) / self.dim).reshape(column).broadcast_to(x.shape)
        normalized = centered / (var + self.eps) ** 0.5
        return _row(self.weight, x.shape) * normalized + _row(self.bias, x.shape)
        ### END SOLUTION


class Dropout(Module):
    """In training, zeroes each value with probability p and scales the
    others by 1 / (1 - p); the mask is one ``randb(*x.shape, p=1 - p)`` draw
    (keep where a uniform draw is <= 1 - p).  The identity in evaluation."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability must be in [0, 1); got p={p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        if not self.training:
            return x
        mask = init.randb(*x.shape, p=1 - self.p, dtype=x.dtype)
        return x * mask / (1 - self.p)
        ### END SOLUTION


class Residual(Module):
    """fn(x) + x."""

    def __init__(self, fn: Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return self.fn(x) + x
        ### END SOLUTION
