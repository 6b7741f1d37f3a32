"""Datasets and the DataLoader that batches them."""
from typing import Iterable, Iterator, List, Optional, Sized, Union

import numpy as np

from ..autograd import Tensor


class Dataset:
    """An abstract class representing a `Dataset`.

    All subclasses should overwrite :meth:`__getitem__`, supporting fetching a
    data sample for a given key (an int, a slice or an array of indices).
    Subclasses must also overwrite :meth:`__len__`, which is expected to
    return the size of the dataset.
    """

    def __init__(self, transforms: Optional[List] = None):
        self.transforms = transforms

    def __getitem__(self, index) -> object:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def apply_transforms(self, x):
        """Apply the transforms in list order."""
        if self.transforms is not None:
            for tform in self.transforms:
                x = tform(x)
        return x


class DataLoader:
    r"""Iterates over a dataset in batches: tuples of Tensors, one per array
    the dataset returns, with ``batch_size`` rows (the last batch may be
    smaller).

    Args:
        dataset (Dataset): dataset from which to load the data.
        batch_size (int, optional): how many samples per batch to load
            (default: ``1``).
        shuffle (bool, optional): set to ``True`` to have the data reshuffled
            at every epoch: each ``iter()`` draws one
            ``np.random.permutation(len(dataset))`` (default: ``False``).
    """

    dataset: Dataset
    batch_size: Optional[int]

    def __init__(self, dataset: Dataset, batch_size: Optional[int] = 1, shuffle: bool = False):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader batch_size must be a positive int; got {batch_size!r}")
        self.dataset = dataset
        self.shuffle = shuffle
        self.batch_size = batch_size
        if not self.shuffle:
            self.ordering = self._split(np.arange(len(dataset)))

    def _split(self, indices):
        return np.array_split(indices, range(self.batch_size, len(indices), self.batch_size))

    def __iter__(self):
        # TODO (question data): DataLoader.__iter__
        raise NotImplementedError("TODO (question data): DataLoader.__iter__")
        return self

    def __next__(self):
        # TODO (question data): DataLoader.__next__
        raise NotImplementedError("TODO (question data): DataLoader.__next__")

    def __len__(self):
        """The number of batches in one pass."""
        return -(-len(self.dataset) // self.batch_size)
