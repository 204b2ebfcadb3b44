"""Measure how often :func:`cnnviz.domain_check`'s rules accept each kind of image.

The calibration sets, all offline:

* ``digits``: scikit-learn's 1,797 handwritten digits (8 x 8, ink 0..16 scaled to 0..255),
  resized to 32 x 32 as the digit nets see them.
* ``drawings``: 200 seeded random sketches (1-4 white polylines, half with a circle, brush 18)
  on a black 224 x 224 canvas, framed by :func:`cnnviz.images.drawing_to_image` as the sidebar's
  drawing canvas does.
* ``shapes``: 1,200 images of the ``shapes`` data set at 64 x 64 RGB (seed 0).
* ``photos``: 19 scikit-image photos and 10 seeded random square crops of each (30% to 90% of the
  shorter side): 209 images.
* ``faces``: the 100 grey face photos of scikit-image's ``lfw_subset`` (25 x 25, Labeled Faces in
  the Wild), many on a dark background: the hardest photos to tell from a digit.

For each set it logs the share that is digit-like, shape-like, and the statistics' ranges, so the
thresholds in ``cnnviz/domain.py`` can be checked against the data. Run from the repository
root::

    .venv/bin/python scripts/calibrate_domain.py
"""

from __future__ import annotations

import logging
import time
from dataclasses import fields

import numpy as np
from PIL import Image, ImageDraw

from cnnviz.data import load_dataset
from cnnviz.domain import DIGIT_LIKE, SHAPE_LIKE, ImageStats, image_stats
from cnnviz.images import drawing_to_image

PHOTOS = (
    "astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins",
    "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon",
    "page", "retina", "rocket", "text",
)  # fmt: skip

logger = logging.getLogger(__name__)


def digit_images() -> list[Image.Image]:
    """The 1,797 scikit-learn digits at 32 x 32, grey, white ink on black."""
    from sklearn.datasets import load_digits

    pixels = np.clip(load_digits().images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    return [Image.fromarray(p, "L").resize((32, 32), Image.Resampling.BILINEAR) for p in pixels]


def drawing_images(count: int = 200, seed: int = 0) -> list[Image.Image]:
    """Random white sketches on a black canvas, framed like the sidebar's drawings."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        canvas = Image.new("RGBA", (224, 224), (0, 0, 0, 255))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 5))):
            points = rng.uniform(30, 194, (int(rng.integers(2, 6)), 2))
            draw.line([tuple(p) for p in points.tolist()], fill="white", width=18, joint="curve")
        if rng.random() < 0.5:
            x, y, r = *rng.uniform(70, 150, 2), rng.uniform(20, 60)
            draw.ellipse([x - r, y - r, x + r, y + r], outline="white", width=18)
        images.append(drawing_to_image(np.asarray(canvas)))
    return images


def shape_images() -> list[Image.Image]:
    """The 1,200 images of the ``shapes`` data set, 64 x 64 RGB."""
    data = load_dataset("shapes", size=64, channels=3, seed=0)
    pixels = np.concatenate([data.train_x.numpy(), data.val_x.numpy()]).transpose(0, 2, 3, 1)
    return [Image.fromarray(np.ascontiguousarray(p)) for p in pixels]


def photo_images(crops: int = 10, seed: int = 0) -> list[Image.Image]:
    """The scikit-image photos and random square crops of each."""
    from skimage import data as skimage_data

    rng = np.random.default_rng(seed)
    images = []
    for name in PHOTOS:
        pixels = np.asarray(getattr(skimage_data, name)())
        if pixels.dtype != np.uint8:
            pixels = (pixels / pixels.max() * 255.0).astype(np.uint8)
        photo = Image.fromarray(pixels)
        images.append(photo)
        width, height = photo.size
        for _ in range(crops):
            side = rng.uniform(0.3, 0.9) * min(width, height)
            left, top = rng.uniform(0, width - side), rng.uniform(0, height - side)
            images.append(
                photo.crop((round(left), round(top), round(left + side), round(top + side)))
            )
    return images


def face_images() -> list[Image.Image]:
    """The 100 faces of ``skimage.data.lfw_subset()`` (its other 100 images are not faces)."""
    from skimage import data as skimage_data

    faces = skimage_data.lfw_subset()[:100]
    return [Image.fromarray(np.rint(face * 255.0).astype(np.uint8), "L") for face in faces]


def passes(rule: tuple, stats: ImageStats) -> bool:
    """Whether every range of a rule accepts the statistics."""
    return all(r.accepts(stats) for r in rule)


def report(name: str, images: list[Image.Image]) -> None:
    """Log the share of digit-like and shape-like images and each statistic's range."""
    start = time.perf_counter()
    measured = [image_stats(image) for image in images]
    per_image_ms = (time.perf_counter() - start) / len(images) * 1000
    digit_like = np.mean([passes(DIGIT_LIKE, s) for s in measured])
    shape_like = np.mean([passes(SHAPE_LIKE, s) for s in measured])
    logger.info(
        "%s: %d images, %.1f%% digit-like, %.1f%% shape-like (%.2f ms per image)",
        name, len(images), 100 * digit_like, 100 * shape_like, per_image_ms,
    )  # fmt: skip
    for field in fields(ImageStats):
        values = np.array([getattr(s, field.name) for s in measured])
        finite = values[np.isfinite(values)]
        low, p5, median, p95, high = np.percentile(finite, [0, 5, 50, 95, 100])
        logger.info(
            "  %-16s min %7.2f  p5 %7.2f  median %7.2f  p95 %7.2f  max %7.2f  (%d without)",
            field.name, low, p5, median, p95, high, len(values) - len(finite),
        )  # fmt: skip


def main() -> None:
    """Log the acceptance of every calibration set."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report("digits", digit_images())
    report("drawings", drawing_images())
    report("shapes", shape_images())
    report("photos", photo_images())
    report("faces", face_images())


if __name__ == "__main__":
    main()
