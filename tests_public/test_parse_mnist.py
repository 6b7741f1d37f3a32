"""Question "parse_mnist": ``simple_ml.parse_mnist(image_filename, label_filename)``.

Contract (docs/API.md section 9): both files are gzipped IDX (big-endian
int32 header: magic 2051, count, 28, 28 for images; magic 2049, count for
labels).  X is float32 of shape (N, 784), min-max scaled over the WHOLE
dataset (smallest pixel -> 0.0, largest -> 1.0; for real MNIST that is
pixel / 255); y is uint8 of shape (N,).  A missing file raises
FileNotFoundError; a wrong magic number, a truncated payload or an image
count that differs from the label count raises ValueError naming the file.

Most tests run on small IDX files of random images and labels, written into
``tmp_path`` by ``write_pair`` / ``write_idx`` (grader/box/inputs.py); the
last ones read the real (byte-exact) t10k files.  Each test hands over what
parse_mnist returned (and facts such as "the error names the file"): it is
compared with what the reference implementation returns for the same files.
"""
import numpy as np
import pytest

from grader.box.inputs import IMAGE_MAGIC, LABEL_MAGIC, mnist_paths, write_idx, write_pair
from grader.box.parse_mnist import images_with_own_ranges as fixture_images, labels as draw_labels, parse, \
    shuffled_image
from grader.box.record import check, observe
from simple_ml import parse_mnist

SCALING_HINT = ("scale over the whole dataset: (x - X.min()) / (X.max() - X.min()), so the smallest pixel "
                "becomes 0 and the largest 1 (not x / 255, and not per image)")
LABELS_HINT = "y is the label payload after the 8-byte header, as uint8"

# (id, number of images, smallest pixel, largest pixel)
RANGES = [
    ("full-range-0-255", 6, 0, 255),
    ("max-below-255", 5, 0, 200),
    ("min-above-0-max-below-255", 7, 30, 180),
    ("all-pixels-90", 1, 90, 90),  # no range to scale by: all zeros, not 0 / 0
]


@pytest.mark.behaviour("pixels X")
@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_pixels_are_float32_rows_of_784(tmp_path, n, low, high):
    images, labels = fixture_images(n, low, high, seed=n), draw_labels(n, seed=100 + n)
    X, _ = parse(parse_mnist, write_pair(tmp_path, images, labels))
    observe(np.array(X.shape == (n, 784)), what="X has shape (N, 784)", hint="flatten each 28x28 image to a row of 784")
    observe(np.array(X.dtype == np.float32), what="X is float32", hint="cast the pixels with .astype(np.float32)")
    check(X, tol="float32", what=f"parse_mnist X for pixels in [{low}, {high}]", hint=SCALING_HINT)


@pytest.mark.behaviour("pixels X")
@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_pixels_are_min_max_scaled_over_the_whole_dataset(tmp_path, n, low, high):
    images = fixture_images(n, low, high, seed=10 + n)
    X, _ = parse(parse_mnist, write_pair(tmp_path, images, draw_labels(n, seed=110 + n)))
    observe(np.array([X.min(), X.max()]), what="the smallest and largest values of X", hint=SCALING_HINT)
    check(X, tol="float32", what=f"parse_mnist X for pixels in [{low}, {high}]", hint=SCALING_HINT)


@pytest.mark.behaviour("pixels X")
def test_pixels_keep_their_row_major_order(tmp_path):
    # One image holding every value 0..255 in a drawn (not symmetric) order:
    # scaled, that is pixel / 255, and a transposed or column-major reading
    # moves its values.
    image = shuffled_image(0, 255, seed=7)
    X, _ = parse(parse_mnist, write_pair(tmp_path, image[None], draw_labels(1, seed=8)))
    check(X[0], tol="float32", what="X[0] (an image holding 0..255 in a random order)",
          hint="the IDX payload is row-major: reshape each 784-byte image to 784 values in file order")


@pytest.mark.behaviour("labels y")
def test_labels_are_the_label_bytes(tmp_path):
    labels = draw_labels(11, seed=3)
    X, y = parse(parse_mnist, write_pair(tmp_path, fixture_images(11, 0, 255, seed=3), labels))
    check(y, what="parse_mnist y", hint=LABELS_HINT)


@pytest.mark.behaviour("bad files raise")
def test_missing_image_file_raises_file_not_found(tmp_path):
    _, label_file = write_pair(tmp_path, fixture_images(2, 0, 255, seed=0), draw_labels(2, seed=0))
    missing = str(tmp_path / "no-such-images.gz")
    with pytest.raises(FileNotFoundError):
        parse_mnist(missing, label_file)


