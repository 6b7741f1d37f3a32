"""Needle's core: the dynamic graph of Values and reverse-mode differentiation.

A Tensor is a node of a graph: a leaf (``op is None``) holding data, or the
result of an ``Op`` applied to input Tensors.  ``Tensor.backward`` walks the
graph in reverse topological order and gives every node a ``.grad``.
"""
import operator
from functools import reduce
from typing import Dict, List, Optional, Tuple, Union

import numpy

from .backend_numpy import Device, all_devices, cpu, default_device  # noqa: F401

# Compute op results only when their data is asked for (off: compute at once).
LAZY_MODE = False
# The number of live Values: each one counts itself in and out.
TENSOR_COUNTER = 0

# This backend's array type; ``compute`` works on these.
NDArray = numpy.ndarray
array_api = numpy


class GradientContractError(ValueError):
    """An op's ``gradient`` broke its contract: one gradient per input, each
    with the shape of its input."""


class Op:
    """An operator: ``compute`` on arrays, ``gradient`` built from needle ops."""

    def __call__(self, *args):
        raise NotImplementedError()

    def compute(self, *args: NDArray):
        """The forward pass on raw arrays."""
        raise NotImplementedError()

    def gradient(self, out_grad: "Value", node: "Value") -> Union["Value", Tuple["Value"]]:
        """The partial adjoints of ``node``'s inputs given ``out_grad``, the
        adjoint of ``node`` itself; one Value per input, built from needle ops
        so that gradients can be differentiated again."""
        raise NotImplementedError()

    def gradient_as_tuple(self, out_grad: "Value", node: "Value") -> Tuple["Value"]:
        output = self.gradient(out_grad, node)
        if isinstance(output, tuple):
            return output
        if isinstance(output, list):
            return tuple(output)
        return (output,)


class TensorOp(Op):
    """An op whose output is a Tensor."""

    def __call__(self, *args):
        return Tensor.make_from_op(self, args)


class TensorTupleOp(Op):
    """An op whose output is a TensorTuple."""

    def __call__(self, *args):
        return TensorTuple.make_from_op(self, args)


class Value:
    """A node of the computational graph."""

    op: Optional[Op]
    inputs: List["Value"]
    cached_data: Optional[NDArray]
    requires_grad: bool

    def realize_cached_data(self):
        """Compute this node's data (and its inputs') unless cached."""
        if self.cached_data is None:
            if any(x.cached_data is None for x in self.inputs):
                # Lazy mode: the nodes without data, inputs first (the search stops at data).
                order = []
                topo_sort_dfs(self, _WithData(), order)
                for node in order:
                    if node.cached_data is None:
                        node.cached_data = _compute(node.op, node.inputs)
            if self.cached_data is None:  # eager mode, or an order that left it out
                self.cached_data = _compute(self.op, self.inputs)
        return self.cached_data

    def is_leaf(self):
        return self.op is None

    def __del__(self):
        global TENSOR_COUNTER
        TENSOR_COUNTER -= 1

    def _init(
        self,
        op: Optional[Op],
        inputs: List["Value"],
        *,
        num_outputs: int = 1,
        cached_data=None,
        requires_grad: Optional[bool] = None,
    ):
        global TENSOR_COUNTER
        TENSOR_COUNTER += 1
        if requires_grad is None:
            requires_grad = any([x.requires_grad for x in inputs])
        self.op = op
        self.inputs = inputs
        self.num_outputs = num_outputs
        self.cached_data = cached_data
        self.requires_grad = requires_grad

    @classmethod
    def make_const(cls, data, *, requires_grad=False):
        if isinstance(data, Value):
            data = data.realize_cached_data()
        value = cls.__new__(cls)
        value._init(None, [], cached_data=data, requires_grad=requires_grad)
        return value

    @classmethod
    def make_from_op(cls, op: Op, inputs: List["Value"]):
        inputs = list(inputs)
        requires_grad = False
        for x in inputs:
            if x.requires_grad:
                requires_grad = True
                break
        cached_data = None
        if not LAZY_MODE:
            # Computed before the Value exists, so that an op that raises
            # leaves TENSOR_COUNTER as it was.
            cached_data = _compute(op, inputs)
            if not requires_grad:
                op, inputs = None, []  # no gradient will flow here: keep no graph through constants
        value = cls.__new__(cls)
        value._init(op, inputs, cached_data=cached_data, requires_grad=requires_grad)
        return value


def _compute(op: Op, inputs: List[Value]):
    data = op.compute(*[x.cached_data if x.cached_data is not None else x.realize_cached_data()
                        for x in inputs])
    # NumPy turns 0-d results into scalars; keep arrays.
    return numpy.asarray(data) if isinstance(data, numpy.generic) else data


