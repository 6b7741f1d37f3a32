"""Weight initializers.  Each draws once, a (fan_in, fan_out) array (or
``shape`` when given), through ``rand`` or ``randn``; extra keyword arguments
(``dtype``, ``device``, ``requires_grad``) pass through to them."""
import math

from .init_basic import rand, randn


def _relu_gain(nonlinearity):
    if nonlinearity != "relu":
        raise ValueError(f"only nonlinearity='relu' is supported; got {nonlinearity!r}")
    return math.sqrt(2)


def xavier_uniform(fan_in, fan_out, gain=1.0, **kwargs):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    # TODO (question initializers): xavier_uniform
    raise NotImplementedError("TODO (question initializers): xavier_uniform")


def xavier_normal(fan_in, fan_out, gain=1.0, **kwargs):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    # TODO (question initializers): xavier_normal
    raise NotImplementedError("TODO (question initializers): xavier_normal")


def kaiming_uniform(fan_in, fan_out, nonlinearity="relu", shape=None, **kwargs):
    """U(-b, b) with b = sqrt(2) * sqrt(3 / fan_in)."""
    # TODO (question initializers): kaiming_uniform
    raise NotImplementedError("TODO (question initializers): kaiming_uniform")


def kaiming_normal(fan_in, fan_out, nonlinearity="relu", shape=None, **kwargs):
    """N(0, std^2) with std = sqrt(2) / sqrt(fan_in)."""
    # TODO (question initializers): kaiming_normal
    raise NotImplementedError("TODO (question initializers): kaiming_normal")
