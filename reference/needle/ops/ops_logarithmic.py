"""Numerically stable log-softmax and log-sum-exp."""
from typing import Optional

import numpy

from ..autograd import NDArray, TensorOp
from .ops_mathematic import (
    _normalize_axes,
    _reduced_shape_keepdims,
    exp,
    reshape,
    summation,
)

array_api = numpy


def _stable_logsumexp(z: NDArray, axes) -> NDArray:
    """log(sum(exp(z))) over ``axes``, kept as size-1 axes, shifted by the max
    so that nothing overflows."""
    z_max = array_api.max(z, axis=axes, keepdims=True)
    if not array_api.isfinite(z_max).all():
        # A slice of all -inf has no finite max to shift by; 0 keeps it -inf.
        z_max = array_api.where(array_api.isfinite(z_max), z_max, 0)
    return array_api.log(array_api.sum(array_api.exp(z - z_max), axis=axes, keepdims=True)) + z_max


class LogSoftmax(TensorOp):
    """z - logsumexp(z) over the last axis (axis 1 of the course's 2-D inputs)."""

    def compute(self, Z):
        ### BEGIN SOLUTION
        return Z - _stable_logsumexp(Z, -1)
        ### END SOLUTION

    def gradient(self, out_grad, node):
        ### BEGIN SOLUTION
        # Broadcast by the multiply: d/dz_i = g_i - softmax_i * sum_j g_j.
        grad_sum = reshape(summation(out_grad, -1), _reduced_shape_keepdims(node.shape, (-1,)))
        return out_grad - exp(node) * grad_sum
        ### END SOLUTION


def logsoftmax(a):
    return LogSoftmax()(a)


class LogSumExp(TensorOp):
    """log(sum(exp(z))) over ``axes`` (as in Summation), computed stably."""

    def __init__(self, axes: Optional[tuple] = None):
        self.axes = _normalize_axes(axes)

    def compute(self, Z):
        ### BEGIN SOLUTION
        return array_api.squeeze(_stable_logsumexp(Z, self.axes), axis=self.axes)
        ### END SOLUTION

    def gradient(self, out_grad, node):
        ### BEGIN SOLUTION
        # g * softmax(z), with g and lse broadcast back over the reduced axes.
        z = node.inputs[0]
        kept_shape = _reduced_shape_keepdims(z.shape, self.axes)
        return exp(z - reshape(node, kept_shape)) * reshape(out_grad, kept_shape)
        ### END SOLUTION


def logsumexp(a, axes=None):
    return LogSumExp(axes=axes)(a)
