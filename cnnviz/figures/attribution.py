"""Attribution maps as pictures: overlays, the signed raw map, labelled rows, similarity chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from cnnviz.explain import Explanation, SanityCheck, UnitField
from cnnviz.figures.labels import fit_lines
from cnnviz.figures.montage import GAP, _font, _lut, overlay

__all__ = [
    "field_picture",
    "heatmap_image",
    "map_overlay",
    "map_row",
    "signed_image",
    "similarity_figure",
]

CAPTION_H = 34  # two lines of caption under each picture of a row
MIN_SIDE = 224  # small inputs (32 px digits) are enlarged to this side for the screen


def _screen_size(size: tuple[int, int]) -> tuple[int, int]:
    factor = max(1, -(-MIN_SIDE // max(size)))
    return size[0] * factor, size[1] * factor


def map_overlay(
    image: Image.Image, explanation: Explanation, colormap: str = "magma", opacity: float = 0.5
) -> Image.Image:
    """The heatmap over the image the network saw, enlarged for the screen if small.

    Args:
        image: The network's view of the image (``Probe.image`` / ``Model.view``).
        explanation: The map; its heatmap has the image's size.
        colormap: One of ``cnnviz.figures.COLORMAPS``.
        opacity: 0 shows only the image, 1 only the map.

    Returns:
        An RGB image; a flat (all-zero) map leaves the image as it is.
    """
    size = _screen_size(image.size)
    base = image.convert("RGB").resize(size, Image.Resampling.NEAREST)
    if explanation.flat:
        return base
    # montage.overlay rescales to the map's own range; the heatmap already spans 0..1.
    return overlay(base, explanation.heatmap, colormap, opacity)


def heatmap_image(explanation: Explanation, colormap: str = "magma") -> Image.Image:
    """The heatmap alone (0 -> darkest colour, 1 -> brightest), enlarged if small."""
    values = np.clip(explanation.heatmap * 255.0, 0, 255).astype(np.uint8)
    picture = Image.fromarray(_lut(colormap)[values])
    return picture.resize(_screen_size(picture.size), Image.Resampling.NEAREST)


def signed_image(explanation: Explanation) -> Image.Image:
    """The signed raw map in blue (negative) and red (positive), on a scale symmetric about 0.

    Pixel methods show the sum over colour channels; Grad-CAM the weighted sum before its
    ReLU, at the layer's resolution, enlarged with nearest neighbour so its cells stay visible.
    """
    raw = explanation.raw.sum(axis=0) if explanation.raw.ndim == 3 else explanation.raw
    top = float(np.percentile(np.abs(raw), 99.5)) or float(np.abs(raw).max()) or 1.0
    values = np.clip((raw / top + 1.0) * 127.5, 0, 255).astype(np.uint8)
    picture = Image.fromarray(_lut("RdBu")[values])
    side = explanation.heatmap.shape[::-1]
    return picture.resize(_screen_size(side), Image.Resampling.NEAREST)


def map_row(
    pictures: Sequence[Image.Image], captions: Sequence[str], side: int = 180
) -> Image.Image:
    """Pictures side by side, each scaled to ``side`` pixels with up to two caption lines below.

    Args:
        pictures: RGB images (overlays).
        captions: One caption each; a ``"\\n"`` splits it into two lines.
        side: Side of each picture in pixels.

    Returns:
        One RGB image (for the page and for download).
    """
    count = max(1, len(pictures))
    canvas = Image.new(
        "RGB", (count * (side + GAP) + GAP, side + CAPTION_H + 2 * GAP), (255, 255, 255)
    )
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    for k, (picture, caption) in enumerate(zip(pictures, captions, strict=True)):
        left = GAP + k * (side + GAP)
        canvas.paste(
            picture.convert("RGB").resize((side, side), Image.Resampling.BILINEAR), (left, GAP)
        )
        for line, text in enumerate(fit_lines(caption, font, side - 4)):
            draw.text((left + 2, GAP + side + 2 + 15 * line), text, fill=(30, 30, 30), font=font)
    return canvas


def similarity_figure(check: SanityCheck) -> go.Figure:
    """Spearman rank correlation and SSIM with the original map after each randomization step."""
    steps = ["original", *(f"+ {s.randomized}" for s in check.steps)]
    fig = go.Figure()
    for name, values in (
        ("rank correlation (Spearman)", [1.0, *(s.spearman for s in check.steps)]),
        ("SSIM", [1.0, *(s.ssim for s in check.steps)]),
    ):
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name=name))
    fig.update_yaxes(range=[-1.05, 1.05], title="similarity to the original map")
    fig.update_xaxes(title="layers randomized, from the output down")
    fig.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.15},
    )  # fmt: skip
    return fig


def field_picture(
    image: Image.Image, field: UnitField, colormap: str = "magma", opacity: float = 0.6
) -> Image.Image:
    """A unit's receptive field on the image: the effective field as a glow over it (the
    stronger a pixel moves the unit, the brighter), the theoretical box as a rectangle,
    enlarged for the screen if small.

    Args:
        image: The network's view of the image (``Probe.image``), the size of the gradient.
        field: From :func:`cnnviz.explain.unit_field`.
        colormap: One of ``cnnviz.figures.COLORMAPS``.
        opacity: 0 shows only the image, 1 only the effective field.
    """
    size = _screen_size(image.size)
    base = np.asarray(image.convert("RGB").resize(size, Image.Resampling.NEAREST), np.float32)
    grad = np.asarray(
        Image.fromarray(field.gradient.astype(np.float32)).resize(size, Image.Resampling.NEAREST)
    )
    # A glow, not a tint: pixels that do not move the unit keep the image as it is.
    alpha = (opacity * np.sqrt(np.clip(grad, 0.0, 1.0)))[..., None]
    colour = _lut(colormap)[np.clip(grad * 255, 0, 255).astype(np.uint8)].astype(np.float32)
    picture = Image.fromarray((base * (1 - alpha) + colour * alpha).astype(np.uint8))
    scale = size[0] / image.size[0]
    top, left, bottom, right = field.box
    width = max(2, round(size[0] / 110))
    ImageDraw.Draw(picture).rectangle(
        (left * scale, top * scale, right * scale - 1, bottom * scale - 1),
        outline=(0, 200, 255), width=width,
    )  # fmt: skip
    return picture
