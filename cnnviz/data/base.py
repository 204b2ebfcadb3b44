"""The :class:`Dataset` every loader returns, and the steps they share (resize, split)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from cnnviz.errors import InputError

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while a file downloads."""


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
        """A few validation images per class, class by class: uint8 (K, C, H, W), labels (K,)."""
        picks: list[int] = []
        labels = self.val_y.numpy()
        for k in range(len(self.classes)):
            picks.extend(np.flatnonzero(labels == k)[:per_class].tolist())
        index = np.asarray(picks, dtype=np.int64)  # grouped by class, in class order
        return self.val_x.numpy()[index], labels[index]


Loaded = tuple[Any, Any, tuple[str, ...], str]  # images, labels, classes, source


def default_root() -> Path:
    """The folder torchvision data sets live in: ``$CNNVIZ_DATA`` or ``~/.cache/cnnviz/data``."""
    return Path(os.environ.get("CNNVIZ_DATA") or "~/.cache/cnnviz/data").expanduser()


def view_pixels(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """One image -> uint8 (size, size, C), as :meth:`cnnviz.Model.view` (mode, then bilinear)."""
    resized = image.convert("L" if channels == 1 else "RGB").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(resized).reshape(size, size, channels)


def resize_images(pixels: np.ndarray, size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> uint8 (N, C, size, size), bilinear, as Model.view."""
    out = np.empty((len(pixels), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(pixels):
        out[i] = view_pixels(Image.fromarray(image), size, channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def split_dataset(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle with ``seed`` and cut off ``val_fraction`` for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise InputError("The validation fraction must be between 0 and 1.")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(len(x) * val_fraction))
    val, train = order[:cut], order[cut:]
    return x[train], y[train], x[val], y[val]


def pick_subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` items: a seeded random subset, or all in order."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 2:
        raise InputError("The image limit must be at least 2, so there is something to validate.")
    return np.random.default_rng(seed).permutation(n)[:limit]


def check_shape(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise InputError("Images must have 1 channel (grey) or 3 (colour).")
    if not 1 <= size <= 1024:
        raise InputError("The image size must be between 1 and 1024 pixels.")
