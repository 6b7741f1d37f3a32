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
    question: str  # the question of grader/course.toml whose tests must catch it
    path: str  # the file, relative to an implementation root
    old: str  # text that occurs exactly once in reference/<path>
    new: str  # what replaces it
    why: str  # the mistake, in a line
    # Why only the hidden suite can see it, when the public suite cannot
    # (a student should meet classic bugs in the public tests first).
    hidden_only: str = ""
    # Why it may cost more on other questions than on its own, when it does.
    elsewhere: str = ""

# Why a bug may cost more on other questions than on its own: the other
# questions' contracts run this code.  (The audit lists every such bug; a
# test that could check a question without it should.)
ENGINE = ("backward() runs this code: every test that takes a gradient or trains (reverse_ad, softmax_loss, "
          "nn_epoch, modules, optimizers, mlp_resnet) needs it")
SECOND_ORDER = "reverse_ad's second-order tests differentiate every op's gradient graph, this one's too"
NORM_LAYERS = ("BatchNorm1d and LayerNorm1d are built from it and trained in modules' tests, and mlp_resnet's "
               "blocks are built from them")
MLP_PARTS = "mlp_resnet's ResidualBlock and MLPResNet are built from nn modules (docs/API.md) and trained in its tests"
MNIST_INPUT = "mlp_resnet's epoch and train_mnist read MNIST through MNISTDataset and the DataLoader"


