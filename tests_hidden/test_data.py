"""Hidden tests, question "data": ``needle.data`` transforms, datasets and DataLoader.

New image shapes (never square, so a flip or shift along the wrong axis
shows), paddings, seeds, dataset sizes and batch sizes; small drawn MNIST
files and t10k.  Each test seeds NumPy's global RNG where the code draws and
hands over what came out, for comparison with the reference's values.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.data import distinct_image, small_mnist
from grader.box.inputs import mnist_paths, rng, seed_global
from grader.box.record import check, observe


def image(h, w, c, seed=0):
    """A float32 H x W x C image of distinct values."""
    return distinct_image(h, w, c, seed=seed, scale=0.5, offset=1.0)


def array_of(part):
    """A batch part or a dataset item as an array (a Tensor's data)."""
    return part.numpy() if isinstance(part, ndl.Tensor) else np.asarray(part)


# --- RandomFlipHorizontal ----------------------------------------------------

FLIP_SHAPES = [(3, 7, 4), (6, 2, 1), (5, 9, 3)]


@pytest.mark.parametrize("shape", FLIP_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.behaviour("RandomFlipHorizontal")
def test_flip_with_p_one_flips_the_width_axis(shape):
    """RandomFlipHorizontal(1.0) always mirrors the image left to right, keeping dtype and shape."""
    transform = ndl.data.RandomFlipHorizontal(1.0)
    img = image(*shape, seed=sum(shape))
    seed_global(3)
    check(transform(img), what=f"RandomFlipHorizontal(1.0) of a {shape} image")


@pytest.mark.parametrize("p, seed", [(0.3, 7), (0.8, 21)], ids=["p=0.3-seed7", "p=0.8-seed21"])
@pytest.mark.behaviour("RandomFlipHorizontal")
def test_seeded_flips(p, seed):
    """One uniform draw per call decides the flip: flip when the draw is below p."""
    transform = ndl.data.RandomFlipHorizontal(p)
    images = [image(2 + i % 4, 3 + i % 3, 1 + i % 2, seed=40 + i) for i in range(16)]
    seed_global(seed)
    got = [transform(img) for img in images]
    observe(np.random.rand(), what=f"the next np.random.rand() after 16 RandomFlipHorizontal({p}) calls")
    check(np.concatenate([array_of(g).reshape(-1) for g in got]), what=f"sixteen seeded RandomFlipHorizontal({p}) calls")


@pytest.mark.behaviour("RandomFlipHorizontal")
def test_flip_with_p_zero_keeps_the_image():
    """RandomFlipHorizontal(0.0) never flips."""
    transform = ndl.data.RandomFlipHorizontal(0.0)
    img = image(4, 6, 2, seed=5)
    seed_global(0)
    check(np.stack([array_of(transform(img)) for _ in range(4)]), what="RandomFlipHorizontal(0.0), four calls")


# --- RandomCrop --------------------------------------------------------------

CROP_CASES = [
    # (id, padding, image shape)
    ("padding=3-9x6x2", 3, (9, 6, 2)),
    ("padding=6-11x8x1", 6, (11, 8, 1)),
    ("padding=7-5x12x3", 7, (5, 12, 3)),
    ("padding=2-4x5x2", 2, (4, 5, 2)),
]


@pytest.mark.parametrize("padding, shape", [c[1:] for c in CROP_CASES], ids=[c[0] for c in CROP_CASES])
@pytest.mark.behaviour("RandomCrop")
def test_seeded_crops(padding, shape):
    """RandomCrop zero-pads H and W and crops back at (shift_x along H, shift_y along W) from one randint draw."""
    transform = ndl.data.RandomCrop(padding)
    img = image(*shape, seed=padding)
    seed_global(10 + padding)
    for call in range(5):
        check(transform(img), what=f"seeded RandomCrop({padding}) of a {shape} image, call {call}")
    observe(np.random.rand(), what=f"the next np.random.rand() after five RandomCrop({padding}) calls")


@pytest.mark.behaviour("RandomCrop")
def test_crop_without_padding_is_the_identity():
    """RandomCrop(0) returns the image unchanged."""
    transform = ndl.data.RandomCrop(0)
    img = image(3, 8, 2, seed=9)
    seed_global(4)
    check(transform(img), what="RandomCrop(0)(img)")


# --- DataLoader --------------------------------------------------------------


def dataset(n, seed=0):
    """Three arrays per item: x[i] identifies the row, y[i] = i, w[i] = -i."""
    pattern = rng(seed).standard_normal((2, 3))
    X = (np.arange(n)[:, None, None] * 10 + pattern).astype(np.float32)
    return ndl.data.NDArrayDataset(X, np.arange(n), -np.arange(n, dtype=np.float32))


def epoch_arrays(loader, what):
    """One pass's batches as arrays; hands over their count, their sizes and
    whether their parts are Tensors."""
    batches = []
    for batch in loader:
        assert isinstance(batch, tuple) and len(batch) == 3, "each batch should be a tuple with one Tensor per array"
        batches.append(batch)
        assert len(batches) <= len(loader.dataset) + 1, f"{what} never raised StopIteration"
    observe(all(isinstance(part, ndl.Tensor) for batch in batches for part in batch),
            what=f"every part of every batch of {what} is a needle Tensor")
    arrays = [tuple(array_of(part) for part in batch) for batch in batches]
    observe(np.array([len(b[1]) for b in arrays]), what=f"the batch sizes of {what}")
    return arrays


def joined(arrays, j):
    return np.concatenate([b[j] for b in arrays])


SEQUENTIAL_CASES = [("n=17-batch=4", 17, 4), ("n=30-batch=7", 30, 7), ("n=3-batch=1", 3, 1), ("n=8-batch=8", 8, 8),
                    ("n=11-batch=20", 11, 20)]


@pytest.mark.parametrize("n, batch_size", [c[1:] for c in SEQUENTIAL_CASES], ids=[c[0] for c in SEQUENTIAL_CASES])
@pytest.mark.behaviour("DataLoader")
def test_unshuffled_batches_cover_the_dataset_in_order(n, batch_size):
    """Without shuffle, batches are consecutive slices of the dataset, the last one possibly smaller."""
    loader = ndl.data.DataLoader(dataset(n, seed=n), batch_size)
    got = epoch_arrays(loader, f"an unshuffled pass (n={n}, batch {batch_size})")
    observe(len(loader), what="len(DataLoader)")
    check(joined(got, 0), what="x over the epoch")
    check(joined(got, 1), what="y over the epoch")
    check(joined(got, 2), what="the third array over the epoch")


SHUFFLE_CASES = [("n=26-batch=6-seed5", 26, 6, 5), ("n=9-batch=2-seed1", 9, 2, 1), ("n=40-batch=40-seed8", 40, 40, 8)]


@pytest.mark.parametrize("n, batch_size, seed", [c[1:] for c in SHUFFLE_CASES], ids=[c[0] for c in SHUFFLE_CASES])
@pytest.mark.behaviour("DataLoader")
def test_shuffle_draws_a_new_permutation_each_epoch(n, batch_size, seed):
    """With shuffle, each pass follows a fresh np.random.permutation(len(dataset)), split into batches."""
    loader = ndl.data.DataLoader(dataset(n, seed=seed), batch_size, shuffle=True)
    seed_global(seed)
    for k in range(3):
        batches = epoch_arrays(loader, f"shuffled epoch {k}")
        check(joined(batches, 1), what=f"item order (y) of shuffled epoch {k}")
        check(joined(batches, 0), what=f"x of shuffled epoch {k}")
        check(joined(batches, 2), what=f"third array of shuffled epoch {k}")


@pytest.mark.behaviour("DataLoader")
def test_restarting_iteration_and_stop():
    """A pass ends with StopIteration; a new iter() starts again from the first batch."""
    loader = ndl.data.DataLoader(dataset(10), 3)
    it = iter(loader)
    firsts = [array_of(next(it)[0]) for _ in range(4)]
    with pytest.raises(StopIteration):
        next(it)
    again = array_of(next(iter(loader))[0])
    check(np.concatenate(firsts + [again]), what="x of a full pass (batches of 3 of 10 items) then a restart")


# --- MNISTDataset --------------------------------------------------------------


def rows(x):
    """Images as rows of 784 pixels (no storage shape is required), or the value as it came."""
    array = array_of(x)
    return array.reshape(-1, 784) if array.size and array.size % 784 == 0 else array


def labels(ys):
    """Labels as one int64 row, whatever integer type they came in."""
    return np.concatenate([array_of(y).reshape(-1) for y in ys]).astype(np.int64)


INDICES = [0, 17, 256, 1234, 4321, 6789, 9998]


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_items(mnist_dir):
    """MNISTDataset returns NumPy float32 pixels in [0, 1] and the labels, by int, slice and index array."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    observe(len(ds), what="len(MNISTDataset(t10k))")
    items = [ds[i] for i in INDICES]
    observe(all(isinstance(x, np.ndarray) for x, _ in items), what="items are NumPy arrays, not Tensors")
    check(np.concatenate([rows(x) for x, _ in items]), what=f"t10k items {INDICES}")
    check(labels([y for _, y in items]), what="their labels")
    for key, name in ((np.array([9999, 5, 5, 312]), "an index array"), (slice(7000, 7006), "a slice")):
        xs, ys = ds[key]
        check(rows(xs), what=f"x for {name}")
        check(ys, what=f"y for {name}")


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_with_transforms(mnist_dir):
    """Transforms run in list order on each 28 x 28 x 1 image, with the documented draws."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir),
                               transforms=[ndl.data.RandomFlipHorizontal(0.6), ndl.data.RandomCrop(4)])
    seed_global(9)
    got = [ds[i][0] for i in INDICES]
    check(np.concatenate([rows(x) for x in got]),
          what=f"t10k items {INDICES} through [RandomFlipHorizontal(0.6), RandomCrop(4)], seeded")


@pytest.mark.mnist
@pytest.mark.behaviour("DataLoader")
def test_dataloader_over_mnist(mnist_dir):
    """A DataLoader over MNISTDataset gives float32 image batches and the labels, shuffled by the seeded permutation."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    loader = ndl.data.DataLoader(ds, 512, shuffle=True)
    seed_global(12)
    batches = []
    for bx, by in loader:
        batches.append((bx, by))
        assert len(batches) <= 21, "the loader never raised StopIteration"
    observe(np.array([len(array_of(by)) for _, by in batches]), what="the batch sizes of a pass over t10k in batches of 512")
    check(labels([by for _, by in batches]), what="labels of a shuffled pass over t10k")
    for k in (0, 7, 19):
        check(rows(batches[k][0]), what=f"images of batch {k}")


SMALL_CASES = [
    # (id, images, lowest pixel, highest pixel)
    ("9-images-12-to-240", 9, 12, 240),
    ("4-images-0-to-99", 4, 0, 99),
    ("3-images-17-to-255", 3, 17, 255),
    ("2-images-all-201", 2, 201, 201),  # no range to scale by: all zeros, not 0 / 0
]


@pytest.mark.parametrize("n, low, high", [c[1:] for c in SMALL_CASES], ids=[c[0] for c in SMALL_CASES])
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_scales_small_files_over_the_whole_dataset(tmp_path, n, low, high):
    """MNISTDataset scales a file's pixels to [0, 1] by the whole file's smallest and largest pixel (not / 255, not per image)."""
    ds = ndl.data.MNISTDataset(*small_mnist(tmp_path, n, seed=100 + n, low=low, high=high))
    observe(len(ds), what=f"len(MNISTDataset) of {n} images")
    check(np.concatenate([rows(ds[i][0]) for i in range(n)]), what=f"the {n} items' x, by int")
    xs, ys = ds[np.arange(n)[::-1]]
    check(rows(xs), what="x by a reversed index array")
    check(labels([ys]), what="y by a reversed index array")


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_transforms_apply_to_each_dataloader_batch(mnist_dir):
    """A DataLoader batch is one index-array lookup: the transforms see its images as one 28 x 28 x k array (one draw each per batch)."""
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir),
                               transforms=[ndl.data.RandomFlipHorizontal(0.5), ndl.data.RandomCrop(2)])
    loader = ndl.data.DataLoader(ds, 700, shuffle=True)
    seed_global(21)
    batches = []
    for bx, by in loader:
        batches.append((bx, by))
        assert len(batches) <= 16, "the loader never raised StopIteration"
    observe(len(batches), what="the number of batches of a pass over t10k in batches of 700")
    check(labels([by for _, by in batches]), what="labels of a shuffled, transformed pass over t10k")
    for k in (0, 3, 8, len(batches) - 1):
        check(rows(batches[k][0]), what=f"images of batch {k}")


@pytest.mark.behaviour("MNISTDataset")
def test_transforms_apply_to_small_file_batches(tmp_path):
    """Unshuffled batches of a small transformed MNISTDataset: one crop and one flip draw per batch, in list order."""
    transforms = [ndl.data.RandomCrop(3), ndl.data.RandomFlipHorizontal(0.4)]
    ds = ndl.data.MNISTDataset(*small_mnist(tmp_path, 11, seed=23), transforms=transforms)
    loader = ndl.data.DataLoader(ds, 3)
    seed_global(5)
    for epoch in range(2):
        batches = epoch_arrays_of_two(loader)
        for k, (x, y) in enumerate(batches):
            check(labels([y]), what=f"epoch {epoch}, batch {k} y")
            check(rows(x), what=f"epoch {epoch}, batch {k} x")
    observe(np.random.rand(), what="the next np.random.rand() after two transformed passes")


def epoch_arrays_of_two(loader):
    """One pass's (x, y) batches (a two-array dataset)."""
    batches = []
    for batch in loader:
        assert isinstance(batch, tuple) and len(batch) == 2, "each batch should be a tuple (x, y) of Tensors"
        batches.append(batch)
        assert len(batches) <= len(loader.dataset) + 1, "the loader never raised StopIteration"
    observe(len(batches), what="the number of batches of a pass")
    return batches
