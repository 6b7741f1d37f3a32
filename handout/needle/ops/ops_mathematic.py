"""Operator implementations: one class per op, then its lowercase wrapper.

``compute`` works on NumPy arrays; ``gradient`` is built only from needle ops,
so that gradients are graphs themselves and can be differentiated again.
"""
import numbers
from typing import Optional, Tuple

import numpy

from ..autograd import NDArray, Tensor, TensorOp, Value

# NumPy is this backend's array library; ``compute`` methods call it by the
# course's name.
array_api = numpy


def _scalar(value, op_name):
    """A Python number from ``value``, so that NumPy treats it as weakly typed
    and float32 data stays float32 (a ``numpy.float64`` would promote it)."""
    if type(value) is float or type(value) is int:
        return value  # the common case, without the checks below
    if isinstance(value, Value):
        raise TypeError(
            f"{op_name} takes a number; got a Tensor (use the elementwise op, "
            f"e.g. a + b with two Tensors)"
        )
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        if value.size != 1:
            raise ValueError(
                f"{op_name} takes a single number; got an array of shape {value.shape}"
            )
        return value.item()
    if not isinstance(value, numbers.Number):
        raise TypeError(f"{op_name} takes a number; got {type(value).__name__}")
    return value


def _normalize_axes(axes) -> Optional[Tuple[int, ...]]:
    """``axes`` as None or a tuple of ints (an int means a one-axis tuple)."""
    if axes is None:
        return None
    if isinstance(axes, (int, numpy.integer)):
        return (int(axes),)
    return tuple(int(axis) for axis in axes)


def _reduced_shape_keepdims(shape, axes):
    """``shape`` with the ``axes`` that a reduction removed put back as 1."""
    if axes is None:
        return (1,) * len(shape)
    reduced = {axis % len(shape) for axis in axes}
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _unbroadcast(grad: Tensor, shape, grad_shape) -> Tensor:
    """Sum ``grad``, of shape ``grad_shape``, over the axes that broadcasting
    added to an input of ``shape`` (prepended axes, and axes where the input
    has size 1).  ``grad_shape`` comes from the caller, who knows it without
    computing ``grad``: a gradient that nobody needs then stays uncomputed."""
    if grad_shape == shape:
        return grad
    lead = len(grad_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad_shape[lead + i] != 1
    )
    return reshape(summation(grad, axes), shape)


class EWiseAdd(TensorOp):
    def compute(self, a: NDArray, b: NDArray):
        return a + b

    def gradient(self, out_grad: Tensor, node: Tensor):
        a, b = node.inputs
        return _unbroadcast(out_grad, a.shape, node.shape), _unbroadcast(out_grad, b.shape, node.shape)


def add(a, b):
    return EWiseAdd()(a, b)


class AddScalar(TensorOp):
    def __init__(self, scalar):
        self.scalar = _scalar(scalar, "AddScalar")

    def compute(self, a: NDArray):
        return a + self.scalar

    def gradient(self, out_grad: Tensor, node: Tensor):
        return out_grad


def add_scalar(a, scalar):
    return AddScalar(scalar)(a)


class EWiseMul(TensorOp):
    def compute(self, a: NDArray, b: NDArray):
        return a * b

    def gradient(self, out_grad: Tensor, node: Tensor):
        a, b = node.inputs
        return (
            _unbroadcast(out_grad * b, a.shape, node.shape),
            _unbroadcast(out_grad * a, b.shape, node.shape),
        )


def multiply(a, b):
    return EWiseMul()(a, b)


class MulScalar(TensorOp):
    def __init__(self, scalar):
        self.scalar = _scalar(scalar, "MulScalar")

    def compute(self, a: NDArray):
        return a * self.scalar

    def gradient(self, out_grad: Tensor, node: Tensor):
        return (out_grad * self.scalar,)


def mul_scalar(a, scalar):
    return MulScalar(scalar)(a)


