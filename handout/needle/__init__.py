"""Needle: a NumPy automatic differentiation library (CMU 10-414 style)."""
from . import ops
from .ops import *  # noqa: F401,F403
from .autograd import Tensor, TensorTuple
from .backend_numpy import Device, all_devices, cpu, default_device
from . import init
from .init import ones, zeros, zeros_like, ones_like
from . import data, nn, optim
