"""An MLP with residual blocks, trained on MNIST with needle.nn and
needle.optim.

From the folder that holds ``data/mnist`` (the student bundle's, after
``python mnist_fetch.py``), run ``python handout/apps/mlp_resnet.py``
to train it with the defaults and print its errors; ``--data-dir`` reads
MNIST from elsewhere. (In the kit: ``python reference/apps/mlp_resnet.py``.)
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

if __name__ == "__main__" and not __package__:
    # Run as a script from a checkout: import needle from this implementation root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import needle as ndl  # noqa: E402
import needle.nn as nn  # noqa: E402

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def ResidualBlock(dim, hidden_dim, norm=nn.BatchNorm1d, drop_prob=0.1):
    """Residual(Linear(dim, hidden) -> norm -> ReLU -> Dropout ->
    Linear(hidden, dim) -> norm), then ReLU; modules built in that order."""
    # TODO (question mlp_resnet): ResidualBlock
    raise NotImplementedError("TODO (question mlp_resnet): ResidualBlock")


def MLPResNet(dim, hidden_dim=100, num_blocks=3, num_classes=10, norm=nn.BatchNorm1d, drop_prob=0.1):
    """Linear(dim, hidden) -> ReLU -> num_blocks x ResidualBlock(hidden,
    hidden // 2) -> Linear(hidden, num_classes); modules built in that order."""
    # TODO (question mlp_resnet): MLPResNet
    raise NotImplementedError("TODO (question mlp_resnet): MLPResNet")


def epoch(dataloader, model, opt=None):
    """One pass over ``dataloader``: training (``model.train()``, a step per
    batch) when ``opt`` is given, else evaluation (``model.eval()``).
    Seeds ``np.random.seed(4)`` first.

    Returns (error rate, mean loss), both averaged over samples.
    """
    np.random.seed(4)
    # TODO (question mlp_resnet): epoch
    raise NotImplementedError("TODO (question mlp_resnet): epoch")


def _mnist_paths(data_dir, split):
    """The image and label files of ``split``, in ``data_dir`` or, where
    mnist_fetch.py puts them, ``data_dir/mnist``."""
    data_dir = Path(data_dir)
    folder = data_dir if (data_dir / MNIST_FILES[split][0]).exists() else data_dir / "mnist"
    return [str(folder / name) for name in MNIST_FILES[split]]


def train_mnist(
    batch_size=100,
    epochs=10,
    optimizer=ndl.optim.Adam,
    lr=0.001,
    weight_decay=0.001,
    hidden_dim=100,
    data_dir="data",
):
    """Train MLPResNet(784, hidden_dim) on MNIST (a shuffled train loader,
    an unshuffled test loader; ``np.random.seed(4)`` first).

    Returns (train error, train loss, test error, test loss) of the last
    epoch.
    """
    np.random.seed(4)
    # TODO (question mlp_resnet): train_mnist
    raise NotImplementedError("TODO (question mlp_resnet): train_mnist")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data/mnist", help="the four MNIST files (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        train_err, train_loss, test_err, test_loss = train_mnist(epochs=args.epochs, data_dir=args.data_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"MLPResNet, {args.epochs} epochs: train error {train_err:.2%} (loss {train_loss:.4f}), "
        f"test error {test_err:.2%} (loss {test_loss:.4f}); "
        f"{time.perf_counter() - start:.1f} s, peak memory {peak_mib:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