class PowerScalar(TensorOp):
    """Op to raise a tensor to a (real) power."""

    def __init__(self, scalar):
        self.scalar = _scalar(scalar, "PowerScalar")

    def compute(self, a: NDArray) -> NDArray:
        # TODO (question forward_ops): PowerScalar.compute
        raise NotImplementedError("TODO (question forward_ops): PowerScalar.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): PowerScalar.gradient
        raise NotImplementedError("TODO (question backward_ops): PowerScalar.gradient")


def power_scalar(a, scalar):
    return PowerScalar(scalar)(a)


class EWisePow(TensorOp):
    """Op to raise a to the power b elementwise (b's gradient needs a > 0)."""

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        # TODO (question forward_ops): EWisePow.compute
        raise NotImplementedError("TODO (question forward_ops): EWisePow.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): EWisePow.gradient
        raise NotImplementedError("TODO (question backward_ops): EWisePow.gradient")


def power(a, b):
    return EWisePow()(a, b)


class EWiseDiv(TensorOp):
    """Op to divide two tensors elementwise."""

    def compute(self, a, b):
        # TODO (question forward_ops): EWiseDiv.compute
        raise NotImplementedError("TODO (question forward_ops): EWiseDiv.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): EWiseDiv.gradient
        raise NotImplementedError("TODO (question backward_ops): EWiseDiv.gradient")


def divide(a, b):
    return EWiseDiv()(a, b)


class DivScalar(TensorOp):
    def __init__(self, scalar):
        self.scalar = _scalar(scalar, "DivScalar")

    def compute(self, a):
        # TODO (question forward_ops): DivScalar.compute
        raise NotImplementedError("TODO (question forward_ops): DivScalar.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): DivScalar.gradient
        raise NotImplementedError("TODO (question backward_ops): DivScalar.gradient")


def divide_scalar(a, scalar):
    return DivScalar(scalar)(a)


class Transpose(TensorOp):
    """Swap two axes: the last two when ``axes`` is None, else ``axes=(i, j)``.

    Unlike ``numpy.transpose``, ``axes`` is not a full permutation.
    """

    def __init__(self, axes: Optional[tuple] = None):
        if axes is not None and len(axes) != 2:
            raise ValueError(
                f"Transpose swaps two axes: give axes=(i, j) or None for the last "
                f"two; got axes={axes!r}"
            )
        self.axes = None if axes is None else tuple(axes)

    def compute(self, a):
        # TODO (question forward_ops): Transpose.compute
        raise NotImplementedError("TODO (question forward_ops): Transpose.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Transpose.gradient
        raise NotImplementedError("TODO (question backward_ops): Transpose.gradient")


def transpose(a, axes=None):
    return Transpose(axes)(a)


class Reshape(TensorOp):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def compute(self, a):
        # TODO (question forward_ops): Reshape.compute
        raise NotImplementedError("TODO (question forward_ops): Reshape.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Reshape.gradient
        raise NotImplementedError("TODO (question backward_ops): Reshape.gradient")


def reshape(a, shape):
    return Reshape(shape)(a)


class BroadcastTo(TensorOp):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def compute(self, a):
        # TODO (question forward_ops): BroadcastTo.compute
        raise NotImplementedError("TODO (question forward_ops): BroadcastTo.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): BroadcastTo.gradient
        raise NotImplementedError("TODO (question backward_ops): BroadcastTo.gradient")


def broadcast_to(a, shape):
    return BroadcastTo(shape)(a)


class Summation(TensorOp):
    """Sum over ``axes`` (None for all; an int or a tuple, negative allowed),
    removing them."""

    def __init__(self, axes: Optional[tuple] = None):
        self.axes = _normalize_axes(axes)

    def compute(self, a):
        # TODO (question forward_ops): Summation.compute
        raise NotImplementedError("TODO (question forward_ops): Summation.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Summation.gradient
        raise NotImplementedError("TODO (question backward_ops): Summation.gradient")


def summation(a, axes=None):
    return Summation(axes)(a)


class MatMul(TensorOp):
    """Matrix product with NumPy's batching rules (both operands at least 2-D)."""

    def compute(self, a, b):
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"MatMul needs (..., n, k) @ (..., k, m) operands; got shapes "
                f"{a.shape} and {b.shape} (reshape a vector to (1, n) or (n, 1))"
            )
        # TODO (question forward_ops): MatMul.compute
        raise NotImplementedError("TODO (question forward_ops): MatMul.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): MatMul.gradient
        raise NotImplementedError("TODO (question backward_ops): MatMul.gradient")


def matmul(a, b):
    return MatMul()(a, b)


class Negate(TensorOp):
    def compute(self, a):
        # TODO (question forward_ops): Negate.compute
        raise NotImplementedError("TODO (question forward_ops): Negate.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Negate.gradient
        raise NotImplementedError("TODO (question backward_ops): Negate.gradient")


def negate(a):
    return Negate()(a)


class Log(TensorOp):
    def compute(self, a):
        # TODO (question forward_ops): Log.compute
        raise NotImplementedError("TODO (question forward_ops): Log.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Log.gradient
        raise NotImplementedError("TODO (question backward_ops): Log.gradient")


def log(a):
    return Log()(a)


class Exp(TensorOp):
    def compute(self, a):
        # TODO (question forward_ops): Exp.compute
        raise NotImplementedError("TODO (question forward_ops): Exp.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): Exp.gradient
        raise NotImplementedError("TODO (question backward_ops): Exp.gradient")


def exp(a):
    return Exp()(a)


class ReLU(TensorOp):
    """max(a, 0); the gradient at 0 is 0."""

    def compute(self, a):
        # TODO (question forward_ops): ReLU.compute
        raise NotImplementedError("TODO (question forward_ops): ReLU.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): ReLU.gradient
        raise NotImplementedError("TODO (question backward_ops): ReLU.gradient")


def relu(a):
    return ReLU()(a)
