"""Regenerate the bundled digit samples ``cnnviz/assets/samples/digit_<d>.png``.

Provenance: the UCI optical recognition of handwritten digits data set, as shipped with
scikit-learn (``sklearn.datasets.load_digits``, 8x8 images with ink counts 0..16). For each digit
we take the example closest to its class mean (a typical, clean-looking one), scale 0..16 to
0..255 and upscale 8x8 -> 32x32 with bicubic resampling. The result is white ink on black, like
MNIST. scikit-learn is needed only to run this script; the PNG files are committed.

Run from the repository root::

    .venv/bin/python scripts/make_digit_samples.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT_DIR = Path(__file__).resolve().parent.parent / "cnnviz" / "assets" / "samples"
SIZE = 32

logger = logging.getLogger(__name__)


def typical_example(images: np.ndarray) -> np.ndarray:
    """Return the image of one class that is closest (L2) to the class mean.

    Args:
        images: (N, 8, 8) ink counts in [0, 16] for one digit.

    Returns:
        (8, 8) float array, one of ``images``.
    """
    mean = images.mean(axis=0)
    distances = ((images - mean) ** 2).sum(axis=(1, 2))
    return images[int(np.argmin(distances))]


def main() -> None:
    """Write ``digit_0.png`` .. ``digit_9.png`` into the package's sample folder."""
    logging.basicConfig(level=logging.INFO)
    digits = load_digits()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for digit in range(10):
        example = typical_example(digits.images[digits.target == digit].astype(np.float64))
        small = np.clip(np.rint(example / 16.0 * 255.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(small, mode="L").resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        path = OUT_DIR / f"digit_{digit}.png"
        image.save(path, optimize=True)
        logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
