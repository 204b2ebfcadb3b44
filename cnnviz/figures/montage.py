"""Maps as pictures: montages of channels, overlays on the image, thumbnails, encodings."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import plotly.colors
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps
from torch import nn

from cnnviz.figures.labels import fit_lines
from cnnviz.probe import Layer
from cnnviz.steps import first_conv_weight

Scale = Literal["shared", "channel"]
COLORMAPS = ("viridis", "magma", "gray", "RdBu")
"""Colormaps offered on the pages; ``RdBu`` is diverging (blue low, red high)."""
MIN_CELL = 72  # smallest side in pixels of one map in a montage: readable on a projector
MAX_CELL = 160
MAX_MAP = 112  # larger maps are averaged down in blocks: a grid stays light for the browser
GAP = 3
LABEL_H = 16
BACKGROUND = (255, 255, 255)


@functools.cache
def _lut(colormap: str) -> np.ndarray:
    """(256, 3) uint8 lookup table sampled from a plotly colorscale."""
    if colormap == "gray":
        ramp = np.arange(256, dtype=np.uint8)
        return np.stack([ramp, ramp, ramp], axis=1)
    scale = "RdBu_r" if colormap == "RdBu" else colormap.capitalize()
    colors = plotly.colors.sample_colorscale(scale, list(np.linspace(0.0, 1.0, 256)))
    rgb = [tuple(int(v) for v in c[4:-1].split(",")) for c in colors]
    return np.asarray(rgb, dtype=np.uint8)


def to_uint8(maps: np.ndarray, scale: Scale = "shared") -> np.ndarray:
    """Map values to 0..255, over all maps at once or each map on its own.

    ``v -> 255 * (v - lo) / (hi - lo)``, where ``lo, hi`` are the min and max over all maps
    (``"shared"``: brightness compares across channels) or over each map (``"channel"``: every
    map uses its full range, hiding that some are nearly off). A constant map becomes 0.

    Args:
        maps: Array (C, H, W) or (H, W).
        scale: ``"shared"`` or ``"channel"``.

    Returns:
        uint8 array of the same shape.
    """
    x = np.asarray(maps, dtype=np.float32)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[None]
    axes = (1, 2) if scale == "channel" else (0, 1, 2)
    lo = x.min(axis=axes, keepdims=True)
    span = x.max(axis=axes, keepdims=True) - lo
    span[span == 0] = np.inf
    out = ((x - lo) * (255.0 / span)).astype(np.uint8)
    return out[0] if squeeze else out


def channel_order(layer: Layer, by: Literal["index", "mean"] = "index") -> list[int]:
    """Channel indices in display order: by number, or by mean activation (strongest first)."""
    count = layer.shape[0]
    if by == "mean":
        means = layer.output.reshape(count, -1).mean(axis=1)
        return [int(i) for i in np.argsort(-means, kind="stable")]
    return list(range(count))


@functools.cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True, slots=True)
class Grid:
    """A montage of maps and what it shows.

    Attributes:
        image: The montage, RGB.
        channels: Channel index of each cell, row by row.
        columns: Cells per row.
        cell: Side of one cell in pixels (small maps are enlarged with nearest neighbour).
        value_range: (min, max) that the darkest and brightest colours stand for when the
            scale is shared, else ``None``.
        shrink: Maps larger than 112 pixels are shown averaged over ``shrink x shrink``
            blocks (1: shown as they are).
    """

    image: Image.Image
    channels: tuple[int, ...]
    columns: int
    cell: int
    value_range: tuple[float, float] | None
    shrink: int = 1

    @property
    def scale_note(self) -> str:
        """Says how colours map to values, for the caption under the montage."""
        if self.value_range is None:
            return "each channel on its own colour scale (darkest = its own min)"
        lo, hi = self.value_range
        note = f"one shared colour scale: darkest = {lo:.3g}, brightest = {hi:.3g}"
        if self.shrink > 1:
            note += f"; shown averaged over {self.shrink} x {self.shrink} blocks"
        return note


def feature_grid(
    maps: np.ndarray,
    channels: Sequence[int] | None = None,
    colormap: str = "viridis",
    scale: Scale = "shared",
    columns: int | None = None,
) -> Grid:
    """Lay feature maps side by side, each labelled with its channel number.

    Args:
        maps: Array (C, H, W), e.g. ``layer.output``.
        channels: Which channels, in order (default all).
        colormap: One of :data:`COLORMAPS`.
        scale: ``"shared"`` (one range for all maps) or ``"channel"`` (each map its own).
        columns: Cells per row (default about square, at most 16).

    Returns:
        The :class:`Grid`.
    """
    picked = list(range(maps.shape[0])) if channels is None else [int(c) for c in channels]
    shown = np.asarray(maps)[picked]
    shrink = math.ceil(max(shown.shape[1:]) / MAX_MAP)
    if shrink > 1:
        n, h, w = shown.shape
        h, w = h // shrink * shrink, w // shrink * shrink
        blocks = shown[:, :h, :w].reshape(n, h // shrink, shrink, w // shrink, shrink)
        shown = blocks.mean(axis=(2, 4))
    scaled = _lut(colormap)[to_uint8(shown, scale)]  # (N, H, W, 3)
    n, h, w = shown.shape
    cols = columns or min(16, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    factor = max(1, math.ceil(MIN_CELL / max(h, w)))
    while factor > 1 and max(h, w) * factor > MAX_CELL:
        factor -= 1
    ch, cw = h * factor, w * factor
    scaled = scaled.repeat(factor, axis=1).repeat(factor, axis=2)
    canvas = np.full(
        (rows * (ch + LABEL_H + GAP) + GAP, cols * (cw + GAP) + GAP, 3), 255, dtype=np.uint8
    )
    for k in range(n):
        top = GAP + (k // cols) * (ch + LABEL_H + GAP) + LABEL_H
        left = GAP + (k % cols) * (cw + GAP)
        canvas[top : top + ch, left : left + cw] = scaled[k]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    font = _font(12)
    for k, channel in enumerate(picked):
        top = GAP + (k // cols) * (ch + LABEL_H + GAP)
        left = GAP + (k % cols) * (cw + GAP)
        draw.text((left + 1, top + 1), f"#{channel}", fill=(40, 40, 40), font=font)
    value_range = (float(shown.min()), float(shown.max())) if scale == "shared" else None
    return Grid(image, tuple(picked), cols, max(ch, cw), value_range, shrink)


def overlay(
    image: Image.Image, heat: np.ndarray, colormap: str = "magma", opacity: float = 0.55
) -> Image.Image:
    """Lay a map over the image it came from, stretched to the image's size.

    Args:
        image: The image the network saw (``Probe.image``).
        heat: One map (H, W); scaled to its own min..max.
        colormap: One of :data:`COLORMAPS`.
        opacity: 0 shows only the image, 1 only the map.

    Returns:
        An RGB image of the same size as ``image``.
    """
    stretched = Image.fromarray(np.asarray(heat, dtype=np.float32), mode="F").resize(
        image.size, Image.Resampling.BILINEAR
    )
    colored = _lut(colormap)[to_uint8(np.asarray(stretched))].astype(np.float32)
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    blend = (1.0 - opacity) * base + opacity * colored
    return Image.fromarray(blend.clip(0, 255).astype(np.uint8))


def to_png(image: Image.Image) -> bytes:
    """PNG bytes of an image, for download buttons."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail(image: Image.Image, side: int = 160) -> Image.Image:
    """A square thumbnail: the image center-cropped and scaled to ``side`` pixels, in RGB."""
    return ImageOps.fit(image.convert("RGB"), (side, side), Image.Resampling.BICUBIC)