@pytest.mark.behaviour("bad files raise")
def test_missing_label_file_raises_file_not_found(tmp_path):
    image_file, _ = write_pair(tmp_path, fixture_images(2, 0, 255, seed=0), draw_labels(2, seed=0))
    missing = str(tmp_path / "no-such-labels.gz")
    with pytest.raises(FileNotFoundError):
        parse_mnist(image_file, missing)


def raises_value_error_naming(files, names, what):
    """``parse_mnist(*files)`` must raise a ValueError; whether its message
    names one of the files ``names`` (so the user knows which one is bad)
    is handed over."""
    with pytest.raises(ValueError) as excinfo:
        parse_mnist(*files)
    message = str(excinfo.value)
    observe(np.array(any(str(name) in message for name in names)),
            what=f"{what}: the ValueError's message names the bad file",
            hint="put the file name in the message, e.g. ValueError(f'{image_filename}: ...'), so the user "
                 "knows which file is bad")


@pytest.mark.behaviour("bad files raise")
def test_swapped_files_raise_value_error_naming_the_file(tmp_path):
    image_file, label_file = write_pair(tmp_path, fixture_images(3, 0, 255, seed=1), draw_labels(3, seed=1))
    # the value read from the good order is what this behaviour scores: a raised error alone is a fact
    _, y = parse(parse_mnist, (image_file, label_file))
    check(y, what="y of the same two files passed in the right order", hint=LABELS_HINT)
    raises_value_error_naming((label_file, image_file), (label_file, image_file),
                              "parse_mnist(labels, images), whose magic numbers are wrong")


@pytest.mark.behaviour("bad files raise")
@pytest.mark.parametrize("which", ["images", "labels"])
def test_wrong_magic_raises_value_error_naming_the_file(tmp_path, which):
    images, labels = fixture_images(2, 0, 255, seed=2), draw_labels(2, seed=2)
    image_file, label_file = write_pair(tmp_path, images, labels)
    if which == "images":
        bad = image_file = write_idx(tmp_path / "bad-images.gz", 2052, (2, 28, 28), images)
    else:
        bad = label_file = write_idx(tmp_path / "bad-labels.gz", 2048, (2,), labels)
    raises_value_error_naming((image_file, label_file), (bad,), f"a wrong magic number in the {which} file")


@pytest.mark.behaviour("bad files raise")
@pytest.mark.parametrize("which", ["images", "labels"])
def test_truncated_payload_raises_value_error_naming_the_file(tmp_path, which):
    images, labels = fixture_images(3, 0, 255, seed=4), draw_labels(3, seed=4)
    image_file, label_file = write_pair(tmp_path, images, labels)
    if which == "images":
        bad = image_file = write_idx(tmp_path / "short-images.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=100)
    else:
        bad = label_file = write_idx(tmp_path / "short-labels.gz", LABEL_MAGIC, (3,), labels, cut=1)
    raises_value_error_naming((image_file, label_file), (bad,), f"a {which} file shorter than its header's count says")


@pytest.mark.behaviour("bad files raise")
def test_image_and_label_counts_must_match(tmp_path):
    image_file, label_file = write_pair(tmp_path, fixture_images(4, 0, 255, seed=5), draw_labels(3, seed=5))
    raises_value_error_naming((image_file, label_file), (image_file, label_file), "4 images with 3 labels")


# --- the real t10k files -------------------------------------------------------


@pytest.fixture(scope="module")
def t10k_files(mnist_dir):
    return mnist_paths(mnist_dir)


@pytest.mark.behaviour("pixels X")
@pytest.mark.mnist
def test_t10k_pixels_are_the_raw_bytes_over_255(t10k_files):
    X, _ = parse(parse_mnist, t10k_files)
    observe(np.array(X.shape == (10000, 784)), what="t10k X has shape (10000, 784)",
            hint="flatten each 28x28 image to a row of 784")
    observe(np.array(X.dtype == np.float32), what="t10k X is float32", hint="cast the pixels with .astype(np.float32)")
    observe(np.array([X.min(), X.max()]), what="the smallest and largest values of t10k X", hint=SCALING_HINT)
    check(X, tol="float32", what="t10k X", hint="the t10k pixels span 0..255, so min-max scaling is pixel / 255")


@pytest.mark.behaviour("labels y")
@pytest.mark.mnist
def test_t10k_labels_are_the_label_bytes(t10k_files):
    _, y = parse(parse_mnist, t10k_files)
    check(y, what="t10k y", hint=LABELS_HINT + ", of shape (10000,)")
