"""Pictures of what a network computed: map montages, overlays and plotly charts.

Everything here turns the plain results of :mod:`cnnviz.probe` and :mod:`cnnviz.steps` into
something to look at; nothing here computes the network. Montages are numpy/PIL (fast, one image
for the browser), charts are plotly figures.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps
from plotly.subplots import make_subplots
from torch import nn

from cnnviz.probe import Layer, Prediction, Probe

if TYPE_CHECKING:
    from cnnviz.training import EpochEvent, StepEvent

__all__ = [
    "COLORMAPS",
    "Grid",
    "channel_order",
    "confusion_figure",
    "feature_grid",
    "filters_grid",
    "first_conv_weights",
    "heatmap_figure",
    "layer_rows",
    "overlay",
    "predictions_figure",
    "shape_figure",
    "thumbnail",
    "to_jpeg",
    "to_png",
    "to_uint8",
    "training_curves",
    "vector_figure",
]

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


def heatmap_figure(
    values: np.ndarray,
    title: str,
    colormap: str = "viridis",
    value_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One map as an interactive heatmap (hover shows each value), rows top to bottom.

    Args:
        values: The map (H, W).
        title: Figure title.
        colormap: One of :data:`COLORMAPS`.
        value_range: (min, max) the colours span, so several figures compare; default the
            map's own range.
    """
    lo, hi = value_range if value_range is not None else (None, None)
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(values),
            zmin=lo,
            zmax=hi,
            colorscale="RdBu_r" if colormap == "RdBu" else colormap.capitalize(),
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    fig.update_layout(title=title, margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=380)
    return fig


def predictions_figure(predictions: Sequence[Prediction], trained: bool) -> go.Figure:
    """Top-k classes as horizontal bars, most probable on top."""
    labels = [p.label for p in predictions][::-1]
    probs = [p.probability for p in predictions][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=labels,
            orientation="h",
            text=[f"{p:.1%}" for p in probs],
            textposition="auto",
            marker_color="#1f77b4" if trained else "#9e9e9e",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    title = "Top-5 predictions" if trained else "Top-5 predictions (random weights: meaningless)"
    fig.update_layout(
        title=title,
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"type": "category"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=260,
    )
    return fig


def shape_figure(probe: Probe, highlight: str | None = None) -> go.Figure:
    """How the map shape changes through the network: spatial side falls, channels rise.

    Bars give the channels of each main layer with map output (log scale, right axis), the line
    gives the spatial side H (left axis). ``highlight`` marks the selected layer.
    """
    layers = [x for x in probe.layers if x.is_main and x.is_map]
    names = [x.name for x in layers]
    colors = ["#d62728" if x.name == highlight else "#aec7e8" for x in layers]
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[x.shape[0] for x in layers],
        name="channels",
        marker_color=colors,
        yaxis="y2",
        hovertemplate="%{x}: %{y} channels<extra></extra>",
    )
    fig.add_scatter(
        x=names,
        y=[x.shape[1] for x in layers],
        name="height = width (px)",
        mode="lines+markers",
        line={"color": "#ff7f0e", "width": 3},
        hovertemplate="%{x}: %{y} px<extra></extra>",
    )
    fig.update_layout(
        title="Shape through the network: maps shrink, channels grow",
        yaxis={"title": "height = width", "rangemode": "tozero"},
        yaxis2={"title": "channels", "overlaying": "y", "side": "right", "type": "log"},
        xaxis={"showticklabels": len(names) <= 30, "tickangle": -45},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=330,
    )
    return fig


