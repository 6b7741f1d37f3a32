"""Inputs shared by the public and hidden tests of question "forward ops".
Inputs only: nothing here computes what an op should return."""
import numpy as np


def float32_tensors(makers):
    """float32 Tensors of the arrays that ``makers`` (functions of no
    argument) make, each cast to float32."""
    import needle as ndl

    return [ndl.Tensor(make().astype(np.float32), dtype="float32") for make in makers]
