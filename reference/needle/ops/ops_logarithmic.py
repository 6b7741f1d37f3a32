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
        ### BEGIN SOLUTION
        return Z - _stable_logsumexp(Z, -1)
        ### END SOLUTION

    def gradient(self, out_grad, node):
        ### BEGIN SOLUTION
        # d/dz_i = g_i - softmax_i * sum_j g_j, broadcast by the multiply.
        if len(node.shape) >= 2:
            # -sum_j g_j, kept as a size-1 axis, in one op (a product with a
            # column of -1s) instead of three (summation, reshape, negate):
            # fewer nodes for every training step to build and free.
            minus_ones = Tensor.make_const(array_api.full((node.shape[-1], 1), -1, dtype=node.dtype))
            return out_grad + exp(node) * matmul(out_grad, minus_ones)
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