# The reference's topo_sort_dfs, which the topological-sort bugs replace.
TOPO_SORT_DFS = (
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
    "            topo_order.append(current)\n"
)


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
        elsewhere="the Transpose and MatMul gradients are built with transpose, and " + SECOND_ORDER,
    ),
    Bug(
        "logsoftmax_over_axis_0", "forward_ops", "needle/ops/ops_logarithmic.py",
        "        return Z - _stable_logsumexp(Z, -1)\n",
        "        return Z - _stable_logsumexp(Z, 0)\n",
        "LogSoftmax normalizes each column (axis 0) instead of each row of logits",
        elsewhere="LogSoftmax is the loss of every training question: softmax_loss, nn_epoch, "
                  "SoftmaxLoss and the modules, optimizers and mlp_resnet training tests",
    ),
    Bug(
        "logsumexp_keeps_reduced_axes", "forward_ops", "needle/ops/ops_logarithmic.py",
        "        return array_api.squeeze(_stable_logsumexp(Z, self.axes), axis=self.axes)\n",
        "        return _stable_logsumexp(Z, self.axes)\n",
        "LogSumExp keeps the reduced axes as size 1 (keepdims) instead of removing them",
    ),
    Bug(
        "power_scalar_multiplies", "forward_ops", "needle/ops/ops_mathematic.py",
        "        return array_api.power(a, self.scalar)\n",
        "        return a * self.scalar\n",
        "PowerScalar computes a * s instead of a ** s",
        elsewhere=NORM_LAYERS,
    ),
    # --- backward_ops --------------------------------------------------------
    Bug(
        "power_scalar_gradient_g_s_a", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return out_grad * mul_scalar(power_scalar(a, self.scalar - 1), self.scalar)\n",
        "        return out_grad * mul_scalar(a, self.scalar)\n",
        "PowerScalar's gradient is g * s * a instead of g * s * a^(s-1)",
        elsewhere=NORM_LAYERS,
    ),
    Bug(
        "summation_gradient_ignores_one_axis", "backward_ops", "needle/ops/ops_mathematic.py",
        "        if self.axes is not None:\n"
        "            out_grad = reshape(out_grad, _reduced_shape_keepdims(shape, self.axes))\n",
        "        if self.axes is not None and len(self.axes) > 1:\n"
        "            out_grad = reshape(out_grad, _reduced_shape_keepdims(shape, self.axes))\n",
        "Summation's gradient reshapes for a tuple of axes but not for a single (int) axis, "
        "so it broadcasts along the wrong axis",
        elsewhere=NORM_LAYERS,
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
        elsewhere="modules' Linear multiplies batches of rows with matmul, and " + SECOND_ORDER,
    ),
    Bug(
        "relu_gradient_one_at_zero", "backward_ops", "needle/ops/ops_mathematic.py",
        "node.inputs[0].realize_cached_data() > 0)",
        "node.inputs[0].realize_cached_data() >= 0)",
        "ReLU's gradient is 1 at exactly 0 (it must be 0)",
    ),
    Bug(
        "log_gradient_times_input", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return out_grad / node.inputs[0]\n",
        "        return out_grad * node.inputs[0]\n",
        "Log's gradient is g * a instead of g / a",
    ),
    Bug(
        "exp_gradient_without_out_grad", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return out_grad * node\n",
        "        return node\n",
        "Exp's gradient is exp(a), forgetting to multiply by out_grad",
    ),
    Bug(
        "divide_gradient_b_wrong_sign", "backward_ops", "needle/ops/ops_mathematic.py",
        "        grad_b = -(out_grad * node) / b\n",
        "        grad_b = (out_grad * node) / b\n",
        "EWiseDiv's gradient for b is +g a / b^2 instead of -g a / b^2",
        elsewhere=NORM_LAYERS,
    ),
    Bug(
        "broadcast_to_gradient_sums_only_new_axes", "backward_ops", "needle/ops/ops_mathematic.py",
        "        return _unbroadcast(out_grad, node.inputs[0].shape, node.shape)\n",
        "        shape = node.inputs[0].shape\n"
        "        lead = len(node.shape) - len(shape)\n"
        "        return reshape(summation(out_grad, tuple(range(lead))), shape)\n",
        "BroadcastTo's gradient sums over the prepended axes only, not over the size-1 axes "
        "that were stretched",
        elsewhere="every bias and norm layer broadcasts: modules, the optimizers' "
                  "training rows and mlp_resnet train through this gradient",
    ),
    Bug(
        "logsumexp_gradient_ignores_out_grad", "backward_ops", "needle/ops/ops_logarithmic.py",
        "        return exp(z - reshape(node, kept_shape)) * reshape(out_grad, kept_shape)\n",
        "        return exp(z - reshape(node, kept_shape))\n",
        "LogSumExp's gradient is softmax(z), forgetting to multiply by out_grad",
    ),
    # --- topo_sort -----------------------------------------------------------
    Bug(
        "topo_sort_pre_order", "topo_sort", "needle/autograd.py",
        TOPO_SORT_DFS,
        "    if node in visited:\n"
        "        return\n"
        "    visited.add(node)\n"
        "    topo_order.append(node)\n"
        "    for child in node.inputs:\n"
        "        topo_sort_dfs(child, visited, topo_order)\n",
        "the DFS appends a node before its inputs (pre-order), so the order is not topological",
        elsewhere=ENGINE,
    ),
    Bug(
        "topo_sort_without_visited_set", "topo_sort", "needle/autograd.py",
        TOPO_SORT_DFS,
        "    for child in node.inputs:\n"
        "        topo_sort_dfs(child, visited, topo_order)\n"
        "    topo_order.append(node)\n",
        "the DFS never marks nodes visited, so a node shared by several consumers appears "
        "several times",
        elsewhere=ENGINE,
    ),
    Bug(
        "topo_sort_returns_reverse_order", "topo_sort", "needle/autograd.py",
        "    return topo_order\n",
        "    return topo_order[::-1]\n",
        "find_topo_sort returns the outputs first (the reverse of a topological order)",
        elsewhere=ENGINE,
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
        elsewhere=ENGINE,
    ),
    Bug(
        "reverse_ad_in_forward_order", "reverse_ad", "needle/autograd.py",
        "    reverse_topo_order = list(reversed(find_topo_sort([output_tensor])))\n",
        "    reverse_topo_order = find_topo_sort([output_tensor])\n",
        "the adjoints are propagated in forward topological order (never reversed), so a node "
        "is visited before its consumers have sent it their partials",
        elsewhere=ENGINE,
    ),
    Bug(
        "leaves_never_get_grad", "reverse_ad", "needle/autograd.py",
        "            node.grad = grad\n"
        "            if node.op is None:\n"
        "                continue\n",
        "            if node.op is None:\n"
        "                continue\n"
        "            node.grad = grad\n",
        "backward() skips the leaves before storing their adjoint, so no parameter gets a .grad",
        elsewhere=ENGINE,
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
    Bug(
        "parse_mnist_images_not_flattened", "parse_mnist", "apps/simple_ml.py",
        "    X = images.reshape(len(images), 784).astype(np.float32)\n"
        "    low, high = (X.min(), X.max()) if X.size else (0.0, 0.0)\n"
        "    X -= low\n"
        "    if high > low:\n"
        "        X /= high - low\n"
        "    return X, labels.copy()\n",
        "    X = images.astype(np.float32)\n"
        "    low, high = (X.min(), X.max()) if X.size else (0.0, 0.0)\n"
        "    X -= low\n"
        "    if high > low:\n"
        "        X /= high - low\n"
        "    return X, labels.copy()\n",
        "parse_mnist returns images of shape (N, 28, 28) instead of rows of 784",
        elsewhere="nn_epoch's MNIST targets read the files with parse_mnist, as the course's training script does",
    ),
    Bug(
        "parse_mnist_labels_as_float", "parse_mnist", "apps/simple_ml.py",
        "    return X, labels.copy()\n",
        "    return X, labels.astype(np.float32)\n",
        "parse_mnist returns the labels as float32 instead of uint8",
    ),
    # --- softmax_loss --------------------------------------------------------
    Bug(
        "softmax_loss_summed", "softmax_loss", "apps/simple_ml.py",
        "    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[0]\n",
        "    return -ndl.summation(ndl.logsoftmax(Z) * y_one_hot)\n",
        "the softmax loss is summed over the batch, not averaged",
        elsewhere="nn_epoch's steps are gradients of softmax_loss (docs/API.md)",
    ),
    Bug(
        "softmax_loss_divides_by_class_count", "softmax_loss", "apps/simple_ml.py",
        "    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[0]\n",
        "    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[1]\n",
        "the softmax loss is averaged over the classes (Z.shape[1]) instead of the batch",
        elsewhere="nn_epoch's steps are gradients of softmax_loss (docs/API.md)",
    ),
    Bug(
        "softmax_loss_log_of_softmax", "softmax_loss", "apps/simple_ml.py",
        "    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[0]\n",
        "    exp_z = ndl.exp(Z)\n"
        "    norm = ndl.summation(exp_z, axes=(1,)).reshape((Z.shape[0], 1)).broadcast_to(Z.shape)\n"
        "    return ndl.summation(ndl.log(exp_z / norm) * y_one_hot) / -Z.shape[0]\n",
        "the softmax loss takes log(exp(z) / sum(exp(z))) without the max shift: exp "
        "overflows for large logits",
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
    Bug(
        "nn_epoch_without_relu", "nn_epoch", "apps/simple_ml.py",
        "        loss = softmax_loss(ndl.relu(X_b @ W1) @ W2, Y_b)\n",
        "        loss = softmax_loss((X_b @ W1) @ W2, Y_b)\n",
        "nn_epoch leaves out the ReLU (so its backprop has no ReLU mask either)",
    ),
    Bug(
        "sgd_step_ascends", "nn_epoch", "apps/simple_ml.py",
        "    new = W.grad.realize_cached_data() * -lr\n",
        "    new = W.grad.realize_cached_data() * lr\n",
        "the SGD step adds lr * grad instead of subtracting it",
    ),
    Bug(
        "softmax_regression_gradient_divided_by_batch_again", "nn_epoch", "apps/simple_ml.py",
        "        theta = _sgd_step(theta, lr)\n",
        "        theta = _sgd_step(theta, lr / X_b.shape[0])\n",
        "softmax_regression_epoch divides the gradient by the batch size a second time "
        "(softmax_loss already averages)",
    ),
    # --- initializers --------------------------------------------------------
    Bug(
        "kaiming_uniform_fan_out", "initializers", "needle/init/init_initializers.py",
        "    bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_in)\n",
        "    bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_out)\n",
        "kaiming_uniform's bound uses fan_out instead of fan_in",
        elsewhere="Linear draws its parameters with kaiming_uniform (docs/API.md), and " + MLP_PARTS,
    ),
    Bug(
        "xavier_normal_std_without_sqrt", "initializers", "needle/init/init_initializers.py",
        "    std = gain * math.sqrt(2 / (fan_in + fan_out))\n",
        "    std = gain * 2 / (fan_in + fan_out)\n",
        "xavier_normal's std is the variance 2 / (fan_in + fan_out), without the square root",
    ),
    Bug(
        "xavier_uniform_ignores_gain", "initializers", "needle/init/init_initializers.py",
        "    a = gain * math.sqrt(6 / (fan_in + fan_out))\n",
        "    a = math.sqrt(6 / (fan_in + fan_out))\n",
        "xavier_uniform's bound ignores gain",
    ),
    Bug(
        "kaiming_normal_ignores_shape", "initializers", "needle/init/init_initializers.py",
        "    std = _relu_gain(nonlinearity) / math.sqrt(fan_in)\n"
        "    shape = (fan_in, fan_out) if shape is None else shape\n",
        "    std = _relu_gain(nonlinearity) / math.sqrt(fan_in)\n"
        "    shape = (fan_in, fan_out)\n",
        "kaiming_normal ignores shape= and always draws (fan_in, fan_out)",
    ),
    # --- modules -------------------------------------------------------------
    Bug(
        "batchnorm_unbiased_running_var", "modules", "needle/nn/nn_basic.py",
        "self.momentum * var.detach()\n",
        "self.momentum * (var * (batch / (batch - 1))).detach()\n",
        "BatchNorm1d's running variance uses the unbiased batch variance",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "dropout_keeps_where_rand_above_p", "modules", "needle/nn/nn_basic.py",
        "        mask = init.randb(*x.shape, p=1 - self.p, dtype=x.dtype)\n",
        "        mask = 1 - init.randb(*x.shape, p=self.p, dtype=x.dtype)\n",
        "Dropout keeps a value where its uniform draw is above p, not where it is <= 1 - p",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "linear_bias_drawn_with_fan_in_1", "modules", "needle/nn/nn_basic.py",
        "init.kaiming_uniform(out_features, 1, device=device, dtype=dtype)",
        "init.kaiming_uniform(1, out_features, device=device, dtype=dtype)",
        "Linear's bias is drawn with kaiming_uniform(1, out_features), i.e. fan_in=1, "
        "not fan_in=out_features",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "batchnorm_momentum_swapped", "modules", "needle/nn/nn_basic.py",
        "            self.running_mean = (1 - self.momentum) * self.running_mean"
        " + self.momentum * mean.detach()\n",
        "            self.running_mean = self.momentum * self.running_mean"
        " + (1 - self.momentum) * mean.detach()\n",
        "BatchNorm1d's running mean weighs the old value by momentum and the batch by 1 - momentum",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "dropout_without_rescale", "modules", "needle/nn/nn_basic.py",
        "        return x * mask / (1 - self.p)\n",
        "        return x * mask\n",
        "Dropout zeroes values but does not scale the kept ones by 1 / (1 - p)",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "residual_without_skip", "modules", "needle/nn/nn_basic.py",
        "        return self.fn(x) + x\n",
        "        return self.fn(x)\n",
        "Residual returns fn(x), forgetting to add x",
        elsewhere=MLP_PARTS,
    ),
    Bug(
        "softmax_loss_module_summed", "modules", "needle/nn/nn_basic.py",
        "        return ops.summation(ops.logsoftmax(logits) * y_one_hot) / -logits.shape[0]\n",
        "        return -ops.summation(ops.logsoftmax(logits) * y_one_hot)\n",
        "nn.SoftmaxLoss sums the loss over the batch instead of averaging it",
        elsewhere="mlp_resnet's epoch and train_mnist take nn.SoftmaxLoss's gradient (docs/API.md)",
    ),
    Bug(
        "layernorm_unbiased_variance", "modules", "needle/nn/nn_basic.py",
        "        var = ((centered**2).sum((1,)) / self.dim).reshape(column).broadcast_to(x.shape)\n",
        "        var = ((centered**2).sum((1,)) / (self.dim - 1)).reshape(column).broadcast_to(x.shape)\n",
        "LayerNorm1d divides the variance by dim - 1 (unbiased) instead of dim",
        elsewhere=MLP_PARTS,
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
    Bug(
        "sgd_ignores_weight_decay", "optimizers", "needle/optim.py",
        "            grad = grad + self.weight_decay * theta\n"
        "            u = (1 - self.momentum) * grad\n",
        "            u = (1 - self.momentum) * grad\n",
        "SGD never applies weight_decay",
    ),
    Bug(
        "clip_grad_norm_per_parameter", "optimizers", "needle/optim.py",
        "        grads = [p.grad for p in self.params if getattr(p, \"grad\", None) is not None]\n"
        "        total = float(np.sqrt(sum(float(np.sum(g.realize_cached_data()"
        ".astype(np.float64) ** 2)) for g in grads)))\n"
        "        if total > max_norm:\n"
        "            scale = max_norm / (total + 1e-6)\n"
        "            for p in self.params:\n"
        "                if getattr(p, \"grad\", None) is not None:\n"
        "                    p.grad = Tensor.make_const(p.grad.realize_cached_data() * scale)\n",
        "        for p in self.params:\n"
        "            if getattr(p, \"grad\", None) is not None:\n"
        "                g = p.grad.realize_cached_data()\n"
        "                norm = float(np.linalg.norm(g))\n"
        "                if norm > max_norm:\n"
        "                    p.grad = Tensor.make_const(g * (max_norm / (norm + 1e-6)))\n",
        "clip_grad_norm clips each parameter's gradient to max_norm on its own, not their joint norm",
    ),
    Bug(
        "adam_without_bias_correction", "optimizers", "needle/optim.py",
        "            m_hat = m / m_correction\n"
        "            v_hat = v / v_correction\n",
        "            m_hat = m\n"
        "            v_hat = v\n",
        "Adam uses m and v without bias correction",
    ),
    Bug(
        "adam_ignores_weight_decay", "optimizers", "needle/optim.py",
        "            grad = grad + self.weight_decay * theta\n"
        "            m = (1 - self.beta1) * grad\n",
        "            m = (1 - self.beta1) * grad\n",
        "Adam never applies weight_decay",
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
    Bug(
        "random_crop_shifts_swapped", "data", "needle/data/data_transforms.py",
        "        return padded[pad + shift_x : pad + shift_x + height,"
        " pad + shift_y : pad + shift_y + width, :]\n",
        "        return padded[pad + shift_y : pad + shift_y + height,"
        " pad + shift_x : pad + shift_x + width, :]\n",
        "RandomCrop shifts the rows by shift_y and the columns by shift_x (the draws swapped)",
    ),
    Bug(
        "mnist_dataset_not_normalized", "data", "needle/data/datasets/mnist_dataset.py",
        "        self.X = X\n",
        "        self.X = images.reshape(len(images), 784).astype(np.float32)\n",
        "MNISTDataset keeps the raw 0-255 pixels instead of scaling them to [0, 1]",
        elsewhere=MNIST_INPUT,
    ),
    Bug(
        "dataloader_drops_last_batch", "data", "needle/data/data_basic.py",
        "        if self._next_batch >= len(self.ordering):\n",
        "        if self._next_batch >= len(self.ordering)"
        " or len(self.ordering[self._next_batch]) < self.batch_size:\n",
        "the DataLoader drops the last, partial batch",
        elsewhere=MNIST_INPUT,
    ),
    # --- mlp_resnet ----------------------------------------------------------
    Bug(
        "epoch_never_switches_mode", "mlp_resnet", "apps/mlp_resnet.py",
        "    model.train() if opt is not None else model.eval()\n",
        "",
        "epoch() never calls model.train() / model.eval(), so evaluation runs in training mode",
    ),
    Bug(
        "residual_block_relu_before_norm", "mlp_resnet", "apps/mlp_resnet.py",
        "                norm(hidden_dim),\n"
        "                nn.ReLU(),\n",
        "                nn.ReLU(),\n"
        "                norm(hidden_dim),\n",
        "ResidualBlock applies the ReLU before the first norm instead of after it",
    ),
    Bug(
        "mlp_resnet_without_final_linear", "mlp_resnet", "apps/mlp_resnet.py",
        "        *[ResidualBlock(hidden_dim, hidden_dim // 2, norm, drop_prob) for _ in range(num_blocks)],\n"
        "        nn.Linear(hidden_dim, num_classes),\n",
        "        *[ResidualBlock(hidden_dim, hidden_dim // 2, norm, drop_prob) for _ in range(num_blocks)],\n",
        "MLPResNet leaves out the final Linear(hidden_dim, num_classes)",
    ),
    Bug(
        "epoch_returns_last_batch_loss", "mlp_resnet", "apps/mlp_resnet.py",
        "    return errors / samples, loss_sum / samples\n",
        "    return errors / samples, float(loss.numpy())\n",
        "epoch() returns the last batch's loss instead of the mean over samples",
    ),
    Bug(
        "train_mnist_without_weight_decay", "mlp_resnet", "apps/mlp_resnet.py",
        "    opt = optimizer(model.parameters(), lr=lr, weight_decay=weight_decay)\n",
        "    opt = optimizer(model.parameters(), lr=lr)\n",
        "train_mnist does not pass weight_decay to the optimizer",
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
