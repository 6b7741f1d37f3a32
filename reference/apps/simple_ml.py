"""MNIST with Needle: reading the IDX files, softmax regression and a
two-layer ReLU network trained by minibatch SGD.

From the folder that holds ``data/mnist`` (the student bundle's, after
``python mnist_fetch.py``), run ``python handout/apps/simple_ml.py``
to train both models and print their errors (``--model softmax`` or
``--model nn`` for one); ``--data-dir`` reads MNIST from elsewhere. (In the
kit: ``python reference/apps/simple_ml.py``.)
"""
import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

if __name__ == "__main__" and not __package__:
    # Run as a script from a checkout: import needle from this implementation root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import needle as ndl  # noqa: E402
from needle.data import read_mnist  # noqa: E402


def parse_mnist(image_filename, label_filename):
    """Read an images file and a labels file in MNIST's gzipped IDX format.

    Returns:
        X: float32 array of shape (N, 784), scaled so that the dataset's
           smallest pixel is 0.0 and its largest 1.0 (for MNIST, pixel/255).
        y: uint8 array of shape (N,), the labels 0-9.
    """
    ### BEGIN SOLUTION
    images, labels = read_mnist(image_filename, label_filename)
    X = images.reshape(len(images), 784).astype(np.float32)
    low, high = (X.min(), X.max()) if X.size else (0.0, 0.0)
    X -= low
    if high > low:
        X /= high - low
    return X, labels.copy()
    ### END SOLUTION


def softmax_loss(Z, y_one_hot):
    """Average softmax (cross-entropy) loss over a batch.

    Args:
        Z: Tensor of shape (batch_size, num_classes), the logits.
        y_one_hot: Tensor of the same shape, 1 at each example's true class.

    Returns:
        A 0-d Tensor, the mean over the batch of log(sum(exp(z))) - z_y.
    """
    if Z.shape != y_one_hot.shape or len(Z.shape) != 2:
        raise ValueError(
            f"softmax_loss: Z and y_one_hot must be (batch, classes) of one shape; "
            f"got {Z.shape} and {y_one_hot.shape}"
        )
    ### BEGIN SOLUTION
    # The loss of an example is -log softmax(z)_y = logsumexp(z) - z_y.
    return ndl.summation(ndl.logsoftmax(Z) * y_one_hot) / -Z.shape[0]
    ### END SOLUTION


def _one_hot(y, num_classes, dtype):
    one_hot = np.zeros((y.shape[0], num_classes), dtype=dtype)
    one_hot[np.arange(y.shape[0]), y] = 1
    return one_hot


def _batches(X, y, batch, num_classes):
    """(inputs, one-hot labels) of each minibatch, in order, as constants."""
    Y = _one_hot(y, num_classes, X.dtype)
    for start in range(0, X.shape[0], batch):
        stop = start + batch
        yield ndl.Tensor.make_const(X[start:stop]), ndl.Tensor.make_const(Y[start:stop])


def _release_graph(output):
    """Set ``.grad`` to None on every node of ``output``'s graph that has one.

    A gradient is a graph that usually leads back to its own node (the
    gradient of log-softmax uses its output, which depends on the logits), so
    after ``backward()`` the graph is full of reference cycles that only
    Python's cyclic garbage collector frees, many steps later and at a cost.
    Breaking them once a step is done frees the step's arrays at once.
    """
    stack = [output]
    while stack:
        node = stack.pop()
        if getattr(node, "grad", None) is not None:
            node.grad = None
            stack.extend(node.inputs)


def _sgd_step(W, lr):
    """A new leaf Tensor W - lr * W.grad (one SGD step), computed with one new
    array; W and its gradient are left as they are."""
    ### BEGIN SOLUTION
    new = W.grad.realize_cached_data() * -lr
    new += W.realize_cached_data()
    return ndl.Tensor.make_const(new, requires_grad=True)
    ### END SOLUTION


def softmax_regression_epoch(X, y, theta, lr=0.1, batch=100):
    """One epoch of SGD for softmax regression, batches in order.

    Args:
        X: (m, n) float32 array; y: (m,) integer labels.
        theta: (n, k) Tensor of parameters.

    Returns:
        The new theta, a leaf Tensor.
    """
    ### BEGIN SOLUTION
    theta = ndl.Tensor.make_const(theta.numpy(), requires_grad=True)
    for X_b, Y_b in _batches(X, y, batch, theta.shape[1]):
        loss = softmax_loss(X_b @ theta, Y_b)
        loss.backward()
        theta = _sgd_step(theta, lr)
        _release_graph(loss)
    return theta
    ### END SOLUTION


