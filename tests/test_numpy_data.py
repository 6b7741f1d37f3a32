"""The kit's proof that the reference's ``needle.data`` is right, against
NumPy: the transforms replay their documented draws (the course's API reference 3.1 and
6) on the shapes of the public and hidden suites; the DataLoader gives the
slices of ``arange(n)`` or of one ``np.random.permutation(n)`` per pass;
MNISTDataset gives t10k's bytes / 255 (decoded here) and min-max scales
small files over the whole file; and a DataLoader batch of a transformed
MNISTDataset is one lookup, transformed with one draw of each transform.

The suites themselves hold none of this: they hand over what the code
returned and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.data import distinct_image, small_mnist
from tests.numpy_checks import TOL, assert_close
from tests.numpy_reference import (
    min_max_scaled, mnist_paths, numpy_crop, read_idx, read_mnist_over_255,
)

FLIP_SHAPES = [(4, 5, 2), (3, 7, 4), (6, 2, 1), (5, 9, 3)]
CROP_CASES = [(padding, (10, 12, 3)) for padding in (1, 2, 4, 5, 8)] + [
    (0, (6, 5, 2)), (3, (28, 28, 1)), (3, (5, 7, 2)), (3, (9, 6, 2)), (6, (11, 8, 1)), (7, (5, 12, 3)), (2, (4, 5, 2)),
]


def replay_flip(img, p):
    """RandomFlipHorizontal(p)(img) by its documented draw, made here."""
    return img[:, ::-1, :] if np.random.rand() < p else img


def replay_crop(img, padding):
    """RandomCrop(padding)(img) by its documented draw, made here."""
    shift_x, shift_y = np.random.randint(low=-padding, high=padding + 1, size=2)
    return numpy_crop(img, padding, shift_x, shift_y)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.6, 0.8, 1.0])
@pytest.mark.parametrize("shape", FLIP_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_flips_replay_one_rand_draw_per_call(shape, p):
    img = distinct_image(*shape, seed=sum(shape))
    np.random.seed(7)
    want = [replay_flip(img, p) for _ in range(12)]
    state = np.random.rand()
    np.random.seed(7)
    transform = ndl.data.RandomFlipHorizontal(p)
    for i, expected in enumerate(want):
        assert_close(transform(img), expected, what=f"RandomFlipHorizontal({p}) call {i}")
    assert np.random.rand() == state, "RandomFlipHorizontal made other draws than one np.random.rand() per call"


@pytest.mark.parametrize("padding, shape", CROP_CASES, ids=[f"padding={p}-{'x'.join(map(str, s))}" for p, s in CROP_CASES])
def test_crops_replay_one_randint_draw_per_call(padding, shape):
    img = distinct_image(*shape, seed=padding)
    np.random.seed(padding)
    want = [replay_crop(img, padding) for _ in range(6)]
    state = np.random.rand()
    np.random.seed(padding)
    transform = ndl.data.RandomCrop(padding)
    for i, expected in enumerate(want):
        assert_close(transform(img), expected, what=f"RandomCrop({padding}) call {i}")
    assert np.random.rand() == state, "RandomCrop made other draws than one randint(size=2) per call"


def test_zero_padding_crop_and_p_zero_flip_are_identities():
    img = distinct_image(3, 8, 2, seed=9)
    assert_close(ndl.data.RandomCrop(0)(img), img, what="RandomCrop(0)")
    assert_close(ndl.data.RandomFlipHorizontal(0.0)(img), img, what="RandomFlipHorizontal(0.0)")


# --- DataLoader --------------------------------------------------------------


def arrays(n):
    X = (np.arange(n)[:, None, None] + np.random.default_rng(n).standard_normal((3, 2))).astype(np.float32)
    return X, np.arange(n), -np.arange(n, dtype=np.float32)


def passes(loader, count):
    return [[tuple(part.numpy() for part in batch) for batch in loader] for _ in range(count)]


@pytest.mark.parametrize("n, batch_size", [(20, 1), (20, 5), (23, 5), (23, 23), (7, 50), (17, 4), (30, 7), (3, 1),
                                           (8, 8), (11, 20), (6, 4), (10, 3), (13, 4), (9, 4)])
def test_unshuffled_batches_are_the_slices_every_pass(n, batch_size):
    X, y, w = arrays(n)
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y, w), batch_size)
    starts = range(0, n, batch_size)
    assert len(loader) == len(starts)
    for batches in passes(loader, 2):
        assert len(batches) == len(starts)
        for (bx, by, bw), start in zip(batches, starts):
            assert bx.dtype == np.float32 and by.dtype == np.int64
            assert_close(bx, X[start:start + batch_size], what="x")
            assert_close(by, y[start:start + batch_size], what="y")
            assert_close(bw, w[start:start + batch_size], what="w")


@pytest.mark.parametrize("n, batch_size, seed", [(23, 5, 0), (26, 6, 5), (9, 2, 1), (40, 40, 8)])
def test_shuffled_passes_follow_one_permutation_each(n, batch_size, seed):
    X, y, w = arrays(n)
    np.random.seed(seed)
    perms = [np.random.permutation(n) for _ in range(3)]
    np.random.seed(seed)
    loader = ndl.data.DataLoader(ndl.data.NDArrayDataset(X, y, w), batch_size, shuffle=True)
    for batches, perm in zip(passes(loader, 3), perms):
        assert [len(b[1]) for b in batches] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
        assert_close(np.concatenate([b[1] for b in batches]), perm, what="order")
        assert_close(np.concatenate([b[0] for b in batches]), X[perm], what="x")
        assert_close(np.concatenate([b[2] for b in batches]), w[perm], what="w")
    assert not np.array_equal(perms[0], perms[1])


def test_course_shuffle_order_and_restart():
    ds = ndl.data.NDArrayDataset(np.arange(100, dtype=np.float32))
    np.random.seed(0)
    first_ten = [float(b[0].numpy().reshape(())) for _, b in zip(range(10), ndl.data.DataLoader(ds, 1, shuffle=True))]
    assert first_ten == [26, 86, 2, 55, 75, 93, 16, 73, 54, 95]
    loader = ndl.data.DataLoader(ds, 40)
    it = iter(loader)
    next(it), next(it), next(it)
    with pytest.raises(StopIteration):
        next(it)
    assert_close(next(iter(loader))[0], np.arange(40, dtype=np.float32), what="a restarted pass")


# --- MNISTDataset --------------------------------------------------------------


@pytest.fixture(scope="module")
def t10k_raw(mnist_dir):
    return read_mnist_over_255(mnist_dir, (28, 28))


T10K_INDICES = [0, 1, 17, 42, 256, 1000, 1234, 2000, 3000, 4000, 4321, 5000, 5005, 6789, 9998]


@pytest.mark.mnist
def test_t10k_items_are_the_bytes_over_255(mnist_dir, t10k_raw):
    X, y = t10k_raw
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    assert len(ds) == 10000
    for i in T10K_INDICES:
        x, label = ds[i]
        assert isinstance(x, np.ndarray) and x.dtype == np.float32
        assert_close(x.reshape(28, 28), X[i], tol=TOL["float32"], what=f"item {i}")
        assert int(label) == int(y[i])
    for key in (np.array([7, 3, 9999, 0]), np.array([9999, 5, 5, 312]), slice(10, 15), slice(7000, 7006)):
        xs, ys = ds[key]
        assert_close(xs.reshape(-1, 28, 28), X[key], tol=TOL["float32"], what=f"x[{key}]")
        assert_close(ys, y[key], what=f"y[{key}]")


@pytest.mark.mnist
def test_t10k_course_norms_and_labels(mnist_dir):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    indices = [1, 42, 1000, 2000, 3000, 4000, 5000, 5005]
    norms = np.array([np.linalg.norm(ds[i][0]) for i in indices], dtype=np.float32)
    assert_close(norms, np.array([9.857545, 8.980832, 8.57207, 6.891522, 8.192135, 9.400087, 8.645003, 7.405202],
                                 dtype=np.float32), what="course norms")
    assert [int(ds[i][1]) for i in indices] == [2, 4, 9, 6, 6, 9, 3, 1]


@pytest.mark.parametrize("n, low, high", [(6, 0, 255), (5, 0, 200), (7, 30, 180), (9, 12, 240), (4, 0, 99), (3, 17, 255)])
def test_small_files_are_min_max_scaled_over_the_whole_file(tmp_path, n, low, high):
    image_file, label_file = small_mnist(tmp_path, n, seed=n, low=low, high=high)
    images = read_idx(image_file, 16).reshape(n, 28, 28)
    assert images.min() == low and images.max() == high
    per_image = images.reshape(n, -1)
    assert (per_image.max(axis=1) < high).any(), "some image should not reach the file's brightest pixel"
    ds = ndl.data.MNISTDataset(image_file, label_file)
    xs, ys = ds[0:n]
    assert_close(xs.reshape(n, 784), min_max_scaled(images), tol=TOL["float32"], what="x")
    assert_close(ys, read_idx(label_file, 8), what="y")


def replay_lookup(X, indices, transforms):
    """What a transformed MNISTDataset lookup of ``indices`` gives: the
    images as one 28 x 28 x k array, each transform drawing once."""
    images = X[indices].reshape(-1, 28, 28).transpose(1, 2, 0)
    for kind, arg in transforms:
        images = replay_crop(images, arg) if kind == "crop" else replay_flip(images, arg)
    return images.transpose(2, 0, 1).reshape(-1, 784)


def make(transforms):
    return [ndl.data.RandomCrop(arg) if kind == "crop" else ndl.data.RandomFlipHorizontal(arg) for kind, arg in transforms]


@pytest.mark.mnist
@pytest.mark.parametrize("transforms, seed", [([("crop", 5), ("flip", 0.5)], 0), ([("flip", 0.6), ("crop", 4)], 9)])
def test_t10k_items_through_transforms(mnist_dir, t10k_raw, transforms, seed):
    X = t10k_raw[0].reshape(-1, 784)
    np.random.seed(seed)
    want = [replay_lookup(X, [i], transforms) for i in T10K_INDICES]
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir), transforms=make(transforms))
    np.random.seed(seed)
    for i, expected in zip(T10K_INDICES, want):
        assert_close(ds[i][0].reshape(1, 784), expected, tol=TOL["float32"], what=f"item {i}")


@pytest.mark.parametrize("n, batch_size, shuffle, transforms, seed", [
    (10, 4, True, [("crop", 4), ("flip", 0.5)], 3),
    (11, 3, False, [("crop", 3), ("flip", 0.4)], 5),
])
def test_loader_batches_of_small_files_are_transformed_as_one_array(tmp_path, n, batch_size, shuffle, transforms, seed):
    image_file, label_file = small_mnist(tmp_path, n, seed=11)
    X = min_max_scaled(read_idx(image_file, 16).reshape(n, 28, 28))
    y = read_idx(label_file, 8)
    np.random.seed(seed)
    want = []
    for _ in range(2):
        order = np.random.permutation(n) if shuffle else np.arange(n)
        want.append([(replay_lookup(X, order[s:s + batch_size], transforms), y[order[s:s + batch_size]])
                     for s in range(0, n, batch_size)])
    ds = ndl.data.MNISTDataset(image_file, label_file, transforms=make(transforms))
    loader = ndl.data.DataLoader(ds, batch_size, shuffle=shuffle)
    np.random.seed(seed)
    for batches, expected in zip(passes(loader, 2), want):
        assert len(batches) == len(expected)
        for (bx, by), (ex, ey) in zip(batches, expected):
            assert_close(bx.reshape(-1, 784), ex, tol=TOL["float32"], what="x")
            assert_close(by, ey, what="y")


@pytest.mark.mnist
def test_t10k_loader_batches_through_transforms(mnist_dir, t10k_raw):
    X, y = t10k_raw[0].reshape(-1, 784), t10k_raw[1]
    transforms = [("flip", 0.5), ("crop", 2)]
    np.random.seed(21)
    perm = np.random.permutation(10000)
    want = [(replay_lookup(X, perm[s:s + 700], transforms), y[perm[s:s + 700]]) for s in range(0, 10000, 700)]
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir), transforms=make(transforms))
    np.random.seed(21)
    batches = passes(ndl.data.DataLoader(ds, 700, shuffle=True), 1)[0]
    assert len(batches) == len(want) == 15
    for (bx, by), (ex, ey) in zip(batches, want):
        assert_close(bx.reshape(-1, 784), ex, tol=TOL["float32"], what="x")
        assert_close(by, ey, what="y")