def to_jpeg(image: Image.Image, quality: int = 80) -> bytes:
    """JPEG bytes for the screen: ~15x faster to encode than PNG for a 1-megapixel grid and a
    quarter of the bytes; full chroma resolution keeps the channel labels crisp. Quality 80:
    a third fewer bytes than 90 (ResNet-18's 64-map grid: 223 kB, not 338), for thirty
    students on one school network, with no difference to see in smooth colormaps."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def first_conv_weights(weights: nn.Module | Mapping[str, torch.Tensor]) -> np.ndarray:
    """The first convolution's kernels, averaged over input channels: float32 (C_out, kH, kW).

    Args:
        weights: A module or a state dict; its first convolution is the one
            :func:`cnnviz.steps.first_conv_name` finds (the same everywhere in cnnviz).

    Raises:
        InputError: No convolution weights in it (a ``ValueError``).
    """
    _, kernel = first_conv_weight(weights)
    return kernel.detach().float().cpu().mean(dim=1).numpy()


def filters_grid(weights: nn.Module | Mapping[str, torch.Tensor], colormap: str = "RdBu") -> Grid:
    """The first convolution layer's filters as a montage (see :func:`first_conv_weights`).

    For RGB inputs the three input channels are averaged: a filter that reacts to an edge in
    any colour shows the edge. Blue is negative, red positive (with ``"RdBu"``).
    """
    return feature_grid(first_conv_weights(weights), colormap=colormap, scale="shared")


def image_grid(
    images: np.ndarray, captions: Sequence[str], columns: int = 8, cell: int = 64
) -> Image.Image:
    """Images side by side, each enlarged to ``cell`` pixels with its caption above it.

    Args:
        images: uint8 (K, C, H, W) with C = 1 or 3 (e.g. ``Dataset.preview()``).
        captions: One short text per image (its class).
        columns: Images per row.
        cell: Side of each image in pixels (nearest-neighbour enlargement keeps pixels sharp).

    Returns:
        An RGB montage.
    """
    count = len(images)
    rows = max(1, math.ceil(count / columns))
    canvas = Image.new("RGB", (columns * (cell + GAP) + GAP, rows * (cell + LABEL_H + GAP) + GAP))
    canvas.paste(BACKGROUND, (0, 0, canvas.width, canvas.height))
    draw = ImageDraw.Draw(canvas)
    font = _font(12)
    for k, (pixels, caption) in enumerate(zip(images, captions, strict=True)):
        array = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
        tile = Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
        top = GAP + (k // columns) * (cell + LABEL_H + GAP)
        left = GAP + (k % columns) * (cell + GAP)
        canvas.paste(tile.resize((cell, cell), Image.Resampling.NEAREST), (left, top + LABEL_H))
        label = fit_lines(caption, font, cell - 2, lines=1)[0]
        draw.text((left + 1, top + 1), label, fill=(40, 40, 40), font=font)
    return canvas
