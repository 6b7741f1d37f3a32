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
        ### BEGIN SOLUTION
        return img[:, ::-1, :] if flip_img else img
        ### END SOLUTION


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
        ### BEGIN SOLUTION
        pad = self.padding
        height, width = img.shape[0], img.shape[1]
        padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)))
        return padded[pad + shift_x : pad + shift_x + height, pad + shift_y : pad + shift_y + width, :]
        ### END SOLUTION
