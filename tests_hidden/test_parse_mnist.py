"""Hidden tests, question "parse_mnist": ``simple_ml.parse_mnist(image_filename, label_filename)``.

New small IDX files of random images and labels written into ``tmp_path``
(pixel ranges whose maximum is below 255 and minimum above 0, so min-max
scaling over the whole dataset differs from pixel / 255 and from per-image
scaling), plus the byte-exact t10k files.  Each test hands over what
parse_mnist returned: it is compared with the reference implementation's.
"""
import numpy as np
import pytest

from grader.box.inputs import IMAGE_MAGIC, LABEL_MAGIC, mnist_paths, write_idx, write_pair
from grader.box.parse_mnist import images_in_range, labels as draw_labels, parse, shuffled_image
from grader.box.record import check, observe
from simple_ml import parse_mnist

SCALING_HINT = "(x - min) / (max - min) over the whole dataset"

RANGES = [
    # (id, images, smallest pixel, largest pixel)
    ("9-images-0-to-131", 9, 0, 131),
    ("4-images-17-to-255", 4, 17, 255),
    ("12-images-40-to-90", 12, 40, 90),
    ("1-image-3-to-250", 1, 3, 250),
    ("3-images-all-120", 3, 120, 120),  # no range to scale by: all zeros, not 0 / 0
]


@pytest.mark.behaviour("pixels X")
@pytest.mark.parametrize("n, low, high", [r[1:] for r in RANGES], ids=[r[0] for r in RANGES])
def test_min_max_scaling_over_the_whole_file(tmp_path, n, low, high):
    """Pixels are scaled so the file's smallest value becomes 0 and its largest 1, as float32 rows of 784."""
    images = images_in_range(n, low, high, seed=high + n)
    labels = draw_labels(n, seed=2 * high + n)
    X, _ = parse(parse_mnist, write_pair(tmp_path, images, labels))
    check(X, tol="float32", what=f"X for pixels spanning [{low}, {high}]", hint=SCALING_HINT)


LABEL_COUNTS = {"one-label": 1, "eight-labels": 8, "thirty-labels": 30}


@pytest.mark.behaviour("labels y")
@pytest.mark.parametrize("n", LABEL_COUNTS.values(), ids=LABEL_COUNTS.keys())
def test_labels_are_the_label_bytes(tmp_path, n):
    """y is the label payload after the header, uint8 of shape (N,)."""
    images = images_in_range(n, 5, 240, seed=300 + n)
    _, y = parse(parse_mnist, write_pair(tmp_path, images, draw_labels(n, seed=400 + n)))
    check(y, what=f"y of a file of {n} labels", hint="the label bytes, uint8 of shape (N,)")


@pytest.mark.behaviour("pixels X")
def test_pixels_are_read_row_major(tmp_path):
    """Each image's 784 values are its rows one after another, in file order."""
    # together they span 0..255, so the scaling is pixel / 255 and only the layout matters
    images = np.stack([shuffled_image(0, 199, seed=5), shuffled_image(56, 255, seed=6)])
    X, _ = parse(parse_mnist, write_pair(tmp_path, images, draw_labels(2, seed=7)))
    check(X, tol="float32", what="X of two images with pixels in a random order",
          hint="reshape the payload to (N, 784) in file order: no transpose")


@pytest.mark.behaviour("pixels X")
def test_two_files_are_scaled_independently(tmp_path):
    """Each call scales by its own file's range."""
    a = images_in_range(3, 20, 200, seed=1)
    b = images_in_range(5, 0, 100, seed=2)
    Xa, _ = parse(parse_mnist, write_pair(tmp_path, a, draw_labels(3, seed=1), "a-"))
    Xb, _ = parse(parse_mnist, write_pair(tmp_path, b, draw_labels(5, seed=2), "b-"))
    check(Xa, tol="float32", what="X of the first file", hint=SCALING_HINT + " of each file")
    check(Xb, tol="float32", what="X of the second file", hint=SCALING_HINT + " of each file")


@pytest.mark.behaviour("bad files raise")
def test_bad_files_raise_value_error(tmp_path):
    """A wrong magic number, a truncated payload or mismatched counts raise ValueError."""
    images, labels = images_in_range(3, 0, 255, seed=4), draw_labels(4, seed=4)
    image_file, label_file = write_pair(tmp_path, images, labels[:3])
    _, y = parse(parse_mnist, (image_file, label_file))  # scored: a raised error alone is a fact
    check(y, what="y of the valid pair")
    cases = {
        "labels-with-image-magic": (image_file, write_idx(tmp_path / "l1.gz", IMAGE_MAGIC, (3,), labels[:3])),
        "truncated-images": (write_idx(tmp_path / "i2.gz", IMAGE_MAGIC, (3, 28, 28), images, cut=784), label_file),
        "three-images-four-labels": (image_file, write_idx(tmp_path / "l3.gz", LABEL_MAGIC, (4,), labels)),
    }
    raised = []
    for files in cases.values():
        try:
            parse_mnist(*files)
        except ValueError:
            raised.append(True)
        else:
            raised.append(False)
    observe(np.array(raised), what="ValueError raised for a wrong magic, a truncated file, mismatched counts")
    for missing in ((tmp_path / "absent-images.gz", label_file), (image_file, tmp_path / "absent-labels.gz")):
        with pytest.raises(FileNotFoundError):
            parse_mnist(str(missing[0]), str(missing[1]))


# --- the real t10k files -------------------------------------------------------


@pytest.mark.behaviour("pixels X")
@pytest.mark.mnist
def test_t10k_pixels_against_raw_bytes(mnist_dir):
    """On the real t10k files, X is the raw pixels over 255."""
    X, _ = parse(parse_mnist, mnist_paths(mnist_dir))
    check(X, tol="float32", what="t10k X")


@pytest.mark.behaviour("labels y")
@pytest.mark.mnist
def test_t10k_labels_against_raw_bytes(mnist_dir):
    """On the real t10k files, y is the raw label bytes."""
    _, y = parse(parse_mnist, mnist_paths(mnist_dir))
    check(y, what="t10k y")
