"""Question "data": ``needle.data`` transforms, datasets and DataLoader
(needle_api.md sections 3.1 and 6).

- RandomFlipHorizontal(p): one ``np.random.rand()`` per call; flips an H x W x C
  image along W (axis 1) when that draw is < p.
- RandomCrop(padding): one ``np.random.randint(-padding, padding + 1, size=2)``
  gives (shift_x, shift_y); zero-pad H and W, then take rows
  padding + shift_x ... + H and columns padding + shift_y ... + W.
- DataLoader(dataset, batch_size, shuffle): batches are tuples of Tensors equal
  to the dataset indexed by consecutive chunks of ``arange(n)`` (no shuffle) or
  of one ``np.random.permutation(n)`` drawn per ``iter()`` (shuffle); the last
  batch may be partial.
- MNISTDataset: NumPy (x, y) items, x float32 scaled to [0, 1]; transforms see
  each image as 28 x 28 x 1.

Expected values replay the documented draws with NumPy under the same seed.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import TOL, assert_close
from tests_public.numpy_reference import mnist_paths, numpy_crop, read_mnist_over_255


def image(h, w, c, seed=0):
    """A float32 H x W x C image of distinct values, so every flip or shift shows."""
    return (np.random.default_rng(seed).permutation(h * w * c).reshape(h, w, c) + 1).astype(np.float32)


# --- RandomFlipHorizontal ----------------------------------------------------


def test_flip_with_p_one_always_flips_along_the_width():
    img = image(4, 5, 2)
    np.random.seed(0)
    for _ in range(5):
        assert_close(ndl.data.RandomFlipHorizontal(1.0)(img), img[:, ::-1, :], what="RandomFlipHorizontal(1.0)(img)",
                     hint="flip the W axis (axis 1) of the H x W x C image: img[:, ::-1, :]")


def test_flip_with_p_zero_never_flips():
    img = image(4, 5, 2)
    np.random.seed(0)
    for _ in range(5):
        assert_close(ndl.data.RandomFlipHorizontal(0.0)(img), img, what="RandomFlipHorizontal(0.0)(img)")


def test_seeded_flips_follow_one_rand_draw_per_call():
    images = [image(3 + i % 3, 4 + i % 2, 1 + i % 3, seed=i) for i in range(10)]
    np.random.seed(0)
    flips = [np.random.rand() < 0.5 for _ in images]
    assert 0 < sum(flips) < len(flips), "test precondition: seed 0 should give some flips and some not"
    np.random.seed(0)
    transform = ndl.data.RandomFlipHorizontal(0.5)
    for i, (img, flip) in enumerate(zip(images, flips)):
        got = transform(img)
        assert_close(got, img[:, ::-1, :] if flip else img, what=f"seeded RandomFlipHorizontal(0.5), image {i}",
                     hint="decide with the given flip_img = np.random.rand() < p (one draw per call), then "
                     "flip along axis 1 (W)")


# --- RandomCrop --------------------------------------------------------------


def discriminating_seed(padding):
    """The first seed whose shifts (sx, sy) differ from (sy, sx), (-sx, -sy) and
    (-sy, -sx), so swapped or negated shifts give other crops."""
    for seed in range(1000):
        sx, sy = np.random.RandomState(seed).randint(-padding, padding + 1, size=2)
        if sx != sy and sx != -sy:
            return seed
    raise AssertionError("no discriminating seed")


@pytest.mark.parametrize("padding", [1, 2, 4, 5, 8], ids=lambda p: f"padding={p}")
def test_seeded_crop_follows_the_documented_shifts(padding):
    seed = discriminating_seed(padding)
    img = image(10, 12, 3, seed=padding)
    np.random.seed(seed)
    shift_x, shift_y = np.random.randint(low=-padding, high=padding + 1, size=2)
    np.random.seed(seed)
    got = ndl.data.RandomCrop(padding)(img)
    assert_close(got, numpy_crop(img, padding, shift_x, shift_y),
                 what=f"RandomCrop({padding}) under seed {seed} (shift_x={shift_x}, shift_y={shift_y})",
                 hint="zero-pad H and W by padding, then take rows padding + shift_x : ... + H (shift_x moves "
                 "along H, axis 0) and columns padding + shift_y : ... + W")


@pytest.mark.parametrize("shape", [(10, 12, 3), (28, 28, 1), (5, 7, 2)], ids=lambda s: "x".join(map(str, s)))
def test_crop_keeps_shape_and_dtype(shape):
    np.random.seed(1)
    img = image(*shape)
    got = ndl.data.RandomCrop(3)(img)
    assert got.shape == img.shape, f"RandomCrop(3) changed the shape {img.shape} to {got.shape}"
    assert got.dtype == np.float32, f"RandomCrop(3) changed float32 to {got.dtype}"


def test_crop_with_zero_padding_is_the_identity():
    img = image(6, 5, 2)
    np.random.seed(2)
    assert_close(ndl.data.RandomCrop(0)(img), img, what="RandomCrop(0)(img)")


# --- DataLoader (over the given NDArrayDataset) -----------------------------


def dataset(n, seed=0):
    """Items whose x identifies the row: x[i] = i + a (3, 2) pattern; y[i] = i."""
    pattern = np.random.default_rng(seed).standard_normal((3, 2))
    X = (np.arange(n)[:, None, None] + pattern).astype(np.float32)
    y = np.arange(n)
    return ndl.data.NDArrayDataset(X, y), X, y


def batches_as_numpy(loader):
    out = []
    for batch in loader:
        assert isinstance(batch, tuple), f"a DataLoader batch should be a tuple, got {type(batch).__name__}"
        for j, part in enumerate(batch):
            assert isinstance(part, ndl.Tensor), (
                f"element {j} of a batch should be a needle Tensor, got {type(part).__name__}"
            )
        out.append(tuple(part.numpy() for part in batch))
    return out


@pytest.mark.parametrize("n, batch_size", [(20, 1), (20, 5), (23, 5), (23, 23), (7, 50)],
                         ids=lambda v: str(v))
def test_sequential_batches_are_consecutive_dataset_slices(n, batch_size):
    ds, X, y = dataset(n)
    loader = ndl.data.DataLoader(ds, batch_size)
    got = batches_as_numpy(loader)
    starts = list(range(0, n, batch_size))
    assert len(got) == len(starts), (
        f"{n} items in batches of {batch_size} should give {len(starts)} batches (the last one partial), "
        f"got {len(got)}"
    )
    for k, start in enumerate(starts):
        assert_close(got[k][0], X[start:start + batch_size], what=f"batch {k} x (n={n}, batch_size={batch_size})",
                     hint="without shuffle, batch k is dataset[k * batch_size:(k + 1) * batch_size]")
        assert_close(got[k][1], y[start:start + batch_size], what=f"batch {k} y")
    assert len(loader) == len(starts), f"len(DataLoader) should be the number of batches {len(starts)}, got {len(loader)}"


def test_iteration_ends_with_stop_iteration_and_can_restart():
    ds, X, _ = dataset(6)
    loader = ndl.data.DataLoader(ds, 4)
    it = iter(loader)
    next(it), next(it)
    with pytest.raises(StopIteration):
        next(it)
    first_again = next(iter(loader))
    assert_close(first_again[0], X[:4], what="the first batch of a second pass",
                 hint="iter() starts a new pass from the first batch")


def test_unshuffled_order_is_the_same_every_epoch():
    ds, X, _ = dataset(13)
    loader = ndl.data.DataLoader(ds, 4, shuffle=False)
    np.random.seed(0)
    first = np.concatenate([b[0] for b in batches_as_numpy(loader)])
    second = np.concatenate([b[0] for b in batches_as_numpy(loader)])
    assert_close(first, X, what="an unshuffled epoch")
    assert_close(second, X, what="a second unshuffled epoch")


def test_batches_keep_the_dataset_dtypes():
    ds, _, _ = dataset(9)
    x, y = next(iter(ndl.data.DataLoader(ds, 4)))
    assert x.dtype == np.float32, f"a float32 dataset gave {x.dtype} batches; keep the dtype"
    assert y.dtype == np.int64, f"int64 labels came out as {y.dtype}; keep the dtype"


def test_shuffle_uses_one_permutation_per_epoch():
    n, batch_size = 23, 5
    ds, X, y = dataset(n)
    np.random.seed(0)
    perm_1, perm_2 = np.random.permutation(n), np.random.permutation(n)
    np.random.seed(0)
    loader = ndl.data.DataLoader(ds, batch_size, shuffle=True)
    epoch_1 = batches_as_numpy(loader)
    epoch_2 = batches_as_numpy(loader)
    for name, epoch, perm in (("first", epoch_1, perm_1), ("second", epoch_2, perm_2)):
        assert [len(b[1]) for b in epoch] == [5, 5, 5, 5, 3], (
            f"the {name} shuffled epoch should have batch sizes [5, 5, 5, 5, 3], got {[len(b[1]) for b in epoch]}"
        )
        order = np.concatenate([b[1] for b in epoch])
        assert not np.array_equal(order, np.arange(n)), (
            f"shuffle=True gave the sequential order in the {name} epoch: draw np.random.permutation(len(dataset)) "
            f"in __iter__ and batch in that order"
        )
        assert_close(order, perm, what=f"the item order of the {name} shuffled epoch",
                     hint="each iter() draws one np.random.permutation(len(dataset)) and splits it into batches "
                     "(the second epoch uses the second draw)")
        assert_close(np.concatenate([b[0] for b in epoch]), X[perm], what=f"x of the {name} shuffled epoch")


def test_course_shuffle_order():
    # needle_api.md 9.4: seed 0, batch 1, the first ten items of a shuffled 100-item loader.
    ds = ndl.data.NDArrayDataset(np.arange(100, dtype=np.float32))
    np.random.seed(0)
    first_ten = [float(b[0].numpy().reshape(())) for _, b in zip(range(10), ndl.data.DataLoader(ds, 1, shuffle=True))]
    assert first_ten == [26, 86, 2, 55, 75, 93, 16, 73, 54, 95], (
        f"seed 0, shuffle=True, batch 1 should start with items [26, 86, 2, 55, 75, 93, 16, 73, 54, 95] "
        f"(np.random.permutation(100)), got {first_ten}"
    )


# --- MNISTDataset on t10k ----------------------------------------------------


@pytest.fixture(scope="module")
def t10k_raw(mnist_dir):
    """The t10k pixels / 255 as (10000, 28, 28) float32, and the labels, decoded here."""
    return read_mnist_over_255(mnist_dir, (28, 28))


INDICES = [1, 42, 1000, 2000, 3000, 4000, 5000, 5005]


@pytest.mark.mnist
def test_mnist_dataset_course_norms_and_labels(mnist_dir):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    assert len(ds) == 10000, f"len(MNISTDataset(t10k)) should be 10000, got {len(ds)}"
    items = [ds[i] for i in INDICES]
    for i, (x, y) in zip(INDICES, items):
        assert isinstance(x, np.ndarray) and not isinstance(x, ndl.Tensor), (
            f"MNISTDataset[{i}] should return NumPy arrays, not {type(x).__name__}; the DataLoader makes Tensors"
        )
        assert x.dtype == np.float32, f"MNISTDataset[{i}] x should be float32, got {x.dtype}"
        assert x.size == 784, f"MNISTDataset[{i}] x should hold 784 pixels, got shape {x.shape}"
    norms = np.array([np.linalg.norm(x) for x, _ in items], dtype=np.float32)
    assert_close(norms, np.array([9.857545, 8.980832, 8.57207, 6.891522, 8.192135, 9.400087, 8.645003, 7.405202],
                                 dtype=np.float32), what=f"t10k item norms at {INDICES} (course values)",
                 hint="scale pixels to [0, 1] (pixel / 255 for MNIST)")
    labels = [int(y) for _, y in items]
    assert labels == [2, 4, 9, 6, 6, 9, 3, 1], f"t10k labels at {INDICES} should be [2, 4, 9, 6, 6, 9, 3, 1], got {labels}"


@pytest.mark.mnist
def test_mnist_dataset_index_arrays_and_slices(mnist_dir, t10k_raw):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    X, y = t10k_raw
    idx = np.array([7, 3, 9999, 0])
    for key, name in ((idx, "an index array"), (slice(10, 15), "a slice")):
        xs, ys = ds[key]
        assert_close(np.asarray(xs).reshape(-1, 784), X[key].reshape(-1, 784), tol=TOL["float32"],
                     what=f"MNISTDataset x for {name}", hint="datasets must accept slices and index arrays")
        assert_close(np.asarray(ys), y[key], what=f"MNISTDataset y for {name}")


@pytest.mark.mnist
def test_mnist_dataset_applies_transforms_in_order_with_seeded_draws(mnist_dir, t10k_raw):
    X, _ = t10k_raw
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir),
                               transforms=[ndl.data.RandomCrop(5), ndl.data.RandomFlipHorizontal(0.5)])
    np.random.seed(0)
    expected = []
    for i in INDICES:
        img = X[i][:, :, None]
        shift_x, shift_y = np.random.randint(low=-5, high=6, size=2)
        img = numpy_crop(img, 5, shift_x, shift_y)
        if np.random.rand() < 0.5:
            img = img[:, ::-1, :]
        expected.append(img.reshape(784))
    np.random.seed(0)
    for i, want in zip(INDICES, expected):
        x, _ = ds[i]
        assert_close(np.asarray(x).reshape(784), want, tol=TOL["float32"],
                     what=f"MNISTDataset[{i}] with [RandomCrop(5), RandomFlipHorizontal(0.5)] under seed 0",
                     hint="apply the transforms in list order to the image as a 28 x 28 x 1 (H x W x C) array, "
                     "then flatten back to 784 values")
