"""Question "data": ``needle.data`` transforms, datasets and DataLoader
(docs/API.md sections 4.1 and 7).

- RandomFlipHorizontal(p): one ``np.random.rand()`` per call; flips an H x W x C
  image along W (axis 1) when that draw is < p.
- RandomCrop(padding): one ``np.random.randint(-padding, padding + 1, size=2)``
  gives (shift_x, shift_y); zero-pad H and W, then take rows
  padding + shift_x ... + H and columns padding + shift_y ... + W.
- DataLoader(dataset, batch_size, shuffle): batches are tuples of Tensors equal
  to the dataset indexed by consecutive chunks of ``arange(n)`` (no shuffle) or
  of one ``np.random.permutation(n)`` drawn per ``iter()`` (shuffle); the last
  batch may be partial.
- MNISTDataset: NumPy (x, y) items, x float32 scaled to [0, 1] over the whole
  dataset (min-max; for MNIST that is pixel / 255); the transforms see the
  selected images as one 28 x 28 x k (H x W x C) array, so a batch looked up
  with an index array gets one draw of each transform.

Each test seeds NumPy's global RNG where the code draws, calls the code, and
hands over what came out; it is compared with the reference's values for
the same inputs.  Images are small arrays of distinct values, so that any
flip or shift shows; MNIST files are t10k or small drawn files.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.data import distinct_image, small_mnist
from grader.box.inputs import mnist_paths, rng, seed_global
from grader.box.record import check, observe

FLIP_HINT = "flip the W axis (axis 1) of the H x W x C image, img[:, ::-1, :], when np.random.rand() < p (one draw per call)"
CROP_HINT = ("one np.random.randint(-padding, padding + 1, size=2) draw gives (shift_x, shift_y); zero-pad H and W by "
             "padding, then take rows padding + shift_x : ... + H (shift_x moves along H, axis 0) and columns "
             "padding + shift_y : ... + W")
BATCH_HINT = "without shuffle, batch k is dataset[k * batch_size:(k + 1) * batch_size], the last one partial"
SHUFFLE_HINT = "each iter() draws one np.random.permutation(len(dataset)) and splits it into batches in that order"
SCALE_HINT = "scale the pixels to [0, 1] over the whole dataset (min -> 0, max -> 1; for MNIST that is pixel / 255)"


def image(h, w, c, seed=0):
    """A float32 H x W x C image of distinct values, so every flip or shift shows."""
    return distinct_image(h, w, c, seed=seed)


# --- RandomFlipHorizontal ----------------------------------------------------


@pytest.mark.behaviour("RandomFlipHorizontal")
def test_flip_with_p_one_always_flips_along_the_width():
    img = image(4, 5, 2)
    transform = ndl.data.RandomFlipHorizontal(1.0)
    seed_global(0)
    for call in range(5):
        check(transform(img), what=f"RandomFlipHorizontal(1.0)(img), call {call}", hint=FLIP_HINT)


@pytest.mark.behaviour("RandomFlipHorizontal")
def test_flip_with_p_zero_never_flips():
    img = image(4, 5, 2)
    transform = ndl.data.RandomFlipHorizontal(0.0)
    seed_global(0)
    for call in range(5):
        check(transform(img), what=f"RandomFlipHorizontal(0.0)(img), call {call}", hint=FLIP_HINT)


@pytest.mark.behaviour("RandomFlipHorizontal")
def test_seeded_flips_follow_one_rand_draw_per_call():
    images = [image(3 + i % 3, 4 + i % 2, 1 + i % 3, seed=i) for i in range(16)]
    transform = ndl.data.RandomFlipHorizontal(0.5)
    seed_global(0)
    for i, img in enumerate(images):
        check(transform(img), what=f"seeded RandomFlipHorizontal(0.5), image {i} of shape {img.shape}",
              hint="decide with the given flip_img = np.random.rand() < p (one draw per call), then flip along "
              "axis 1 (W)")
    observe(np.random.rand(), what="the next np.random.rand() after 16 flips",
            hint="make exactly one np.random.rand() draw per call, no other")


# --- RandomCrop --------------------------------------------------------------


@pytest.mark.parametrize("padding", [1, 2, 4, 5, 8], ids=lambda p: f"padding={p}")
@pytest.mark.behaviour("RandomCrop")
def test_seeded_crop_follows_the_documented_shifts(padding):
    img = image(10, 12, 3, seed=padding)
    transform = ndl.data.RandomCrop(padding)
    seed_global(padding)
    for call in range(4):  # four draws: some shift pair differs from its swap and its negation
        check(transform(img), what=f"RandomCrop({padding}) of a 10 x 12 x 3 image, seeded call {call}", hint=CROP_HINT)
    observe(np.random.rand(), what=f"the next np.random.rand() after four RandomCrop({padding}) calls",
            hint="make exactly one np.random.randint(..., size=2) draw per call, no other")


@pytest.mark.parametrize("shape", [(10, 12, 3), (28, 28, 1), (5, 7, 2)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.behaviour("RandomCrop")
def test_crop_keeps_shape_and_dtype(shape):
    img = image(*shape)
    seed_global(1)
    check(ndl.data.RandomCrop(3)(img), what=f"RandomCrop(3) of a float32 {shape} image",
          hint="return an H x W x C crop: zero-pad H and W only (not C), then take an H x W window")


@pytest.mark.behaviour("RandomCrop")
def test_crop_with_zero_padding_is_the_identity():
    img = image(6, 5, 2)
    seed_global(2)
    check(ndl.data.RandomCrop(0)(img), what="RandomCrop(0)(img)", hint="with padding 0 the only shift is (0, 0)")


# --- DataLoader (over the given NDArrayDataset) -----------------------------


def dataset(n, seed=0):
    """Items whose x identifies the row: x[i] = i + a (3, 2) pattern; y[i] = i."""
    pattern = rng(seed).standard_normal((3, 2))
    X = (np.arange(n)[:, None, None] + pattern).astype(np.float32)
    return ndl.data.NDArrayDataset(X, np.arange(n))


def epoch_batches(loader, what):
    """The batches of one pass over ``loader``; hands over how many there
    were and whether their parts are Tensors."""
    batches = []
    for batch in loader:
        assert isinstance(batch, tuple), (
            f"a DataLoader batch should be a tuple with one Tensor per array of the dataset, got {type(batch).__name__}"
        )
        batches.append(batch)
        assert len(batches) <= len(loader.dataset) + 1, (
            f"{what} gave more batches than the dataset has items: raise StopIteration after the last batch"
        )
    observe(all(isinstance(part, ndl.Tensor) for batch in batches for part in batch),
            what=f"every part of every batch of {what} is a needle Tensor",
            hint="wrap each array of dataset[indices] in a Tensor")
    observe(len(batches), what=f"the number of batches of {what}", hint="the last batch may be partial")
    return batches


def array_of(part):
    """A batch part as an array (a Tensor's data)."""
    return part.numpy() if isinstance(part, ndl.Tensor) else np.asarray(part)


@pytest.mark.parametrize("n, batch_size", [(20, 1), (20, 5), (23, 5), (23, 23), (7, 50)],
                         ids=lambda v: str(v))
@pytest.mark.behaviour("DataLoader")
def test_sequential_batches_are_consecutive_dataset_slices(n, batch_size):
    loader = ndl.data.DataLoader(dataset(n), batch_size)
    name = f"DataLoader(n={n}, batch_size={batch_size})"
    for k, batch in enumerate(epoch_batches(loader, name)):
        check(batch[0], what=f"batch {k} x of {name}", hint=BATCH_HINT)
        check(batch[1], what=f"batch {k} y of {name}", hint=BATCH_HINT)
    observe(len(loader), what=f"len({name})", hint="len(DataLoader) is the number of batches of one pass")


@pytest.mark.behaviour("DataLoader")
def test_iteration_ends_with_stop_iteration_and_can_restart():
    loader = ndl.data.DataLoader(dataset(6), 4)
    it = iter(loader)
    check(next(it)[0], what="the first batch's x (6 items, batches of 4)", hint=BATCH_HINT)
    check(next(it)[0], what="the second (partial) batch's x", hint=BATCH_HINT)
    with pytest.raises(StopIteration):
        next(it)
    check(next(iter(loader))[0], what="the first batch of a second pass",
          hint="iter() starts a new pass from the first batch")


@pytest.mark.behaviour("DataLoader")
def test_unshuffled_order_is_the_same_every_epoch():
    loader = ndl.data.DataLoader(dataset(13), 4, shuffle=False)
    seed_global(0)
    for name in ("first", "second"):
        x = np.concatenate([array_of(batch[0]) for batch in epoch_batches(loader, f"the {name} unshuffled epoch")])
        check(x, what=f"x of the {name} unshuffled epoch, batches joined", hint=BATCH_HINT)


@pytest.mark.behaviour("DataLoader")
def test_batches_keep_the_dataset_dtypes():
    x, y = next(iter(ndl.data.DataLoader(dataset(9), 4)))
    hint = dict.fromkeys(("value", "dtype"), "the first batch is dataset[0:4], each of its arrays wrapped in a "
                         "Tensor as it is")
    check(x, what="the first batch's x (float32 data)", hint=hint)
    check(y, what="the first batch's y (int64 labels)", hint=hint)


@pytest.mark.behaviour("DataLoader")
def test_shuffle_uses_one_permutation_per_epoch():
    n, batch_size = 23, 5
    loader = ndl.data.DataLoader(dataset(n), batch_size, shuffle=True)
    seed_global(0)
    for name in ("first", "second"):
        batches = epoch_batches(loader, f"the {name} shuffled epoch")
        observe(np.array([len(array_of(batch[1])) for batch in batches]), what=f"the batch sizes of the {name} shuffled epoch",
                hint="split the permutation into batches of batch_size, the last one partial")
        check(np.concatenate([array_of(batch[1]) for batch in batches]),
              what=f"the item order (y) of the {name} shuffled epoch",
              hint=SHUFFLE_HINT + " (the second epoch uses the second draw)")
        check(np.concatenate([array_of(batch[0]) for batch in batches]), what=f"x of the {name} shuffled epoch",
              hint=SHUFFLE_HINT)


@pytest.mark.behaviour("DataLoader")
def test_course_shuffle_order():
    # The course's published test (hw2's test_dataloader_ndarray):
    # seed 0, batch 1, the first ten items of a shuffled 100-item loader.
    ds = ndl.data.NDArrayDataset(np.arange(100, dtype=np.float32))
    seed_global(0)
    first_ten = [array_of(b[0]).reshape(-1) for _, b in zip(range(10), ndl.data.DataLoader(ds, 1, shuffle=True))]
    check(np.concatenate(first_ten), what="the first ten items of a shuffled DataLoader(arange(100), 1)",
          hint=SHUFFLE_HINT)


# --- MNISTDataset ------------------------------------------------------------


def rows(x):
    """A dataset's images as rows of 784 pixels (no storage shape is
    required), or the value as it came when it cannot be (the check says why)."""
    array = array_of(x)
    return array.reshape(-1, 784) if array.size and array.size % 784 == 0 else array


def labels(ys):
    """Labels as one int64 row, whatever integer type they came in."""
    return np.concatenate([array_of(y).reshape(-1) for y in ys]).astype(np.int64)


def observe_numpy_items(items, what):
    observe(all(isinstance(x, np.ndarray) for x, _ in items), what=f"{what} returns x as a NumPy array (not a Tensor)",
            hint="a dataset returns NumPy arrays; the DataLoader makes the Tensors")


INDICES = [1, 42, 1000, 2000, 3000, 4000, 5000, 5005]


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_course_norms_and_labels(mnist_dir):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    observe(len(ds), what="len(MNISTDataset(t10k))", hint="__len__ is the number of images in the file")
    items = [ds[i] for i in INDICES]
    observe_numpy_items(items, "MNISTDataset(t10k)[i]")
    for i, (x, _) in zip(INDICES, items):
        check(rows(x), what=f"MNISTDataset(t10k)[{i}] x (as 784 pixels)", hint=SCALE_HINT + "; float32")
    check(labels([y for _, y in items]), what=f"the t10k labels at {INDICES}", hint="y is the label byte of the item")


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_index_arrays_and_slices(mnist_dir):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir))
    for key, name in ((np.array([7, 3, 9999, 0]), "an index array [7, 3, 9999, 0]"), (slice(10, 15), "a slice 10:15")):
        xs, ys = ds[key]
        check(rows(xs), what=f"MNISTDataset(t10k) x for {name} (rows of 784 pixels)",
              hint="datasets must accept slices and index arrays: index the stored arrays with the key")
        check(ys, what=f"MNISTDataset(t10k) y for {name} (uint8)", hint="return the labels as stored: uint8")


