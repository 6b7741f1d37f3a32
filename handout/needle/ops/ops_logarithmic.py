"""Numerically stable log-softmax and log-sum-exp."""
from typing import Optional

import numpy

from ..autograd import NDArray, Tensor, TensorOp
from .ops_mathematic import (
    _normalize_axes,
    _reduced_shape_keepdims,
    exp,
    matmul,
    reshape,
    summation,
)

array_api = numpy


def _stable_logsumexp(z: NDArray, axes) -> NDArray:
    """log(sum(exp(z))) over ``axes``, kept as size-1 axes, shifted by the max
    so that nothing overflows."""
    # Array methods rather than numpy.max / numpy.sum: the functions' dispatch
    # costs more than the work on a batch of logits.
    z_max = z.max(axis=axes, keepdims=True)
    if not array_api.isfinite(z_max).all():
        # A slice of all -inf has no finite max to shift by; 0 keeps it -inf.
        z_max = array_api.where(array_api.isfinite(z_max), z_max, 0)
    with array_api.errstate(divide="ignore"):  # log(0) = -inf is the answer for such a slice
        return array_api.log(array_api.exp(z - z_max).sum(axis=axes, keepdims=True)) + z_max


class LogSoftmax(TensorOp):
    """z - logsumexp(z) over the last axis (axis 1 of the course's 2-D inputs)."""

    def compute(self, Z):
        # TODO (question forward_ops): LogSoftmax.compute
        raise NotImplementedError("TODO (question forward_ops): LogSoftmax.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): LogSoftmax.gradient
        raise NotImplementedError("TODO (question backward_ops): LogSoftmax.gradient")


def logsoftmax(a):
    return LogSoftmax()(a)


class LogSumExp(TensorOp):
    """log(sum(exp(z))) over ``axes`` (as in Summation), computed stably."""

    def __init__(self, axes: Optional[tuple] = None):
        self.axes = _normalize_axes(axes)

    def compute(self, Z):
        # TODO (question forward_ops): LogSumExp.compute
        raise NotImplementedError("TODO (question forward_ops): LogSumExp.compute")

    def gradient(self, out_grad, node):
        # TODO (question backward_ops): LogSumExp.gradient
        raise NotImplementedError("TODO (question backward_ops): LogSumExp.gradient")


def logsumexp(a, axes=None):
    return LogSumExp(axes=axes)(a)
