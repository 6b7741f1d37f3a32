"""Basic initializers.  Each random one makes exactly one draw from NumPy's
legacy global stream (``numpy.random.rand`` or ``randn``), in float64, then
casts: seeded values match the course's."""
import numpy

from ..autograd import Tensor
from ..backend_numpy import cpu


def rand(*shape, low=0.0, high=1.0, device=None, dtype="float32", requires_grad=False):
    """Uniform in [low, high)."""
    device = cpu() if device is None else device
    array = device.rand(*shape) * (high - low) + low
    return Tensor(array, device=device, dtype=dtype, requires_grad=requires_grad)


def randn(*shape, mean=0.0, std=1.0, device=None, dtype="float32", requires_grad=False):
    """Normal with the given mean and standard deviation."""
    device = cpu() if device is None else device
    array = device.randn(*shape) * std + mean
    return Tensor(array, device=device, dtype=dtype, requires_grad=requires_grad)


def constant(*shape, c=1.0, device=None, dtype="float32", requires_grad=False):
    """Filled with ``c``."""
    device = cpu() if device is None else device
    array = device.full(shape, c, dtype=dtype)
    return Tensor(array, device=device, dtype=dtype, requires_grad=requires_grad)


def ones(*shape, device=None, dtype="float32", requires_grad=False):
    return constant(*shape, c=1.0, device=device, dtype=dtype, requires_grad=requires_grad)


def zeros(*shape, device=None, dtype="float32", requires_grad=False):
    return constant(*shape, c=0.0, device=device, dtype=dtype, requires_grad=requires_grad)


def randb(*shape, p=0.5, device=None, dtype="bool", requires_grad=False):
    """Bernoulli: True where a uniform draw is <= p."""
    device = cpu() if device is None else device
    array = device.rand(*shape) <= p
    return Tensor(array, device=device, dtype=dtype, requires_grad=requires_grad)


def one_hot(n, i, device=None, dtype="float32", requires_grad=False):
    """Rows of the n x n identity picked by the integer labels ``i``."""
    device = cpu() if device is None else device
    labels = numpy.asarray(i.numpy() if isinstance(i, Tensor) else i)
    if labels.dtype.kind not in "iu" or (labels.size and not 0 <= labels.min() <= labels.max() < n):
        raise ValueError(
            f"one_hot(n={n}, i): i must hold integer labels in [0, {n}); got "
            f"dtype {labels.dtype}"
            + (f" with values in [{labels.min()}, {labels.max()}]" if labels.size else "")
        )
    return Tensor(
        device.one_hot(n, labels.astype("int32"), dtype=dtype),
        device=device,
        requires_grad=requires_grad,
    )


def zeros_like(array, *, device=None, requires_grad=False):
    device = array.device if device is None else device
    return zeros(*array.shape, dtype=array.dtype, device=device, requires_grad=requires_grad)


def ones_like(array, *, device=None, requires_grad=False):
    device = array.device if device is None else device
    return ones(*array.shape, dtype=array.dtype, device=device, requires_grad=requires_grad)
