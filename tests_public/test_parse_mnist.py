"""Question "parse_mnist": ``simple_ml.parse_mnist(image_filename, label_filename)``.

Contract (needle_api.md section 8): both files are gzipped IDX (big-endian
int32 header: magic 2051, count, 28, 28 for images; magic 2049, count for
labels).  X is float32 of shape (N, 784), min-max scaled over the WHOLE
dataset (smallest pixel -> 0.0, largest -> 1.0; for real MNIST that is
pixel / 255); y is uint8 of shape (N,).  A missing file raises
FileNotFoundError; a wrong magic number, a truncated payload or an image
count that differs from the label count raises ValueError naming the file.

Most tests run on small IDX files written into ``tmp_path`` by ``write_idx``
(numpy_reference.py); the last ones read the real (byte-exact) t10k files and
compare with an independent gzip + NumPy decoding.
"""
import numpy as np
import pytest

from simple_ml import parse_mnist
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import (
    IMAGE_MAGIC, LABEL_MAGIC, min_max_scaled, mnist_paths, read_idx, write_idx, write_pair,
)


def fixture_images(n, low, high, seed):
    """n random 28x28 uint8 images with pixels in [low, high], each image with
    its own range, so per-image scaling differs from whole-dataset scaling."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        lo = low + i * 3
        hi = high - i * 5
        images[i] = rng.integers(lo, hi + 1, size=(28, 28))
        images[i, 0, 0], images[i, -1, -1] = lo, hi  # each image reaches its own range
    images[0, 0, 0], images[-1, -1, -1] = low, high  # the dataset reaches [low, high]
    return images


# (id, number of images, smallest pixel, largest pixel)
RANGES = [
    ("full-range-0-255", 6, 0, 255),
    ("max-below-255", 5, 0, 200),
    ("min-above-0-max-below-255", 7, 30, 180),
]


@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_shapes_and_dtypes(tmp_path, n, low, high):
    images = fixture_images(n, low, high, seed=n)
    labels = np.arange(n) % 10
    X, y = parse_mnist(*write_pair(tmp_path, images, labels))
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray), (
        f"parse_mnist should return two NumPy arrays, got {type(X).__name__} and {type(y).__name__}"
    )
    assert X.shape == (n, 784), f"X should have shape (N, 784) = ({n}, 784), got {X.shape}; flatten each 28x28 image"
    assert y.shape == (n,), f"y should have shape (N,) = ({n},), got {y.shape}"
    assert X.dtype == np.float32, f"X should be float32, got {X.dtype}; cast with .astype(np.float32)"
    assert y.dtype == np.uint8, f"y should be uint8 (the IDX label bytes), got {y.dtype}"


@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_pixels_are_min_max_scaled_over_the_whole_dataset(tmp_path, n, low, high):
    images = fixture_images(n, low, high, seed=10 + n)
    X, _ = parse_mnist(*write_pair(tmp_path, images, np.zeros(n)))
    assert_close(
        X, min_max_scaled(images), tol=TOL["float32"],
        what=f"parse_mnist X for pixels in [{low}, {high}]",
        hint="scale over the whole dataset: (x - X.min()) / (X.max() - X.min()), so the smallest "
        "pixel becomes 0 and the largest 1 (not x / 255, and not per image)",
    )
    assert X.min() == 0.0 and X.max() == 1.0, (
        f"the scaled pixels should span exactly [0, 1]; got [{X.min()}, {X.max()}]"
    )


def test_pixels_keep_their_row_major_order(tmp_path):
    # One image whose pixel at (row r, col c) is r + c: a transposed or
    # column-major reading changes the values at every off-diagonal position.
    image = np.add.outer(np.arange(28), np.arange(28)).astype(np.uint8) * 4
    X, _ = parse_mnist(*write_pair(tmp_path, image[None], [3]))
    assert_close(
        X[0], min_max_scaled(image[None])[0], tol=TOL["float32"], what="X[0] (a gradient image)",
        hint="the IDX payload is row-major: reshape each 784-byte image to 784 values in file order",
    )


def test_labels_are_the_label_bytes(tmp_path):
    labels = np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 7], dtype=np.uint8)
    X, y = parse_mnist(*write_pair(tmp_path, fixture_images(11, 0, 255, seed=3), labels))
    assert_close(y, labels, what="parse_mnist y", hint="y is the label payload after the 8-byte header, as uint8")


def test_missing_image_file_raises_file_not_found(tmp_path):
    _, label_file = write_pair(tmp_path, fixture_images(2, 0, 255, seed=0), [1, 2])
    missing = str(tmp_path / "no-such-images.gz")
    with pytest.raises(FileNotFoundError):
        parse_mnist(missing, label_file)


def test_missing_label_file_raises_file_not_found(tmp_path):
    image_file, _ = write_pair(tmp_path, fixture_images(2, 0, 255, seed=0), [1, 2])
    missing = str(tmp_path / "no-such-labels.gz")
    with pytest.raises(FileNotFoundError):
        parse_mnist(image_file, missing)


def assert_value_error_names(files, names, what):
    """``parse_mnist(*files)`` must raise a ValueError whose message names one
    of the files ``names``, so the user knows which one is bad."""
    __tracebackhide__ = True
    with pytest.raises(ValueError) as excinfo:
        parse_mnist(*files)
    message = str(excinfo.value)
    assert any(str(name) in message for name in names), (
        f"{what} should raise a ValueError naming {' or '.join(map(str, names))}, so the user knows which "
        f"file is bad; its message was: {message!r}"
    )


def test_swapped_files_raise_value_error_naming_the_file(tmp_path):
    image_file, label_file = write_pair(tmp_path, fixture_images(3, 0, 255, seed=1), [1, 2, 3])
    assert_value_error_names((label_file, image_file), (label_file, image_file),
                             "parse_mnist(labels, images), whose magic numbers are wrong,")


@pytest.mark.parametrize("which", ["images", "labels"])
def test_wrong_magic_raises_value_error_naming_the_file(tmp_path, which):
    images, labels = fixture_images(2, 0, 255, seed=2), np.array([4, 2], dtype=np.uint8)
    image_file, label_file = write_pair(tmp_path, images, labels)
    if which == "images":
        bad = image_file = write_idx(tmp_path / "bad-images.gz", 2052, (2, 28, 28), images)
    else:
        bad = label_file = write_idx(tmp_path / "bad-labels.gz", 2048, (2,), labels)
    assert_value_error_names((image_file, label_file), (bad,), f"a wrong magic number in the {which} file")


@pytest.mark.parametrize("which", ["images", "labels"])
def test_truncated_payload_raises_value_error_naming_the_file(tmp_path, which):
    images, labels = fixture_images(3, 0, 255, seed=4), np.array([1, 2, 3], dtype=np.uint8)
    image_file, label_file = write_pair(tmp_path, images, labels)
    if which == "images":
        bad = image_file = write_idx(tmp_path / "short-images.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=100)
    else:
        bad = label_file = write_idx(tmp_path / "short-labels.gz", LABEL_MAGIC, (3,), labels, cut=1)
    assert_value_error_names((image_file, label_file), (bad,), f"a {which} file shorter than its header's count says")


def test_image_and_label_counts_must_match(tmp_path):
    image_file, label_file = write_pair(tmp_path, fixture_images(4, 0, 255, seed=5), [1, 2, 3])
    assert_value_error_names((image_file, label_file), (image_file, label_file), "4 images with 3 labels")


# --- the real t10k files -------------------------------------------------------


@pytest.fixture(scope="module")
def t10k_files(mnist_dir):
    return mnist_paths(mnist_dir)


@pytest.mark.mnist
def test_t10k_shapes_dtypes_and_range(t10k_files):
    X, y = parse_mnist(*t10k_files)
    assert X.shape == (10000, 784), f"t10k X should have shape (10000, 784), got {X.shape}"
    assert y.shape == (10000,), f"t10k y should have shape (10000,), got {y.shape}"
    assert X.dtype == np.float32, f"X should be float32, got {X.dtype}"
    assert y.dtype == np.uint8, f"y should be uint8, got {y.dtype}"
    assert X.min() == 0.0 and X.max() == 1.0, f"t10k X should span [0, 1]; got [{X.min()}, {X.max()}]"


@pytest.mark.mnist
def test_t10k_equals_raw_bytes_over_255(t10k_files):
    raw_images = read_idx(t10k_files[0], 16).reshape(10000, 784)
    raw_labels = read_idx(t10k_files[1], 8)
    X, y = parse_mnist(*t10k_files)
    assert_close(
        X, raw_images.astype(np.float32) / np.float32(255), tol=TOL["float32"], what="t10k X",
        hint="the t10k pixels span 0..255, so min-max scaling is pixel / 255",
    )
    assert_close(y, raw_labels, what="t10k y")
