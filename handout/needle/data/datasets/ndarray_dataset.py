from ..data_basic import Dataset


class NDArrayDataset(Dataset):
    """Rows of equally long arrays: item i is the tuple of each array's row i."""

    def __init__(self, *arrays):
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise ValueError(f"NDArrayDataset arrays must have equal lengths; got {sorted(lengths)}")
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, i) -> object:
        return tuple([a[i] for a in self.arrays])
