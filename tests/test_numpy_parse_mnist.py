"""The kit's proof that the reference's ``parse_mnist`` is right (question
"parse_mnist"): against an independent decoding with gzip and NumPy
(tests/numpy_reference.py: ``min_max_scaled``, ``read_idx``), on the IDX
files that the suites write from the box's makers (grader/box/parse_mnist.py)
under the students' salt 0 and others, and on the real t10k files.  Also
that those makers keep what the suites rely on under any salt: the
dataset's range is exactly [low, high], images have ranges of their own (so
x / 255 and per-image scaling give other values), and the shuffled images
are not symmetric (so a transposed reading shows).
"""
import numpy as np
import pytest

from grader.box import inputs
from grader.box.inputs import IMAGE_MAGIC, LABEL_MAGIC, mnist_paths, write_idx, write_pair
from grader.box.parse_mnist import images_in_range, images_with_own_ranges, labels, shuffled_image
from simple_ml import parse_mnist
from tests.numpy_checks import TOL, assert_close
from tests.numpy_reference import min_max_scaled, read_idx

SALTS = [0, 1, 12345, 2**31 - 2]


@pytest.fixture
def salt(request):
    """Runs the test's input makers under ``request.param`` as the salt."""
    inputs.SALT, before = request.param, inputs.SALT
    yield request.param
    inputs.SALT = before


def per_image_scaled(images):
    flat = images.reshape(len(images), 784).astype(np.float64)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    return ((flat - low) / np.maximum(high - low, 1)).astype(np.float32)


# (maker, n, low, high, seed): the suites' files (public, then hidden).
MAKER_CASES = [
    pytest.param(images_with_own_ranges, 6, 0, 255, 16, id="public-full-range-0-255"),
    pytest.param(images_with_own_ranges, 5, 0, 200, 15, id="public-max-below-255"),
    pytest.param(images_with_own_ranges, 7, 30, 180, 17, id="public-min-above-0-max-below-255"),
    pytest.param(images_with_own_ranges, 11, 0, 255, 3, id="public-labels"),
    pytest.param(images_in_range, 9, 0, 131, 140, id="hidden-9-images-0-to-131"),
    pytest.param(images_in_range, 4, 17, 255, 259, id="hidden-4-images-17-to-255"),
    pytest.param(images_in_range, 12, 40, 90, 102, id="hidden-12-images-40-to-90"),
    pytest.param(images_in_range, 1, 3, 250, 251, id="hidden-1-image-3-to-250"),
    pytest.param(images_in_range, 3, 20, 200, 1, id="hidden-first-file"),
    pytest.param(images_in_range, 5, 0, 100, 2, id="hidden-second-file"),
]


@pytest.mark.parametrize("salt", SALTS, indirect=True)
@pytest.mark.parametrize("maker, n, low, high, seed", MAKER_CASES)
def test_min_max_scaling_and_labels_of_the_suites_files(tmp_path, salt, maker, n, low, high, seed):
    images, y = maker(n, low, high, seed), labels(n, seed)
    assert images.dtype == np.uint8 and images.shape == (n, 28, 28)
    assert images.min() == low and images.max() == high, "the dataset must span exactly [low, high]"
    X, got_y = parse_mnist(*write_pair(tmp_path, images, y))
    assert_close(X, min_max_scaled(images), tol=TOL["float32"], what=f"X for pixels in [{low}, {high}]")
    assert_close(got_y, y, what="y")
    assert X.min() == 0.0 and X.max() == 1.0
    if (low, high) != (0, 255):  # x / 255 is another answer
        assert np.abs(min_max_scaled(images) - images.reshape(n, 784) / np.float32(255)).max() > 1e-3
    if n > 1:  # per-image scaling is another answer
        assert np.abs(min_max_scaled(images) - per_image_scaled(images)).max() > 1e-3