@pytest.mark.mnist
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_applies_transforms_in_order_with_seeded_draws(mnist_dir):
    ds = ndl.data.MNISTDataset(*mnist_paths(mnist_dir),
                               transforms=[ndl.data.RandomCrop(5), ndl.data.RandomFlipHorizontal(0.5)])
    seed_global(0)
    for i in INDICES:
        x, _ = ds[i]
        check(rows(x), what=f"MNISTDataset(t10k)[{i}] with [RandomCrop(5), RandomFlipHorizontal(0.5)], seeded",
              hint="apply the transforms in list order to the image as a 28 x 28 x 1 (H x W x C) array, then "
              "flatten back to 784 values")


SMALL_CASES = [
    # (id, images, lowest pixel, highest pixel)
    ("full-range-0-255", 6, 0, 255),
    ("max-below-255", 5, 0, 200),
    ("min-above-0-max-below-255", 7, 30, 180),
    ("all-pixels-77", 3, 77, 77),  # no range to scale by: all zeros, not 0 / 0
]


@pytest.mark.parametrize("n, low, high", [c[1:] for c in SMALL_CASES], ids=[c[0] for c in SMALL_CASES])
@pytest.mark.behaviour("MNISTDataset")
def test_mnist_dataset_scales_small_files_over_the_whole_dataset(tmp_path, n, low, high):
    ds = ndl.data.MNISTDataset(*small_mnist(tmp_path, n, seed=n, low=low, high=high))
    observe(len(ds), what=f"len(MNISTDataset) of a file of {n} images")
    xs, ys = ds[0:n]
    check(rows(xs), what=f"MNISTDataset x of {n} drawn images with pixels in [{low}, {high}] (all of them, by a slice)",
          hint=SCALE_HINT + ": not pixel / 255 when the pixels do not span 0..255, and not each image by its own range")
    check(labels([ys]), what=f"the labels of the {n} drawn images")
    x, _ = ds[n - 1]
    check(rows(x), what=f"MNISTDataset[{n - 1}] x (the last image, by an int)", hint=SCALE_HINT)


@pytest.mark.behaviour("MNISTDataset")
def test_transforms_apply_to_each_dataloader_batch_as_one_array(tmp_path):
    transforms = [ndl.data.RandomCrop(4), ndl.data.RandomFlipHorizontal(0.5)]
    ds = ndl.data.MNISTDataset(*small_mnist(tmp_path, 10, seed=11), transforms=transforms)
    loader = ndl.data.DataLoader(ds, 4, shuffle=True)
    seed_global(3)
    for name in ("first", "second"):
        what = f"the {name} shuffled epoch of MNISTDataset(10 drawn images, [RandomCrop(4), RandomFlipHorizontal(0.5)])"
        for k, (x, y) in enumerate(epoch_batches(loader, what)):
            check(y, what=f"batch {k} y of {what}", hint=SHUFFLE_HINT)
            check(rows(x), what=f"batch {k} x of {what}",
                  hint="a batch looks the dataset up with an index array; the transforms see the selected images "
                  "as one 28 x 28 x k (H x W x C) array: one crop draw and one flip draw per lookup, the same for "
                  "every image of the batch")
