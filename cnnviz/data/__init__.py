"""Data sets to train on, as in-memory uint8 images at the model's size, split and seeded.

Every data set comes back as a :class:`Dataset`: images of shape (N, C, H, W) as uint8 pixels
(0..255), exactly what :meth:`cnnviz.Model.view` would make of a picture, so a network trained
here reads uploaded images the same way. Normalization belongs to the model, not the data.

``digits`` and ``shapes`` work offline; ``mnist``, ``fashion_mnist`` and ``cifar10`` are read by
torchvision from a data folder and downloaded into it once, only when missing and only when the
download server answers; ``folder`` and :func:`dataset_from_zip` read the student's own images.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from cnnviz.data.base import (
    Dataset,
    ProgressCallback,
    check_shape,
    default_root,
    pick_subset,
    resize_images,
    split_dataset,
)
from cnnviz.data.folders import _folder, dataset_from_zip
from cnnviz.data.remote import _TORCHVISION, _torchvision
from cnnviz.data.synthetic import SHAPES, _digits, _shapes
from cnnviz.errors import InputError

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "SHAPES",
    "Dataset",
    "ProgressCallback",
    "dataset_from_zip",
    "default_root",
    "load_dataset",
]

DATASETS = ("digits", "shapes", "mnist", "fashion_mnist", "cifar10", "folder")
"""Names :func:`load_dataset` knows."""
DATASET_INFO: dict[str, str] = {
    "digits": "1,797 handwritten digits scanned at 8 x 8 (UCI, bundled with scikit-learn); "
    "10 classes, 0 to 9; works offline.",
    "shapes": "Circles, squares, triangles, crosses, stripes and rings drawn on the spot at random "
    "places, sizes, angles and colours on a noisy background; 6 classes, 1,200 images; offline.",
    "mnist": "MNIST: 60,000 handwritten digits, 28 x 28 grey; 10 classes, 0 to 9; "
    "downloaded once (about 10 MB).",
    "fashion_mnist": "Fashion-MNIST: 60,000 photos of clothes, 28 x 28 grey; 10 classes "
    "(T-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot); "
    "downloaded once (about 30 MB).",
    "cifar10": "CIFAR-10: 50,000 small colour photos, 32 x 32; 10 classes (airplane, car, bird, "
    "cat, deer, dog, frog, horse, ship, truck); downloaded once (about 170 MB).",
    "folder": "Your own images: one subfolder of images per class (at least two classes), "
    "from a folder on this computer or an uploaded zip.",
}
"""One line per data set for the page: what it is, how big, which classes."""


def load_dataset(
    name: str,
    *,
    size: int = 32,
    channels: int = 1,
    val_fraction: float = 0.2,
    seed: int = 0,
    count: int = 1200,
    limit: int | None = None,
    root: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Load a data set at a model's input size and channels, split and seeded.

    Every image goes through the same steps as :meth:`cnnviz.Model.view`: convert to ``"L"``
    (``0.299 R + 0.587 G + 0.114 B``) or ``"RGB"``, then a bilinear resize to ``size``. The
    torchvision data sets use their training split only; it is shuffled with ``seed``, cut to
    ``limit`` images, and then split into training and validation parts.

    Args:
        name: One of :data:`DATASETS` (see :data:`DATASET_INFO`).
        size: Side of the square images in pixels, 1..1024.
        channels: 1 (grayscale) or 3 (RGB).
        val_fraction: Share of the images kept for validation, in (0, 1).
        seed: Seed of the shuffle before the split, of ``limit``'s subset and of ``shapes``.
        count: How many images ``shapes`` draws (as many of each of its 6 classes).
        limit: Keep at most this many images, a random subset (keeps a classroom run small).
        root: Folder of the torchvision data sets; default :func:`default_root`.
        folder: For ``"folder"``: a local folder with one subfolder of images per class.
        progress: Called as ``progress(bytes_done, bytes_total_or_None)`` while downloading.

    Returns:
        The :class:`Dataset`.

    Raises:
        InputError: Unknown name, bad sizes, or data that cannot be had (offline and not yet
            downloaded, a folder with fewer than two classes, ...).
    """
    check_shape(size, channels)
    if name == "digits":
        x, y, classes, source = _digits(size, channels)
    elif name == "shapes":
        x, y, classes, source = _shapes(size, channels, count, seed)
    elif name == "folder":
        x, y, classes, source = _folder(folder, size, channels)
    elif name in _TORCHVISION:
        where = Path(root).expanduser() if root is not None else default_root()
        pixels, labels, classes, source = _torchvision(name, where, progress)
        index = pick_subset(len(pixels), limit, seed)
        x, y = resize_images(pixels[index], size, channels), torch.from_numpy(labels[index])
        source = f"{len(index):,} of {source}"
    else:
        raise InputError(
            f"There is no data set called '{name}'. Choose one of: {', '.join(DATASETS)}."
        )
    if name not in _TORCHVISION and limit is not None:
        index = torch.from_numpy(pick_subset(len(x), limit, seed))
        x, y = x[index], y[index]
    train_x, train_y, val_x, val_y = split_dataset(x, y, val_fraction, seed)
    return Dataset(name, classes, train_x, train_y, val_x, val_y, source)
