"""Hidden tests, question "data": ``needle.data`` transforms, datasets and DataLoader.

New image shapes (never square, so a flip or shift along the wrong axis
shows), paddings, seeds, dataset sizes and batch sizes; expected values
replay the documented draws with NumPy under the same seed.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import mnist_paths, numpy_crop, read_mnist_over_255


def image(h, w, c, seed=0):
    """A float32 H x W x C image of distinct values."""
    return (np.random.default_rng(seed).permutation(h * w * c).reshape(h, w, c) * 0.5 + 1).astype(np.float32)


# --- RandomFlipHorizontal ----------------------------------------------------

FLIP_SHAPES = [(3, 7, 4), (6, 2, 1), (5, 9, 3)]


@pytest.mark.parametrize("shape", FLIP_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_flip_with_p_one_flips_the_width_axis(shape):
    """RandomFlipHorizontal(1.0) always mirrors the image left to right, keeping dtype and shape."""
    transform = ndl.data.RandomFlipHorizontal(1.0)
    img = image(*shape, seed=sum(shape))
    np.random.seed(3)
    got = transform(img)
    assert got.shape == img.shape and got.dtype == np.float32, f"the flip changed shape or dtype: {got.shape} {got.dtype}"
    assert_close(got, img[:, ::-1, :], what=f"RandomFlipHorizontal(1.0) of a {shape} image")


@pytest.mark.parametrize("p, seed", [(0.3, 7), (0.8, 21)], ids=["p=0.3-seed7", "p=0.8-seed21"])
def test_seeded_flips(p, seed):
    """One uniform draw per call decides the flip: flip when the draw is below p."""
    transform = ndl.data.RandomFlipHorizontal(p)
    images = [image(2 + i % 4, 3 + i % 3, 1 + i % 2, seed=40 + i) for i in range(12)]
    np.random.seed(seed)
    flips = [np.random.rand() < p for _ in images]
    assert 0 < sum(flips) < len(flips), "test precondition: some flips and some not"
    np.random.seed(seed)
    got = np.concatenate([transform(img).ravel() for img in images])
    want = np.concatenate([(img[:, ::-1, :] if flip else img).ravel() for img, flip in zip(images, flips)])
    assert_close(got, want, what=f"twelve seeded RandomFlipHorizontal({p}) calls")


def test_flip_with_p_zero_keeps_the_image():
    """RandomFlipHorizontal(0.0) never flips."""
    transform = ndl.data.RandomFlipHorizontal(0.0)
    img = image(4, 6, 2, seed=5)
    np.random.seed(0)
    got = np.stack([transform(img) for _ in range(4)])
    assert_close(got, np.stack([img] * 4), what="RandomFlipHorizontal(0.0), four calls")


# --- RandomCrop --------------------------------------------------------------

CROP_CASES = [
    # (id, padding, image shape)
    ("padding=3-9x6x2", 3, (9, 6, 2)),
    ("padding=6-11x8x1", 6, (11, 8, 1)),
    ("padding=7-5x12x3", 7, (5, 12, 3)),
    ("padding=2-4x5x2", 2, (4, 5, 2)),
]


def discriminating_seeds(padding, count=3):
    """Seeds whose shifts are non-zero and change when swapped or negated."""
    seeds = []
    for seed in range(10, 10000):
        sx, sy = np.random.RandomState(seed).randint(-padding, padding + 1, size=2)
        if sx != sy and sx != -sy and sx != 0 and sy != 0:
            seeds.append(seed)
            if len(seeds) == count:
                return seeds
    raise AssertionError("no discriminating seeds")


@pytest.mark.parametrize("padding, shape", [c[1:] for c in CROP_CASES], ids=[c[0] for c in CROP_CASES])
def test_seeded_crops(padding, shape):
    """RandomCrop zero-pads H and W and crops back at (shift_x along H, shift_y along W) from one randint draw."""
    transform = ndl.data.RandomCrop(padding)
    img = image(*shape, seed=padding)
    got, want = [], []
    for seed in discriminating_seeds(padding):
        np.random.seed(seed)
        shift_x, shift_y = np.random.randint(low=-padding, high=padding + 1, size=2)
        want.append(numpy_crop(img, padding, shift_x, shift_y))
        np.random.seed(seed)
        out = transform(img)
        assert out.shape == img.shape and out.dtype == np.float32, (
            f"RandomCrop({padding}) changed the shape or dtype: {out.shape} {out.dtype}"
        )
        got.append(out)
    assert_close(np.stack(got), np.stack(want), what=f"three seeded RandomCrop({padding}) of a {shape} image")


def test_crop_without_padding_is_the_identity():
    """RandomCrop(0) returns the image unchanged."""
    transform = ndl.data.RandomCrop(0)
    img = image(3, 8, 2, seed=9)
    np.random.seed(4)
    assert_close(transform(img), img, what="RandomCrop(0)(img)")


# --- DataLoader --------------------------------------------------------------


def dataset(n, seed=0):
    """Three arrays per item: x[i] identifies the row, y[i] = i, w[i] = -i."""
    pattern = np.random.default_rng(seed).standard_normal((2, 3))
    X = (np.arange(n)[:, None, None] * 10 + pattern).astype(np.float32)
    y = np.arange(n)
    w = -np.arange(n, dtype=np.float32)
    return ndl.data.NDArrayDataset(X, y, w), X, y, w


def epoch_arrays(loader):
    batches = []
    for batch in loader:
        assert isinstance(batch, tuple) and len(batch) == 3, "each batch should be a tuple with one Tensor per array"
        for part in batch:
            assert isinstance(part, ndl.Tensor), f"batch parts should be needle Tensors, got {type(part).__name__}"
        batches.append(tuple(part.numpy() for part in batch))
    return batches


SEQUENTIAL_CASES = [("n=17-batch=4", 17, 4), ("n=30-batch=7", 30, 7), ("n=3-batch=1", 3, 1), ("n=8-batch=8", 8, 8),
                    ("n=11-batch=20", 11, 20)]


@pytest.mark.parametrize("n, batch_size", [c[1:] for c in SEQUENTIAL_CASES], ids=[c[0] for c in SEQUENTIAL_CASES])
def test_unshuffled_batches_cover_the_dataset_in_order(n, batch_size):
    """Without shuffle, batches are consecutive slices of the dataset, the last one possibly smaller."""
    ds, X, y, w = dataset(n, seed=n)
    loader = ndl.data.DataLoader(ds, batch_size)
    got = epoch_arrays(loader)
    sizes = [len(b[1]) for b in got]
    want_sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)]
    assert sizes == want_sizes, f"{n} items in batches of {batch_size}: expected batch sizes {want_sizes}, got {sizes}"
    assert len(loader) == len(want_sizes), f"len(DataLoader) should be {len(want_sizes)}, got {len(loader)}"
    assert_close(np.concatenate([b[0] for b in got]), X, what="x over the epoch")
    assert_close(np.concatenate([b[1] for b in got]), y, what="y over the epoch")
    assert_close(np.concatenate([b[2] for b in got]), w, what="the third array over the epoch")


SHUFFLE_CASES = [("n=26-batch=6-seed5", 26, 6, 5), ("n=9-batch=2-seed1", 9, 2, 1), ("n=40-batch=40-seed8", 40, 40, 8)]


@pytest.mark.parametrize("n, batch_size, seed", [c[1:] for c in SHUFFLE_CASES], ids=[c[0] for c in SHUFFLE_CASES])
def test_shuffle_draws_a_new_permutation_each_epoch(n, batch_size, seed):
    """With shuffle, each pass follows a fresh np.random.permutation(len(dataset)), split into batches."""
    ds, X, y, w = dataset(n, seed=seed)
    np.random.seed(seed)
    perms = [np.random.permutation(n) for _ in range(3)]
    np.random.seed(seed)
    loader = ndl.data.DataLoader(ds, batch_size, shuffle=True)
    epochs = [epoch_arrays(loader) for _ in range(3)]
    want_sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)]
    orders = []
    for k, (batches, perm) in enumerate(zip(epochs, perms)):
        sizes = [len(b[1]) for b in batches]
        assert sizes == want_sizes, f"shuffled epoch {k}: expected batch sizes {want_sizes}, got {sizes}"
        order = np.concatenate([b[1] for b in batches])
        assert not np.array_equal(order, np.arange(n)), f"shuffled epoch {k} came out in sequential order"
        assert_close(order, perm, what=f"item order of shuffled epoch {k}",
                     hint="each iter() draws one np.random.permutation(len(dataset))")
        assert_close(np.concatenate([b[0] for b in batches]), X[perm], what=f"x of shuffled epoch {k}")
        assert_close(np.concatenate([b[2] for b in batches]), w[perm], what=f"third array of shuffled epoch {k}")
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1]), "two shuffled epochs came in the same order"


def test_restarting_iteration_and_stop():
    """A pass ends with StopIteration; a new iter() starts again from the first batch."""
    ds, X, _, _ = dataset(10)
    loader = ndl.data.DataLoader(ds, 3)
    it = iter(loader)
    firsts = [next(it)[0].numpy() for _ in range(4)]
    with pytest.raises(StopIteration):
        next(it)
    again = next(iter(loader))[0].numpy()
    assert_close(np.concatenate(firsts + [again]), np.concatenate([X, X[:3]]), what="a full pass then a restart")


# --- MNISTDataset on t10k ----------------------------------------------------


@pytest.fixture(scope="module")
def t10k_raw(mnist_dir):
    """The t10k pixels / 255 as (10000, 28, 28) float32, and the labels, decoded here."""
    return read_mnist_over_255(mnist_dir, (28, 28))


INDICES = [0, 17, 256, 1234, 4321, 6789, 9998]


@pytest.mark.mnist
def test_mnist_dataset_items(mnist_dir, t10k_raw):
    """MNISTDataset returns NumPy float32 pixels in [0, 1] and the labels, by int, slice and index array."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    X, y = t10k_raw
    assert len(ds) == 10000, f"len(MNISTDataset(t10k)) should be 10000, got {len(ds)}"
    items = [ds[i] for i in INDICES]
    for i, (x, _) in zip(INDICES, items):
        assert isinstance(x, np.ndarray) and not isinstance(x, ndl.Tensor), f"item {i} should be NumPy, not a Tensor"
        assert x.dtype == np.float32 and x.size == 784, f"item {i} should be 784 float32 values, got {x.dtype} {x.shape}"
    assert_close(np.stack([np.asarray(x).reshape(784) for x, _ in items]), X[INDICES].reshape(-1, 784),
                 tol=TOL["float32"], what=f"t10k items {INDICES}")
    assert_close(np.array([int(label) for _, label in items]), y[INDICES].astype(np.int64), what="their labels")
    for key, name in ((np.array([9999, 5, 5, 312]), "an index array"), (slice(7000, 7006), "a slice")):
        xs, ys = ds[key]
        assert_close(np.asarray(xs).reshape(-1, 784), X[key].reshape(-1, 784), tol=TOL["float32"],
                     what=f"x for {name}")
        assert_close(np.asarray(ys), y[key], what=f"y for {name}")


