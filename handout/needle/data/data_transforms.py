"""Random augmentations of H x W x C images."""
import numpy as np


class Transform:
    def __call__(self, x):
        raise NotImplementedError


class RandomFlipHorizontal(Transform):
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        """Horizonally flip an image, specified as an H x W x C NDArray,
        with probability p: one ``np.random.rand()`` draw, made first.
        Note: use the provided code to provide randomness, for easier testing.
        """
        flip_img = np.random.rand() < self.p
        # TODO (question data): RandomFlipHorizontal.__call__
        raise NotImplementedError("TODO (question data): RandomFlipHorizontal.__call__")


class RandomCrop(Transform):
    def __init__(self, padding=3):
        self.padding = padding

    def __call__(self, img):
        """Zero pad H and W by ``padding``, then crop back to H x W at a
        random shift: rows start at padding + shift_x, columns at
        padding + shift_y, with (shift_x, shift_y) one draw of
        ``np.random.randint(-padding, padding + 1, size=2)``.
        Note: use the provided code to provide randomness, for easier testing.
        """
        shift_x, shift_y = np.random.randint(low=-self.padding, high=self.padding + 1, size=2)
        # TODO (question data): RandomCrop.__call__
        raise NotImplementedError("TODO (question data): RandomCrop.__call__")
