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
    ### BEGIN SOLUTION
    a = gain * math.sqrt(6 / (fan_in + fan_out))
    return rand(fan_in, fan_out, low=-a, high=a, **kwargs)
    ### END SOLUTION


def xavier_normal(fan_in, fan_out, gain=1.0, **kwargs):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    ### BEGIN SOLUTION
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    return randn(fan_in, fan_out, mean=0.0, std=std, **kwargs)
    ### END SOLUTION


def kaiming_uniform(fan_in, fan_out, nonlinearity="relu", shape=None, **kwargs):
    """U(-b, b) with b = sqrt(2) * sqrt(3 / fan_in)."""
    ### BEGIN SOLUTION
    bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_in)
    shape = (fan_in, fan_out) if shape is None else shape
    return rand(*shape, low=-bound, high=bound, **kwargs)
    ### END SOLUTION


def kaiming_normal(fan_in, fan_out, nonlinearity="relu", shape=None, **kwargs):
    """N(0, std^2) with std = sqrt(2) / sqrt(fan_in)."""
    ### BEGIN SOLUTION
    std = _relu_gain(nonlinearity) / math.sqrt(fan_in)
    shape = (fan_in, fan_out) if shape is None else shape
    return randn(*shape, mean=0.0, std=std, **kwargs)
    ### END SOLUTION