def nn_epoch(X, y, W1, W2, lr=0.1, batch=100):
    """One epoch of SGD for the two-layer network
    logits = ReLU(X_b @ W1) @ W2, batches in order (the last may be partial).

    Args:
        X: (m, n) float32 array; y: (m,) integer labels.
        W1: (n, hidden) Tensor; W2: (hidden, k) Tensor.

    Returns:
        (W1, W2): new leaf Tensors, W - lr * gradient after each batch.
    """
    ### BEGIN SOLUTION
    W1 = ndl.Tensor.make_const(W1.numpy(), requires_grad=True)
    W2 = ndl.Tensor.make_const(W2.numpy(), requires_grad=True)
    for X_b, Y_b in _batches(X, y, batch, W2.shape[1]):
        loss = softmax_loss(ndl.relu(X_b @ W1) @ W2, Y_b)
        loss.backward()
        W1, W2 = _sgd_step(W1, lr), _sgd_step(W2, lr)
        _release_graph(loss)
    return W1, W2
    ### END SOLUTION


def loss_err(h, y):
    """The average softmax loss and the error rate of logits ``h`` (a Tensor)
    for labels ``y``."""
    y_one_hot = ndl.Tensor(_one_hot(y, h.shape[-1], h.dtype), requires_grad=False)
    return float(softmax_loss(h, y_one_hot).numpy()), float(np.mean(h.numpy().argmax(axis=1) != y))


def _report(epoch, train, test):
    print(
        f"|  {epoch:>3} |   {train[0]:.5f} |   {train[1]:.5f} |  {test[0]:.5f} |  {test[1]:.5f} |",
        flush=True,
    )


_HEADER = "| Epoch | Train Loss | Train Err | Test Loss | Test Err |"


def train_softmax(X_tr, y_tr, X_te, y_te, epochs=10, lr=0.2, batch=100, verbose=True):
    """Softmax regression from theta = 0; prints losses and errors per epoch.

    Returns the trained theta, a (784, 10) float32 Tensor.
    """
    num_classes = int(y_tr.max()) + 1
    theta = ndl.Tensor(np.zeros((X_tr.shape[1], num_classes), dtype=np.float32))
    if verbose:
        print(_HEADER)
    for epoch in range(epochs):
        theta = softmax_regression_epoch(X_tr, y_tr, theta, lr=lr, batch=batch)
        if verbose:
            X_tr_t, X_te_t = ndl.Tensor.make_const(X_tr), ndl.Tensor.make_const(X_te)
            _report(epoch, loss_err(X_tr_t @ theta, y_tr), loss_err(X_te_t @ theta, y_te))
    return theta


def train_nn(X_tr, y_tr, X_te, y_te, hidden_dim=400, epochs=20, lr=0.2, batch=100, verbose=True):
    """The two-layer ReLU network, W1 = randn/sqrt(hidden), W2 = randn/sqrt(k)
    drawn after np.random.seed(0); prints losses and errors per epoch.

    Returns (W1, W2), float32 Tensors.
    """
    n, k = X_tr.shape[1], int(y_tr.max()) + 1
    np.random.seed(0)
    W1 = ndl.Tensor(np.random.randn(n, hidden_dim).astype(np.float32) / math.sqrt(hidden_dim))
    W2 = ndl.Tensor(np.random.randn(hidden_dim, k).astype(np.float32) / math.sqrt(k))
    if verbose:
        print(_HEADER)
    for epoch in range(epochs):
        W1, W2 = nn_epoch(X_tr, y_tr, W1, W2, lr=lr, batch=batch)
        if verbose:
            train = loss_err(ndl.relu(ndl.Tensor.make_const(X_tr) @ W1) @ W2, y_tr)
            test = loss_err(ndl.relu(ndl.Tensor.make_const(X_te) @ W1) @ W2, y_te)
            _report(epoch, train, test)
    return W1, W2


def load_mnist(data_dir):
    """(X_tr, y_tr, X_te, y_te) from the four files in ``data_dir``."""
    data_dir = Path(data_dir)
    return (
        *parse_mnist(data_dir / "train-images-idx3-ubyte.gz", data_dir / "train-labels-idx1-ubyte.gz"),
        *parse_mnist(data_dir / "t10k-images-idx3-ubyte.gz", data_dir / "t10k-labels-idx1-ubyte.gz"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data/mnist", help="the four MNIST files (default: %(default)s)")
    parser.add_argument("--model", choices=("softmax", "nn", "both"), default="both")
    args = parser.parse_args(argv)
    try:
        X_tr, y_tr, X_te, y_te = load_mnist(args.data_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.model in ("softmax", "both"):
        print("Softmax regression (epochs=10, lr=0.2, batch=100)")
        start = time.perf_counter()
        theta = train_softmax(X_tr, y_tr, X_te, y_te)
        error = loss_err(ndl.Tensor(X_te) @ theta, y_te)[1]
        print(f"softmax regression: test error {error:.2%} in {time.perf_counter() - start:.1f} s\n")
    if args.model in ("nn", "both"):
        print("Two-layer ReLU network (hidden=400, epochs=20, lr=0.2, batch=100)")
        start = time.perf_counter()
        W1, W2 = train_nn(X_tr, y_tr, X_te, y_te)
        error = loss_err(ndl.relu(ndl.Tensor.make_const(X_te) @ W1) @ W2, y_te)[1]
        print(f"two-layer network: test error {error:.2%} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
