"""Inputs shared by the public and hidden tests of question "forward ops".
Inputs only: nothing here computes what an op should return."""
import numpy as np


def float32_tensors(makers):
    """float32 Tensors of the arrays that ``makers`` (functions of no
    argument) make, each cast to float32."""
    import needle as ndl

    return [ndl.Tensor(make().astype(np.float32), dtype="float32") for make in makers]


# The op class of each wrapper: a case named "<wrapper>-..." belongs to that
# op's behaviour (a bug breaks one op's forward).
OP_OF_WRAPPER = {
    "power_scalar": "PowerScalar", "power": "EWisePow", "divide": "EWiseDiv", "divide_scalar": "DivScalar",
    "transpose": "Transpose", "reshape": "Reshape", "broadcast_to": "BroadcastTo", "summation": "Summation",
    "matmul": "MatMul", "negate": "Negate", "log": "Log", "exp": "Exp", "relu": "ReLU",
    "logsumexp": "LogSumExp", "logsoftmax": "LogSoftmax",
}


def op_cases(cases):
    """``pytest.param``s of (name, op, makers) cases, each with its name as
    id and in the behaviour of the op its name starts with."""
    import pytest

    return [pytest.param(*c, id=c[0], marks=pytest.mark.behaviour(OP_OF_WRAPPER[c[0].split("-")[0]]))
            for c in cases]
