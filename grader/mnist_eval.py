"""The test error of trained weights, computed by the grader on its own copy
of the MNIST test set: a training run's target is met by what the run
produced, never by predictions or labels that a test's process hands over."""
import functools
import gzip
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


@functools.lru_cache(maxsize=2)
def test_set(mnist_dir: Path) -> Tuple[np.ndarray, np.ndarray]:
    """t10k's images as (10000, 784) float32 in [0, 1] and its labels."""
    with gzip.open(mnist_dir / IMAGES, "rb") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(mnist_dir / LABELS, "rb") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return images.astype(np.float32) / np.float32(255), labels


def _logits(model: str, X: np.ndarray, weights: Sequence[np.ndarray]) -> np.ndarray:
    if model == "softmax":
        (theta,) = weights
        return X @ theta
    if model == "two_layer":
        W1, W2 = weights
        return np.maximum(X @ W1, 0) @ W2
    raise ValueError(f"no model {model!r}")


def weights_problem(model: str, weights: Sequence[np.ndarray]) -> str:
    """Why ``weights`` cannot be ``model``'s on MNIST; "" if they can."""
    shapes = [w.shape for w in weights]
    fits = (len(shapes) == 1 and shapes[0] == (784, 10)) if model == "softmax" else (
        len(shapes) == 2 and len(shapes[0]) == 2 and shapes[0][0] == 784 and shapes[1] == (shapes[0][1], 10))
    return "" if fits else f"weights of shapes {shapes} do not make a {model} model of MNIST"


def error_rate(model: str, weights: Sequence[np.ndarray], mnist_dir: Path) -> float:
    X, y = test_set(Path(mnist_dir))
    with np.errstate(all="ignore"):
        predictions = _logits(model, X, [w.astype(np.float32) for w in weights]).argmax(axis=1)
    return float(np.mean(predictions != y))
