"""Regenerate the bundled shape samples ``cnnviz/assets/samples/shape_<name>.png``.

Provenance: drawn by cnnviz's own procedural generator, the one behind the ``shapes`` data set
(``cnnviz.data.load_dataset("shapes", ...)``): one shape of a random colour at a random place,
size and angle on a background of another colour with Gaussian noise (sd 8 levels), 64 x 64 RGB.
The seed (``SEED``) differs from the training run's (0), so these images are not among the
bundled TinyVGG's training or validation images. For each class we keep the first image of the
drawn set, whatever it looks like. No third-party data: the images are CC0.

Run from the repository root::

    .venv/bin/python scripts/make_shape_samples.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz.data import SHAPES, load_dataset

OUT_DIR = Path(__file__).resolve().parent.parent / "cnnviz" / "assets" / "samples"
SIZE = 64
SEED = 2026

logger = logging.getLogger(__name__)


def first_of_each_class(pixels: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Return the first image of every class, in class order.

    Args:
        pixels: (N, 3, H, W) uint8 images.
        labels: (N,) class indices into :data:`cnnviz.data.SHAPES`.

    Returns:
        One (H, W, 3) uint8 array per class.
    """
    firsts = [int(np.flatnonzero(labels == k)[0]) for k in range(len(SHAPES))]
    return [np.ascontiguousarray(pixels[i].transpose(1, 2, 0)) for i in firsts]


def main() -> None:
    """Write ``shape_circle.png`` .. ``shape_ring.png`` into the package's sample folder."""
    logging.basicConfig(level=logging.INFO)
    data = load_dataset("shapes", size=SIZE, channels=3, seed=SEED, count=60, val_fraction=0.5)
    pixels = np.concatenate([data.train_x.numpy(), data.val_x.numpy()])
    labels = np.concatenate([data.train_y.numpy(), data.val_y.numpy()])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, image in zip(SHAPES, first_of_each_class(pixels, labels), strict=True):
        path = OUT_DIR / f"shape_{name}.png"
        Image.fromarray(image, mode="RGB").save(path, optimize=True)
        logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