class TensorTuple(Value):
    """A tuple of Tensors that is itself a node of the graph."""

    def __len__(self):
        return len(self.realize_cached_data())

    def __getitem__(self, index: int):
        return needle_ops.tuple_get_item(self, index)

    def tuple(self):
        return tuple(self[i] for i in range(len(self)))

    def __repr__(self):
        return "needle.TensorTuple" + str(self.tuple())

    def __str__(self):
        return self.__repr__()

    def __add__(self, other):
        if not isinstance(other, TensorTuple) or len(self) != len(other):
            raise TypeError(
                f"a TensorTuple of length {len(self)} can only be added to another "
                f"of the same length; got {type(other).__name__}"
            )
        return needle_ops.make_tuple(*[self[i] + other[i] for i in range(len(self))])

    def detach(self):
        return TensorTuple.make_const(self.realize_cached_data())


class Tensor(Value):
    grad: "Tensor"

    def __init__(
        self,
        array,
        *,
        device: Optional[Device] = None,
        dtype=None,
        requires_grad=True,
        **kwargs,
    ):
        if device is not None and not isinstance(device, Device):
            raise TypeError(
                f"device must be a needle Device such as needle.cpu(); got {device!r}"
            )
        if isinstance(array, Tensor):
            device = array.device if device is None else device
            if dtype is None or numpy.dtype(dtype) == array.dtype:
                cached_data = array.realize_cached_data()
            else:
                cached_data = Tensor._array_from_numpy(array.numpy(), device, dtype)
        else:
            device = cpu() if device is None else device
            cached_data = Tensor._array_from_numpy(array, device, dtype)
        self._init(None, [], cached_data=cached_data, requires_grad=requires_grad)

    @staticmethod
    def _array_from_numpy(numpy_array, device, dtype):
        try:
            data = numpy.array(numpy_array, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"cannot make a Tensor from {type(numpy_array).__name__} with "
                f"dtype={dtype!r}: {error}"
            ) from None
        if data.dtype.kind not in "biufc":
            raise TypeError(
                f"a Tensor holds numbers; got {type(numpy_array).__name__} "
                f"that NumPy reads as dtype {data.dtype}"
            )
        return data

    @property
    def data(self):
        """A leaf sharing this Tensor's values, outside the graph."""
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Tensor.data takes a Tensor; got {type(value).__name__}"
            )
        if value.dtype != self.dtype:
            raise TypeError(
                f"Tensor.data: cannot assign {value.dtype} data to a {self.dtype} "
                f"Tensor; keep the dtype (e.g. compute with float32 numbers, or "
                f"Tensor(x, dtype='{self.dtype}'))"
            )
        self.cached_data = value.realize_cached_data()

    def detach(self):
        """A new leaf with the same data and no graph."""
        return Tensor.make_const(self.realize_cached_data())

    @property
    def shape(self):
        data = self.cached_data
        return (data if data is not None else self.realize_cached_data()).shape

    @property
    def dtype(self):
        data = self.cached_data
        return (data if data is not None else self.realize_cached_data()).dtype

    @property
    def device(self):
        return cpu()

    def backward(self, out_grad=None):
        """Set ``.grad`` on every node this Tensor depends on."""
        if out_grad is None:
            out_grad = Tensor.make_const(numpy.ones(self.shape, dtype=self.dtype))
        elif not isinstance(out_grad, Tensor) or out_grad.shape != self.shape:
            raise ValueError(
                f"backward(out_grad): out_grad must be a Tensor of this Tensor's "
                f"shape {self.shape}; got "
                + (f"shape {out_grad.shape}" if isinstance(out_grad, Tensor)
                   else type(out_grad).__name__)
            )
        compute_gradient_of_variables(self, out_grad)

    def __repr__(self):
        return "needle.Tensor(" + str(self.realize_cached_data()) + ")"

    def __str__(self):
        return self.realize_cached_data().__str__()

    def numpy(self):
        """A copy of the data: writing into it never changes the Tensor."""
        return numpy.array(self.realize_cached_data())

    def __add__(self, other):
        if isinstance(other, Tensor):
            return needle_ops.EWiseAdd()(self, other)
        return needle_ops.AddScalar(other)(self)

    def __mul__(self, other):
        if isinstance(other, Tensor):
            return needle_ops.EWiseMul()(self, other)
        return needle_ops.MulScalar(other)(self)

    def __pow__(self, other):
        if isinstance(other, Tensor):
            return needle_ops.EWisePow()(self, other)
        return needle_ops.PowerScalar(other)(self)

    def __sub__(self, other):
        if isinstance(other, Tensor):
            return needle_ops.EWiseAdd()(self, needle_ops.Negate()(other))
        return needle_ops.AddScalar(-other)(self)

    def __rsub__(self, other):
        return needle_ops.AddScalar(other)(needle_ops.Negate()(self))

    def __truediv__(self, other):
        if isinstance(other, Tensor):
            return needle_ops.EWiseDiv()(self, other)
        return needle_ops.DivScalar(other)(self)

    def __rtruediv__(self, other):
        return needle_ops.MulScalar(other)(needle_ops.PowerScalar(-1.0)(self))

    def __matmul__(self, other):
        return needle_ops.MatMul()(self, other)

    def matmul(self, other):
        return needle_ops.MatMul()(self, other)

    def sum(self, axes=None):
        return needle_ops.Summation(axes)(self)

    def broadcast_to(self, shape):
        return needle_ops.BroadcastTo(shape)(self)

    def reshape(self, shape):
        return needle_ops.Reshape(shape)(self)

    def __neg__(self):
        return needle_ops.Negate()(self)

    def transpose(self, axes=None):
        return needle_ops.Transpose(axes)(self)

    __radd__ = __add__
    __rmul__ = __mul__


