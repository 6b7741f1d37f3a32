"""The NumPy backend: Needle's arrays are plain ``numpy.ndarray`` on the CPU."""
import numpy


class Device:
    """Where a Tensor's data lives."""


class CPUDevice(Device):
    """The only device of this backend: NumPy on the CPU."""

    def __repr__(self):
        return "cpu()"

    def __hash__(self):
        return hash(self.__repr__())

    def __eq__(self, other):
        return isinstance(other, CPUDevice)

    def enabled(self):
        return True

    def zeros(self, *shape, dtype="float32"):
        return numpy.zeros(shape, dtype=dtype)

    def ones(self, *shape, dtype="float32"):
        return numpy.ones(shape, dtype=dtype)

    # The random draws stay float64 from NumPy's legacy global stream, as in the
    # course, so that seeded values match; callers cast afterwards.
    def randn(self, *shape):
        return numpy.random.randn(*shape)

    def rand(self, *shape):
        return numpy.random.rand(*shape)

    def one_hot(self, n, i, dtype="float32"):
        return numpy.eye(n, dtype=dtype)[i]

    def empty(self, shape, dtype="float32"):
        return numpy.empty(shape, dtype=dtype)

    def full(self, shape, fill_value, dtype="float32"):
        return numpy.full(shape, fill_value, dtype=dtype)


def cpu():
    """Return the CPU device."""
    return CPUDevice()


def default_device():
    return cpu()


def all_devices():
    """Return every device this backend supports."""
    return [cpu()]
