"""Data sets made on the spot, offline: scikit-learn's digits and procedural shapes."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from cnnviz.data.base import (
    Loaded,
    resize_images,
)
from cnnviz.errors import InputError

SHAPES = ("circle", "square", "triangle", "cross", "stripes", "ring")
"""Classes of the ``shapes`` data set, in label order."""
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as PIL's convert("L")
_NOISE = 8.0  # standard deviation of the background noise of ``shapes``, in pixel levels


def _digits(size: int, channels: int) -> Loaded:
    from sklearn.datasets import load_digits  # ships its data: no network

    bunch = load_digits()
    pixels = np.clip(bunch.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    x = resize_images(pixels, size, channels)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    source = "1,797 handwritten digits (8 x 8 scans, UCI), bundled with scikit-learn."
    return x, y, tuple(str(d) for d in range(10)), source


def _shapes(size: int, channels: int, count: int, seed: int) -> Loaded:
    """``count`` shapes, as many of each class, drawn in RGB then viewed like any picture.

    The shape's colour ``f`` is random; the background ``b`` is random too but at least 90
    levels of brightness (``0.299 R + 0.587 G + 0.114 B``) away, so the shape stays visible
    in grey. Each pixel is ``b + (f - b) * coverage + noise`` with Gaussian noise of sd 8.
    """
    if count < len(SHAPES):
        raise InputError(f"Ask for at least {len(SHAPES)} shapes, one of each kind.")
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPES)
    pixels = np.empty((count, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        coverage = _shape_mask(int(label), size, rng)[..., None]
        fg, bg = _colours(rng)
        noise = rng.normal(0.0, _NOISE, (size, size, 3))
        pixels[i] = np.clip(np.rint(bg + (fg - bg) * coverage + noise), 0, 255)
    x = resize_images(pixels, size, channels)
    source = f"{count:,} shapes drawn by cnnviz with seed {seed}."
    return x, torch.from_numpy(labels.astype(np.int64)), SHAPES, source


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random shape colour and a background at least 90 brightness levels away."""
    fg, bg = rng.uniform(0.0, 255.0, 3), rng.uniform(0.0, 255.0, 3)
    luma = float(fg @ _LUMA)
    if luma > 127.5:  # bright shape: scale the background down to at most luma - 90
        return fg, bg * ((luma - 90.0) / 255.0)
    return fg, 255.0 - bg * ((165.0 - luma) / 255.0)  # dark shape: background >= luma + 90


def _shape_mask(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage in [0, 1], float (size, size), of one shape drawn supersampled for soft edges."""
    scale = max(1, min(4, 256 // size))
    big = size * scale
    radius = rng.uniform(0.22, 0.4) * big
    centre = rng.uniform(radius, big - radius, 2)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    mask = Image.new("L", (big, big))
    draw = ImageDraw.Draw(mask)
    cos, sin = np.cos(angle), np.sin(angle)

    def polygon(points: list[tuple[float, float]]) -> None:
        local = np.asarray(points) * radius
        turned = local @ np.array([[cos, sin], [-sin, cos]]) + centre
        draw.polygon([tuple(p) for p in turned.tolist()], fill=255)

    box = [*(centre - radius).tolist(), *(centre + radius).tolist()]
    name = SHAPES[kind]
    if name == "circle":
        draw.ellipse(box, fill=255)
    elif name == "ring":
        draw.ellipse(box, outline=255, width=max(1, round(0.3 * radius)))
    elif name in ("square", "triangle"):
        corners = 4 if name == "square" else 3
        polygon([(np.cos(a), np.sin(a)) for a in np.arange(corners) * 2.0 * np.pi / corners])
    elif name == "cross":
        w, r = 0.28, 0.95
        polygon([(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w),
                 (-r, -w), (-r, w), (-w, w), (-w, r)])  # fmt: skip
    else:  # stripes: three parallel bars
        for x in (-0.5, 0.0, 0.5):
            polygon([(x - 0.14, -0.7), (x + 0.14, -0.7), (x + 0.14, 0.7), (x - 0.14, 0.7)])
    return np.asarray(mask.reduce(scale), dtype=np.float64) / 255.0