def compute_gradient_of_variables(output_tensor, out_grad):
    """Take the gradient of ``output_tensor`` with respect to every node it
    depends on, and store each one in the node's ``grad`` field.

    Every call overwrites ``grad``: gradients are never accumulated across
    calls.
    """
    # For each node, the partial adjoints that its consumers sent it.
    node_to_output_grads_list: Dict[Value, List[Value]] = {output_tensor: [out_grad]}

    ### BEGIN SOLUTION
    reverse_topo_order = list(reversed(find_topo_sort([output_tensor])))
    global LAZY_MODE
    # Gradient ops are built lazily and only the adjoints of nodes that need
    # one are computed, so that no work is spent on constants (the gradient of
    # a matmul with respect to its data batch, say).
    lazy_mode, LAZY_MODE = LAZY_MODE, True
    try:
        for node in reverse_topo_order:
            partials = node_to_output_grads_list.pop(node, None)
            if partials is None:
                continue  # nothing that needs a gradient depends on it
            grad = partials[0] if len(partials) == 1 else sum_node_list(partials)
            grad.realize_cached_data()
            if grad.op is not None and not grad.requires_grad:
                grad = grad.detach()  # drop the graph that computed it
            node.grad = grad
            if node.op is None:
                continue
            input_grads = node.op.gradient_as_tuple(node.grad, node)
            check_gradients(node, input_grads)
            for input_node, input_grad in zip(node.inputs, input_grads):
                if input_node.requires_grad:
                    node_to_output_grads_list.setdefault(input_node, []).append(input_grad)
    finally:
        LAZY_MODE = lazy_mode
    ### END SOLUTION


def check_gradients(node: Value, input_grads: Tuple[Value]):
    """Raise GradientContractError unless ``input_grads`` holds one Value per
    input of ``node``, each with its input's shape."""
    inputs = node.inputs
    if len(input_grads) != len(inputs):
        raise GradientContractError(
            f"{type(node.op).__name__}.gradient returned {len(input_grads)} gradient(s) "
            f"for {len(inputs)} input(s); return one per input, in order"
        )
    for index, input_node in enumerate(inputs):
        if not input_node.requires_grad:
            continue  # never used, so never computed (see compute_gradient_of_variables)
        grad = input_grads[index]
        if not isinstance(grad, Value):
            raise GradientContractError(
                f"{type(node.op).__name__}.gradient: the gradient for input {index} is a "
                f"{type(grad).__name__}, not a needle Tensor; build gradients "
                f"from needle ops"
            )
        if isinstance(input_node, Tensor) and grad.shape != input_node.shape:
            raise GradientContractError(
                f"{type(node.op).__name__}.gradient: the gradient for input {index} has "
                f"shape {grad.shape}, but input {index} has shape {input_node.shape}; "
                f"a gradient must have its input's shape (sum over broadcast axes)"
            )


def find_topo_sort(node_list: List[Value]) -> List[Value]:
    """Return the nodes that ``node_list`` depends on, in forward topological
    order: a post-order depth-first search that visits each node's inputs
    left to right and each node once.
    """
    ### BEGIN SOLUTION
    visited = set()
    topo_order = []
    for node in node_list:
        topo_sort_dfs(node, visited, topo_order)
    return topo_order
    ### END SOLUTION


def topo_sort_dfs(node, visited, topo_order):
    """Post-order DFS from ``node``, appending to ``topo_order``.

    Iterative with an explicit stack, so a chain of any length works.
    """
    ### BEGIN SOLUTION
    if node in visited:
        return
    visited.add(node)
    stack = [(node, iter(node.inputs))]
    while stack:
        current, inputs = stack[-1]
        for child in inputs:
            if child not in visited:
                visited.add(child)
                stack.append((child, iter(child.inputs)))
                break
        else:
            stack.pop()
            topo_order.append(current)
    ### END SOLUTION


class _WithData(set):
    """A ``visited`` set for topo_sort_dfs that holds every node with data
    too, so that realizing a lazy graph searches only what it computes (a
    search that keeps ids or anything else in it works, and searches more)."""

    def __contains__(self, item):
        return getattr(item, "cached_data", None) is not None or super().__contains__(item)


def sum_node_list(node_list):
    """Add Values with needle's ``add``, without the extra ``0 +`` node that
    Python's ``sum`` would create."""
    return reduce(operator.add, node_list)


# The ops build on the classes above, so they are imported last.
from . import ops as needle_ops  # noqa: E402