@pytest.mark.mnist
def test_mnist_dataset_with_transforms(mnist_dir, t10k_raw):
    """Transforms run in list order on each 28 x 28 x 1 image, with the documented draws."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir),
                               transforms=[ndl.data.RandomFlipHorizontal(0.6), ndl.data.RandomCrop(4)])
    X, _ = t10k_raw
    np.random.seed(9)
    expected = []
    for i in INDICES:
        img = X[i][:, :, None]
        if np.random.rand() < 0.6:
            img = img[:, ::-1, :]
        shift_x, shift_y = np.random.randint(low=-4, high=5, size=2)
        expected.append(numpy_crop(img, 4, shift_x, shift_y).reshape(784))
    np.random.seed(9)
    got = np.stack([np.asarray(ds[i][0]).reshape(784) for i in INDICES])
    assert got.dtype == np.float32, f"transformed items should stay float32, got {got.dtype}"
    assert_close(got, np.stack(expected), tol=TOL["float32"],
                 what=f"t10k items {INDICES} through [RandomFlipHorizontal(0.6), RandomCrop(4)] under seed 9")


@pytest.mark.mnist
def test_dataloader_over_mnist(mnist_dir, t10k_raw):
    """A DataLoader over MNISTDataset gives float32 image batches and the labels, shuffled by the seeded permutation."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    X, y = t10k_raw
    np.random.seed(12)
    perm = np.random.permutation(10000)
    np.random.seed(12)
    loader = ndl.data.DataLoader(ds, 512, shuffle=True)
    batches = [(bx.numpy(), by.numpy()) for bx, by in loader]
    assert len(batches) == 20 and len(batches[-1][1]) == 10000 - 19 * 512, (
        f"10000 items in batches of 512 should give 20 batches, the last of {10000 - 19 * 512}"
    )
    assert batches[0][0].dtype == np.float32, f"image batches should be float32, got {batches[0][0].dtype}"
    labels = np.concatenate([b[1] for b in batches])
    assert_close(labels, y[perm], what="labels of a shuffled pass over t10k")
    picks = [0, 7, 19]
    assert_close(np.concatenate([batches[k][0].reshape(-1, 784) for k in picks]),
                 np.concatenate([X[perm[k * 512:(k + 1) * 512]].reshape(-1, 784) for k in picks]),
                 tol=TOL["float32"], what="images of batches 0, 7 and 19")
