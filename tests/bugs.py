"""A gallery of one-bug submissions: the reference with one classic student
mistake each, for checking that the suites still catch what they should.

Each ``Bug`` replaces ``old``, which must occur exactly once in
``reference/<path>``, by ``new``.  ``make_submission(bug, dest)`` writes the
buggy implementation root (``needle/`` and ``apps/``) into ``dest`` and
raises when ``old`` is not found exactly once, so the gallery fails loudly as
soon as the reference changes under it.

Used by ``python -m grader audit`` (which grades every bug and reports the
ones no test caught) and by ``tests/test_grader.py``.
"""
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

KIT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = KIT_ROOT / "reference"
IMPLEMENTATION_FOLDERS = ("needle", "apps")


@dataclass(frozen=True)
class Bug:
    name: str  # a short identifier, used as a test id
    question: str  # the question of grader/questions.py whose tests must catch it
    path: str  # the file, relative to an implementation root
    old: str  # text that occurs exactly once in reference/<path>
    new: str  # what replaces it
    why: str  # the mistake, in a line


BUGS: Tuple[Bug, ...] = (
    # --- forward_ops ---------------------------------------------------------
    Bug(
        "logsumexp_without_max_shift", "forward_ops", "needle/ops/ops_logarithmic.py",
        "        return array_api.squeeze(_stable_logsumexp(Z, self.axes), axis=self.axes)\n",
        "        return array_api.log(array_api.sum(array_api.exp(Z), axis=self.axes))\n",
        "LogSumExp computes log(sum(exp(z))) directly: exp overflows for large logits",
    ),
    Bug(
        "transpose_reverses_all_axes", "forward_ops", "needle/ops/ops_mathematic.py",
        "        i, j = (-1, -2) if self.axes is None else self.axes\n"
        "        return array_api.swapaxes(a, i, j)\n",
        "        return array_api.transpose(a)\n",
        "Transpose uses numpy.transpose, which reverses every axis instead of swapping two",
    ),
    # --- backward_ops --------------------------------------------------------
    Bug(
        "power_scalar_gradient_g_s_a", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return out_grad * mul_scalar(power_scalar(a, self.scalar - 1), self.scalar)\n",
        "        return out_grad * mul_scalar(a, self.scalar)\n",
        "PowerScalar's gradient is g * s * a instead of g * s * a^(s-1)",
    ),
    Bug(
        "summation_gradient_ignores_one_axis", "backward_ops", "needle/ops/ops_mathematic.py",
        "        if self.axes is not None:\n"
        "            out_grad = reshape(out_grad, _reduced_shape_keepdims(shape, self.axes))\n",
        "        if self.axes is not None and len(self.axes) > 1:\n"
        "            out_grad = reshape(out_grad, _reduced_shape_keepdims(shape, self.axes))\n",
        "Summation's gradient reshapes for a tuple of axes but not for a single (int) axis, "
        "so it broadcasts along the wrong axis",
    ),
    Bug(
        "transpose_gradient_default_axes", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return transpose(out_grad, self.axes)\n",
        "        return transpose(out_grad)\n",
        "Transpose's gradient always swaps the last two axes, not the op's axes",
    ),
    Bug(
        "matmul_gradient_without_batch_sum", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return (\n"
        "            _unbroadcast(grad_a, a.shape, batch + a.shape[-2:]),\n"
        "            _unbroadcast(grad_b, b.shape, batch + b.shape[-2:]),\n"
        "        )\n",
        "        return grad_a, grad_b\n",
        "MatMul's gradients are not summed over the broadcast batch axes",
    ),
    Bug(
        "relu_gradient_one_at_zero", "backward_ops", "needle/ops/ops_mathematic.py",
        "node.inputs[0].realize_cached_data() > 0)",
        "node.inputs[0].realize_cached_data() >= 0)",
        "ReLU's gradient is 1 at exactly 0 (it must be 0)",
    ),
    # --- topo_sort -----------------------------------------------------------
    Bug(
        "topo_sort_pre_order", "topo_sort", "needle/autograd.py",
        "    if node in visited:\n"
        "        return\n"
        "    visited.add(node)\n"
        "    stack = [(node, iter(node.inputs))]\n"
        "    while stack:\n"
        "        current, inputs = stack[-1]\n"
        "        for child in inputs:\n"
        "            if child not in visited:\n"
        "                visited.add(child)\n"
        "                stack.append((child, iter(child.inputs)))\n"
        "                break\n"
        "        else:\n"
        "            stack.pop()\n"
        "            topo_order.append(current)\n",
        "    if node in visited:\n"
        "        return\n"
        "    visited.add(node)\n"
        "    topo_order.append(node)\n"
        "    for child in node.inputs:\n"
        "        topo_sort_dfs(child, visited, topo_order)\n",
        "the DFS appends a node before its inputs (pre-order), so the order is not topological",
    ),
    # --- reverse_ad ----------------------------------------------------------
    Bug(
        "gradients_accumulate_across_backward", "reverse_ad", "needle/autograd.py",
        "            node.grad = grad\n",
        "            node.grad = grad if getattr(node, 'grad', None) is None else node.grad + grad\n",
        "backward() adds to an existing .grad instead of overwriting it",
    ),
    Bug(
        "only_last_partial_adjoint", "reverse_ad", "needle/autograd.py",
        "sum_node_list(partials)",
        "partials[-1]",
        "a node used several times keeps only its last partial adjoint instead of their sum",
    ),
    # --- parse_mnist ---------------------------------------------------------
    # Distinguishable on the suites' data: the public suite writes IDX files
    # whose pixels span [0, 200] and [30, 180], where x / 255 is not min-max.
    Bug(
        "parse_mnist_divides_by_255", "parse_mnist", "apps/simple_ml.py",
        "    low, high = (X.min(), X.max()) if X.size else (0.0, 0.0)\n"
        "    X -= low\n"
        "    if high > low:\n"
        "        X /= high - low\n",
        "    X /= 255.0\n",
        "pixels divided by 255 instead of min-max scaled over the dataset",
    ),
    # --- softmax_loss --------------------------------------------------------
    Bug(
        "softmax_loss_summed", "softmax_loss", "apps/simple_ml.py",
        "    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[0]\n",
        "    return -ndl.summation(ndl.logsoftmax(Z) * y_one_hot)\n",
        "the softmax loss is summed over the batch, not averaged",
    ),
    # --- nn_epoch ------------------------------------------------------------
    Bug(
        "nn_epoch_skips_partial_batch", "nn_epoch", "apps/simple_ml.py",
        "    for X_b, Y_b in _batches(X, y, batch, W2.shape[1]):\n",
        "    full = X.shape[0] // batch * batch\n"
        "    for X_b, Y_b in _batches(X[:full], y[:full], batch, W2.shape[1]):\n",
        "nn_epoch drops the last, partial minibatch",
    ),
    Bug(
        "nn_epoch_shuffles", "nn_epoch", "apps/simple_ml.py",
        "    W1 = ndl.Tensor.make_const(W1.numpy(), requires_grad=True)\n",
        "    order = np.random.permutation(X.shape[0])\n"
        "    X, y = X[order], y[order]\n"
        "    W1 = ndl.Tensor.make_const(W1.numpy(), requires_grad=True)\n",
        "nn_epoch shuffles the examples instead of taking the batches in order",
    ),
    # --- initializers --------------------------------------------------------
    Bug(
        "kaiming_uniform_fan_out", "initializers", "needle/init/init_initializers.py",
        "    bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_in)\n",
        "    bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_out)\n",
        "kaiming_uniform's bound uses fan_out instead of fan_in",
    ),
    # --- modules -------------------------------------------------------------
    Bug(
        "batchnorm_unbiased_running_var", "modules", "needle/nn/nn_basic.py",
        "self.momentum * var.detach()\n",
        "self.momentum * (var * (batch / (batch - 1))).detach()\n",
        "BatchNorm1d's running variance uses the unbiased batch variance",
    ),
    Bug(
        "dropout_keeps_where_rand_above_p", "modules", "needle/nn/nn_basic.py",
        "        mask = init.randb(*x.shape, p=1 - self.p, dtype=x.dtype)\n",
        "        mask = 1 - init.randb(*x.shape, p=self.p, dtype=x.dtype)\n",
        "Dropout keeps a value where its uniform draw is above p, not where it is <= 1 - p",
    ),
    # --- optimizers ----------------------------------------------------------
    Bug(
        "sgd_momentum_undampened", "optimizers", "needle/optim.py",
        "            u = (1 - self.momentum) * grad\n",
        "            u = 1.0 * grad\n",
        "SGD's momentum is u = beta u + g instead of u = beta u + (1 - beta) g",
    ),
    Bug(
        "adam_step_count_per_parameter", "optimizers", "needle/optim.py",
        "        self.t += 1\n"
        "        m_correction = 1 - self.beta1**self.t\n"
        "        v_correction = 1 - self.beta2**self.t\n"
        "        for p, theta, grad in self._gradients():\n",
        "        for p, theta, grad in self._gradients():\n"
        "            self.t += 1\n"
        "            m_correction = 1 - self.beta1**self.t\n"
        "            v_correction = 1 - self.beta2**self.t\n",
        "Adam counts t once per parameter instead of once per step()",
    ),
    # --- data ----------------------------------------------------------------
    Bug(
        "flip_along_axis_0", "data", "needle/data/data_transforms.py",
        "        return img[:, ::-1, :] if flip_img else img\n",
        "        return img[::-1, :, :] if flip_img else img\n",
        "RandomFlipHorizontal flips the rows (axis 0) instead of the columns",
    ),
    Bug(
        "dataloader_ignores_shuffle", "data", "needle/data/data_basic.py",
        "        if self.shuffle:\n"
        "            self.ordering = self._split(np.random.permutation(len(self.dataset)))\n",
        "        self.ordering = self._split(np.arange(len(self.dataset)))\n",
        "the DataLoader never shuffles",
    ),
    # --- mlp_resnet ----------------------------------------------------------
    Bug(
        "epoch_never_switches_mode", "mlp_resnet", "apps/mlp_resnet.py",
        "    model.train() if opt is not None else model.eval()\n",
        "",
        "epoch() never calls model.train() / model.eval(), so evaluation runs in training mode",
    ),
)

BY_NAME = {bug.name: bug for bug in BUGS}
assert len(BY_NAME) == len(BUGS), "bug names must be unique"


def apply(bug: Bug, text: str) -> str:
    """``text`` with the bug's ``old`` replaced by ``new``; raises ValueError
    unless ``old`` occurs exactly once."""
    count = text.count(bug.old)
    if count != 1:
        raise ValueError(
            f"bug {bug.name!r}: its old text occurs {count} times in reference/{bug.path} "
            f"(expected exactly once); update tests/bugs.py to the current reference:\n{bug.old}"
        )
    return text.replace(bug.old, bug.new)


def patched_text(bug: Bug, reference: Path = REFERENCE) -> str:
    """The bug's file of ``reference`` with the bug applied; raises
    ValueError when the file is missing or ``old`` is not in it exactly once."""
    source = reference / bug.path
    if not source.is_file():
        raise ValueError(f"bug {bug.name!r}: reference/{bug.path} does not exist")
    return apply(bug, source.read_text(encoding="utf-8"))


def make_submission(bug: Bug, dest: Path, reference: Path = REFERENCE) -> Path:
    """Write reference/needle and reference/apps, with ``bug`` applied, into
    ``dest`` (created); returns ``dest``."""
    dest = Path(dest)
    patched = patched_text(bug, reference)
    dest.mkdir(parents=True, exist_ok=True)
    for folder in IMPLEMENTATION_FOLDERS:
        shutil.copytree(reference / folder, dest / folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / bug.path).write_text(patched, encoding="utf-8")
    return dest
