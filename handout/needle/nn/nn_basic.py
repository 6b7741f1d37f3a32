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
        # TODO (question modules): Linear.__init__
        raise NotImplementedError("TODO (question modules): Linear.__init__")

    def forward(self, X: Tensor) -> Tensor:
        _check_input(self, X, features=self.in_features, features_name="in_features")
        # TODO (question modules): Linear.forward
        raise NotImplementedError("TODO (question modules): Linear.forward")


class Flatten(Module):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...)."""

    def forward(self, X):
        # TODO (question modules): Flatten.forward
        raise NotImplementedError("TODO (question modules): Flatten.forward")


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        # TODO (question modules): ReLU.forward
        raise NotImplementedError("TODO (question modules): ReLU.forward")


class Sequential(Module):
    """Applies ``self.modules`` (a tuple) in order."""

    def __init__(self, *modules):
        super().__init__()
        self.modules = modules

    def forward(self, x: Tensor) -> Tensor:
        # TODO (question modules): Sequential.forward
        raise NotImplementedError("TODO (question modules): Sequential.forward")


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
        # TODO (question modules): SoftmaxLoss.forward
        raise NotImplementedError("TODO (question modules): SoftmaxLoss.forward")


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
        # TODO (question modules): BatchNorm1d.__init__
        raise NotImplementedError("TODO (question modules): BatchNorm1d.__init__")

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, ndim=2, features=self.dim, features_name="dim")
        # TODO (question modules): BatchNorm1d.forward
        raise NotImplementedError("TODO (question modules): BatchNorm1d.forward")


class LayerNorm1d(Module):
    """Normalizes each row: (x - mean) / sqrt(var + eps) with the row's mean
    and biased variance, then weight * . + bias."""

    def __init__(self, dim, eps=1e-5, device=None, dtype="float32"):
        super().__init__()
        self.dim = dim
        self.eps = eps
        # TODO (question modules): LayerNorm1d.__init__
        raise NotImplementedError("TODO (question modules): LayerNorm1d.__init__")

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, ndim=2, features=self.dim, features_name="dim")
        # TODO (question modules): LayerNorm1d.forward
        raise NotImplementedError("TODO (question modules): LayerNorm1d.forward")


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
        # TODO (question modules): Dropout.forward
        raise NotImplementedError("TODO (question modules): Dropout.forward")


class Residual(Module):
    """fn(x) + x."""

    def __init__(self, fn: Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        # TODO (question modules): Residual.forward
        raise NotImplementedError("TODO (question modules): Residual.forward")
