"""MNIST: reading its gzipped IDX files, and the Dataset over them."""
import gzip
import math
import struct
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..data_basic import Dataset

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049


def read_idx(filename, magic, item_shape):
    """The uint8 payload of a gzipped IDX file as (count, *item_shape),
    with errors that say what is wrong with the file."""
    path = Path(filename)
    kind = "image" if magic == IMAGE_MAGIC else "label"
    header_size = 4 * (2 + len(item_shape))
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"MNIST {kind} file not found: {path} (run `python mnist_fetch.py` to download it)"
        ) from None
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a complete gzip file ({error})") from None
    if len(raw) < header_size:
        raise ValueError(
            f"{path}: {len(raw)} bytes, too short for an IDX {kind} header ({header_size} bytes)"
        )
    found_magic, count, *dims = struct.unpack(f">{2 + len(item_shape)}i", raw[:header_size])
    if found_magic != magic:
        swapped = " (image and label files swapped?)" if found_magic in (IMAGE_MAGIC, LABEL_MAGIC) else ""
        raise ValueError(
            f"{path}: magic number {found_magic}, expected {magic} for an IDX {kind} file{swapped}"
        )
    if tuple(dims) != tuple(item_shape):
        raise ValueError(f"{path}: items of shape {tuple(dims)}, expected {tuple(item_shape)}")
    expected_size = header_size + count * math.prod(item_shape)
    if len(raw) != expected_size:
        raise ValueError(
            f"{path}: header says {count} {kind}s ({expected_size} bytes in all), but the "
            f"file holds {len(raw)} bytes (truncated or corrupt: fetch it again)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(count, *item_shape)


def read_mnist(image_filename, label_filename):
    """(images, labels) as uint8 arrays of shapes (N, 28, 28) and (N,), from
    a matching pair of MNIST files."""
    images = read_idx(image_filename, IMAGE_MAGIC, (28, 28))
    labels = read_idx(label_filename, LABEL_MAGIC, ())
    if len(images) != len(labels):
        raise ValueError(
            f"{image_filename} has {len(images)} images but {label_filename} has "
            f"{len(labels)} labels; use the matching pair of files"
        )
    return images, labels


class MNISTDataset(Dataset):
    """MNIST images as float32 rows of 784 values scaled to [0, 1] (min-max
    over the dataset), with uint8 labels.

    ``dataset[index]`` returns NumPy ``(x, y)``; ``index`` may be an int, a
    slice or an array of indices.  The transforms, if any, see the selected
    images as one 28 x 28 x k (H x W x C) array.
    """

    def __init__(self, image_filename: str, label_filename: str, transforms: Optional[List] = None):
        super().__init__(transforms)
        ### BEGIN SOLUTION
        images, self.y = read_mnist(image_filename, label_filename)
        X = images.reshape(len(images), 784).astype(np.float32)
        low, high = (X.min(), X.max()) if X.size else (0.0, 0.0)
        X -= low
        if high > low:
            X /= high - low
        self.X = X
        ### END SOLUTION

    def __getitem__(self, index) -> object:
        ### BEGIN SOLUTION
        X, y = self.X[index], self.y[index]
        if self.transforms:
            images = X.reshape(-1, 28, 28).transpose(1, 2, 0)
            X = self.apply_transforms(images).transpose(2, 0, 1).reshape(X.shape)
        return X, y
        ### END SOLUTION

    def __len__(self) -> int:
        ### BEGIN SOLUTION
        return len(self.y)
        ### END SOLUTION
