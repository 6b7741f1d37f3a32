"""Hidden tests, question "parse_mnist": ``simple_ml.parse_mnist(image_filename, label_filename)``.

New small IDX fixtures written into ``tmp_path`` (pixel ranges whose maximum
is below 255 and minimum above 0, so min-max scaling over the whole dataset
differs from pixel / 255 and from per-image scaling), plus the byte-exact
t10k files against an independent decoding.
"""
import numpy as np
import pytest

from simple_ml import parse_mnist
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import (
    IMAGE_MAGIC, LABEL_MAGIC, min_max_scaled, mnist_paths, read_idx, write_idx, write_pair,
)


def images_in_range(n, low, high, seed):
    """n images whose own ranges are all narrower than [low, high]; together
    they reach exactly low and high."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    span = high - low
    for i in range(n):
        lo = low + (i * span) // (4 * n)
        hi = high - ((n - 1 - i) * span) // (4 * n)
        images[i] = rng.integers(lo, hi + 1, size=(28, 28))
    images[0, rng.integers(28), 0] = low
    images[-1, rng.integers(28), -1] = high
    return images


RANGES = [
    # (id, images, smallest pixel, largest pixel)
    ("9-images-0-to-131", 9, 0, 131),
    ("4-images-17-to-255", 4, 17, 255),
    ("12-images-40-to-90", 12, 40, 90),
    ("1-image-3-to-250", 1, 3, 250),
]


@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_min_max_scaling_over_the_whole_file(tmp_path, n, low, high):
    """Pixels are scaled so the file's smallest value becomes 0 and its largest 1; shapes and dtypes as documented."""
    images = images_in_range(n, low, high, seed=high + n)
    labels = (np.arange(n) * 7 + 3) % 10
    X, y = parse_mnist(*write_pair(tmp_path, images, labels))
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray), "parse_mnist should return two NumPy arrays"
    assert X.shape == (n, 784) and y.shape == (n,), f"expected shapes ({n}, 784) and ({n},), got {X.shape} and {y.shape}"
    assert X.dtype == np.float32 and y.dtype == np.uint8, f"expected float32 and uint8, got {X.dtype} and {y.dtype}"
    assert_close(X, min_max_scaled(images), tol=TOL["float32"], what=f"X for pixels spanning [{low}, {high}]",
                 hint="(x - min) / (max - min) over the whole dataset")
    assert_close(y, labels.astype(np.uint8), what="y")


def test_pixels_are_read_row_major(tmp_path):
    """Each image's 784 values are its rows one after another, in file order."""
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    first = (rows * 9 + cols * 2) % 200 + 10  # not symmetric: a transposed read changes it
    second = (rows * 3 + cols * 7) % 150 + 30
    images = np.stack([first, second]).astype(np.uint8)
    X, _ = parse_mnist(*write_pair(tmp_path, images, [8, 1]))
    assert_close(X, min_max_scaled(images), tol=TOL["float32"], what="X of two patterned images",
                 hint="reshape the payload to (N, 784) in file order: no transpose")


def test_two_files_are_scaled_independently(tmp_path):
    """Each call scales by its own file's range."""
    a = images_in_range(3, 20, 200, seed=1)
    b = images_in_range(5, 0, 100, seed=2)
    Xa, ya = parse_mnist(*write_pair(tmp_path, a, [1, 2, 3], "a-"))
    Xb, yb = parse_mnist(*write_pair(tmp_path, b, [9, 8, 7, 6, 5], "b-"))
    assert_close(Xa, min_max_scaled(a), tol=TOL["float32"], what="X of the first file")
    assert_close(Xb, min_max_scaled(b), tol=TOL["float32"], what="X of the second file")
    assert_close(np.concatenate([ya, yb]), np.array([1, 2, 3, 9, 8, 7, 6, 5], np.uint8), what="labels of both files")


def test_bad_files_raise_value_error(tmp_path):
    """A wrong magic number, a truncated payload or mismatched counts raise ValueError."""
    images = images_in_range(3, 0, 255, seed=4)
    image_file, label_file = write_pair(tmp_path, images, [4, 5, 6])
    X, _ = parse_mnist(image_file, label_file)
    assert_close(X, min_max_scaled(images), tol=TOL["float32"], what="X of the valid pair")
    cases = {
        "labels-with-image-magic": (image_file, write_idx(tmp_path / "l1.gz", IMAGE_MAGIC, (3,), [4, 5, 6])),
        "truncated-images": (write_idx(tmp_path / "i2.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=784), label_file),
        "three-images-four-labels": (image_file, write_idx(tmp_path / "l3.gz", LABEL_MAGIC, (4,), [4, 5, 6, 7])),
    }
    raised = []
    for name, files in cases.items():
        try:
            parse_mnist(*files)
        except ValueError:
            raised.append(1)
        else:
            raised.append(0)
            pytest.fail(f"parse_mnist should raise ValueError for {name.replace('-', ' ')}")
    assert_close(np.array(raised), np.ones(len(cases), dtype=np.int64), what="ValueError raised for each bad file")


# --- the real t10k files -------------------------------------------------------


@pytest.mark.mnist
def test_t10k_against_raw_bytes(mnist_dir):
    """On the real t10k files, X is the raw pixels over 255 and y the raw label bytes."""
    image_file, label_file = mnist_paths(mnist_dir)
    X, y = parse_mnist(image_file, label_file)
    raw_X = read_idx(image_file, 16).reshape(10000, 784)
    raw_y = read_idx(label_file, 8)
    assert X.shape == (10000, 784) and X.dtype == np.float32, f"t10k X should be (10000, 784) float32, got {X.shape} {X.dtype}"
    assert y.shape == (10000,) and y.dtype == np.uint8, f"t10k y should be (10000,) uint8, got {y.shape} {y.dtype}"
    expected = raw_X.astype(np.float32) / np.float32(255)
    worst = float(np.abs(X.astype(np.float64) - expected).max())
    assert worst <= 1e-6, f"t10k X differs from the raw pixels / 255 by up to {worst:g}"
    assert np.array_equal(y, raw_y), "t10k y differs from the raw label bytes"
    rows = np.arange(3, 10000, 401)  # a sample of rows handed over
    assert_close(X[rows], expected[rows], tol=TOL["float32"], what="a sample of t10k rows")
    assert_close(y[rows], raw_y[rows], what="a sample of t10k labels")
    assert_close(np.array([X.sum(dtype=np.float64)]), np.array([expected.sum(dtype=np.float64)]),
                 tol=TOL["training"], what="the sum of all t10k pixels")