def vector_figure(vector: np.ndarray, title: str) -> go.Figure:
    """A 1-D vector (e.g. after global average pooling) as bars, one per channel."""
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    fig = go.Figure(
        go.Bar(
            x=np.arange(values.size),
            y=values,
            marker_color="#2ca02c",
            hovertemplate="channel %{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="channel",
        yaxis={"title": "value", "tickformat": ".3~g"},
        bargap=0,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=260,
    )
    return fig


def layer_rows(probe: Probe, main_only: bool = False) -> list[dict[str, object]]:
    """The layer table: one row per layer, for a data frame on the page."""
    return [
        {
            "#": x.index,
            "layer": x.name,
            "type": x.type_name,
            "output shape": " x ".join(str(d) for d in x.shape),
            "parameters": x.params,
            "receptive field": x.receptive_field.describe(),
            "min": round(x.stats.min, 3),
            "max": round(x.stats.max, 3),
            "mean": round(x.stats.mean, 3),
            "zeros": f"{x.stats.zero_fraction:.0%}",
        }
        for x in probe.layers
        if x.is_main or not main_only
    ]


def to_png(image: Image.Image) -> bytes:
    """PNG bytes of an image, for download buttons."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail(image: Image.Image, side: int = 160) -> Image.Image:
    """A square thumbnail: the image center-cropped and scaled to ``side`` pixels, in RGB."""
    return ImageOps.fit(image.convert("RGB"), (side, side), Image.Resampling.BICUBIC)


def to_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """JPEG bytes for the screen: ~15x faster to encode than PNG for a 1-megapixel grid and a
    quarter of the bytes; full chroma resolution keeps the channel labels crisp."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def _ema(values: Sequence[float], weight: float = 0.9) -> list[float]:
    out: list[float] = []
    for k, value in enumerate(values):
        # Debiased like TensorBoard's smoothing, so the first points are not pulled towards 0.
        previous = out[-1] * (1 - weight**k) if out else 0.0
        out.append((weight * previous + (1 - weight) * value) / (1 - weight ** (k + 1)))
    return out


def training_curves(steps: Sequence[StepEvent], epochs: Sequence[EpochEvent]) -> go.Figure:
    """Loss and accuracy while training: two panels sharing the step axis.

    Training values are per batch (faint) and smoothed (an exponential moving average with
    weight 0.9); validation values are one point per epoch, at the step where the epoch ended.

    Args:
        steps: :class:`cnnviz.StepEvent` list (may be thinned).
        epochs: :class:`cnnviz.EpochEvent` list.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    x = [s.step for s in steps]
    per_epoch = steps[-1].steps / max(1, epochs[-1].epochs) if steps and epochs else 1.0
    x_val = [round(e.epoch * per_epoch) for e in epochs]
    for col, train_of, val_of in (
        (1, lambda s: s.loss, lambda e: e.val_loss),
        (2, lambda s: s.accuracy, lambda e: e.val_accuracy),
    ):
        raw = [train_of(s) for s in steps]
        first = col == 1
        fig.add_scatter(
            x=x, y=raw, mode="lines", line={"color": "#9ecae1", "width": 1}, row=1, col=col,
            name="training (per batch)", legendgroup="raw", showlegend=first,
        )  # fmt: skip
        fig.add_scatter(
            x=x, y=_ema(raw), mode="lines", line={"color": "#1f77b4"}, row=1, col=col,
            name="training (smoothed)", legendgroup="smooth", showlegend=first,
        )  # fmt: skip
        fig.add_scatter(
            x=x_val, y=[val_of(e) for e in epochs], mode="lines+markers", row=1, col=col,
            line={"color": "#d62728"}, name="validation (per epoch)", legendgroup="val",
            showlegend=first,
        )  # fmt: skip
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.28, "x": 0.5, "xanchor": "center"},
    )
    return fig


def first_conv_weights(weights: nn.Module | Mapping[str, torch.Tensor]) -> np.ndarray:
    """The first convolution's kernels, averaged over input channels: float32 (C_out, kH, kW).

    Args:
        weights: A module or a state dict; the first 4-D tensor is the first conv's weight.

    Raises:
        ValueError: No convolution weights in it.
    """
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    kernel = next((t for t in state.values() if t.ndim == 4), None)
    if kernel is None:
        raise ValueError("These weights hold no convolution.")
    return kernel.detach().float().cpu().mean(dim=1).numpy()


def filters_grid(weights: nn.Module | Mapping[str, torch.Tensor], colormap: str = "RdBu") -> Grid:
    """The first convolution layer's filters as a montage (see :func:`first_conv_weights`).

    For RGB inputs the three input channels are averaged: a filter that reacts to an edge in
    any colour shows the edge. Blue is negative, red positive (with ``"RdBu"``).
    """
    return feature_grid(first_conv_weights(weights), colormap=colormap, scale="shared")


def confusion_figure(matrix: np.ndarray, classes: Sequence[str]) -> go.Figure:
    """A (K, K) confusion matrix as a heatmap: rows are the true class, columns the predicted.

    Each cell shows its count; the diagonal holds the correct predictions.
    """
    counts = np.asarray(matrix)
    names = [str(c) for c in classes]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=names,
            y=names,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    accuracy = np.trace(counts) / max(1, counts.sum())
    fig.update_layout(
        title=f"Confusion matrix on the validation images ({accuracy:.1%} correct)",
        xaxis={"title": "predicted", "type": "category"},
        yaxis={"title": "true", "type": "category", "autorange": "reversed"},
        height=max(300, 40 * len(names) + 120), margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )  # fmt: skip
    return fig
