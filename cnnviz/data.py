"""Data sets to train on, as in-memory uint8 images at the model's size, split and seeded.

Every data set comes back as a :class:`Dataset`: images of shape (N, C, H, W) as uint8 pixels
(0..255), exactly what :meth:`cnnviz.Model.view` would make of a picture, so a network trained
here reads uploaded images the same way. Normalization belongs to the model, not the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from cnnviz.errors import InputError

__all__ = ["DATASETS", "Dataset", "load_dataset"]

DATASETS = ("digits", "shapes", "mnist", "fashion_mnist", "cifar10", "folder")
"""Names :func:`load_dataset` knows."""
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A labelled image set, split into training and validation parts.

    Attributes:
        name: Data set name (``"digits"``).
        classes: Class names; labels index into them.
        train_x: Training images, uint8 (N, C, H, W).
        train_y: Training labels, int64 (N,).
        val_x: Validation images, uint8 (M, C, H, W).
        val_y: Validation labels, int64 (M,).
        source: One sentence on where the images came from.
    """

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor = field(repr=False)
    train_y: torch.Tensor = field(repr=False)
    val_x: torch.Tensor = field(repr=False)
    val_y: torch.Tensor = field(repr=False)
    source: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def preview(self, per_class: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """A few validation images of each class: uint8 (K, C, H, W) and their labels (K,)."""
        picks: list[int] = []
        labels = self.val_y.numpy()
        for k in range(len(self.classes)):
            picks.extend(np.flatnonzero(labels == k)[:per_class].tolist())
        index = np.asarray(sorted(picks), dtype=np.int64)
        return self.val_x.numpy()[index], labels[index]


def _resize(pixels: np.ndarray, size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> uint8 (N, C, size, size), bilinear, as Model.view."""
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(pixels), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(pixels):
        resized = (
            Image.fromarray(image).convert(mode).resize((size, size), Image.Resampling.BILINEAR)
        )
        out[i] = np.asarray(resized).reshape(size, size, channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle with ``seed`` and cut off ``val_fraction`` for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise InputError("The validation fraction must be between 0 and 1.")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(len(x) * val_fraction))
    val, train = order[:cut], order[cut:]
    return x[train], y[train], x[val], y[val]


def _digits(size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], str]:
    from sklearn.datasets import load_digits  # ships its data: no network

    bunch = load_digits()
    pixels = np.clip(bunch.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    x = _resize(pixels, size, channels)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    source = "1,797 handwritten digits (8 x 8 scans, UCI), bundled with scikit-learn."
    return x, y, tuple(str(d) for d in range(10)), source


def load_dataset(
    name: str,
    *,
    size: int = 32,
    channels: int = 1,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a data set at a model's input size and channels, split and seeded.

    Args:
        name: One of :data:`DATASETS`.
        size: Side of the square images in pixels.
        channels: 1 (grayscale) or 3 (RGB).
        val_fraction: Share of the images kept for validation.
        seed: Seed of the shuffle before the split.

    Returns:
        The :class:`Dataset`.

    Raises:
        InputError: Unknown name, or data that cannot be had.
    """
    if name == "digits":
        x, y, classes, source = _digits(size, channels)
    else:
        raise InputError(f"There is no data set called '{name}'. Choose one of: digits.")
    train_x, train_y, val_x, val_y = _split(x, y, val_fraction, seed)
    return Dataset(name, classes, train_x, train_y, val_x, val_y, source)