@pytest.mark.parametrize("salt", SALTS, indirect=True)
@pytest.mark.parametrize("low, high, seeds", [(0, 255, (7,)), (0, 199, (5,)), (56, 255, (6,)), (0, 199, (5, 6))],
                         ids=["public", "hidden-first", "hidden-second", "hidden-pair"])
def test_shuffled_images_are_read_row_major(tmp_path, salt, low, high, seeds):
    if len(seeds) == 1:
        images = shuffled_image(low, high, seeds[0])[None]
        assert images.min() == low and images.max() == high
    else:  # the hidden test's pair: together they span 0..255
        images = np.stack([shuffled_image(0, 199, seeds[0]), shuffled_image(56, 255, seeds[1])])
        assert images.min() == 0 and images.max() == 255
    assert all(not np.array_equal(image, image.T) for image in images), "a transposed reading must show"
    X, _ = parse_mnist(*write_pair(tmp_path, images, labels(len(images), 8)))
    assert_close(X, min_max_scaled(images), tol=TOL["float32"], what="X of shuffled images")
    if images.min() == 0 and images.max() == 255:  # only the layout matters: scaling is pixel / 255
        assert_close(X, images.reshape(len(images), 784) / np.float32(255), tol=TOL["float32"], what="X / 255")


def _bad_files(tmp_path):
    """(id, files, the names one of which the ValueError must name) of the suites' bad files."""
    images, y = images_in_range(3, 0, 255, seed=4), labels(4, seed=4)
    image_file, label_file = write_pair(tmp_path, images, y[:3])
    return [
        ("swapped", (label_file, image_file), (label_file, image_file)),
        ("image-magic-2052", (write_idx(tmp_path / "bi.gz", 2052, (3, 28, 28), images), label_file), ("bi.gz",)),
        ("label-magic-2048", (image_file, write_idx(tmp_path / "bl.gz", 2048, (3,), y[:3])), ("bl.gz",)),
        ("labels-with-image-magic", (image_file, write_idx(tmp_path / "l1.gz", IMAGE_MAGIC, (3,), y[:3])), ("l1.gz",)),
        ("truncated-images", (write_idx(tmp_path / "i1.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=100), label_file),
         ("i1.gz",)),
        ("truncated-images-by-one-image",
         (write_idx(tmp_path / "i2.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=784), label_file), ("i2.gz",)),
        ("truncated-labels", (image_file, write_idx(tmp_path / "l2.gz", LABEL_MAGIC, (3,), y[:3], cut=1)), ("l2.gz",)),
        ("three-images-four-labels", (image_file, write_idx(tmp_path / "l3.gz", LABEL_MAGIC, (4,), y)),
         (image_file, "l3.gz")),
    ]


def test_bad_files_raise_value_error_naming_the_file(tmp_path):
    for name, files, names in _bad_files(tmp_path):
        with pytest.raises(ValueError) as excinfo:
            parse_mnist(*files)
        assert any(str(n) in str(excinfo.value) for n in names), f"{name}: {excinfo.value}"


def test_missing_files_raise_file_not_found(tmp_path):
    image_file, label_file = write_pair(tmp_path, images_in_range(2, 0, 255, seed=0), labels(2, seed=0))
    for files in [(str(tmp_path / "none.gz"), label_file), (image_file, str(tmp_path / "none.gz"))]:
        with pytest.raises(FileNotFoundError):
            parse_mnist(*files)


def test_t10k_is_the_raw_bytes_over_255(mnist_dir):
    image_file, label_file = mnist_paths(mnist_dir)
    X, y = parse_mnist(image_file, label_file)
    assert X.dtype == np.float32 and X.shape == (10000, 784) and y.dtype == np.uint8 and y.shape == (10000,)
    raw = read_idx(image_file, 16).reshape(10000, 784)
    assert raw.min() == 0 and raw.max() == 255
    assert_close(X, raw.astype(np.float32) / np.float32(255), tol=TOL["float32"], what="t10k X")
    assert_close(y, read_idx(label_file, 8), what="t10k y")
