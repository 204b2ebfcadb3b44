"""Plotly charts: predictions, shapes, heatmaps, vectors, training curves, confusion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cnnviz.probe import Prediction, Probe

if TYPE_CHECKING:
    from cnnviz.training import EpochEvent, StepEvent


def heatmap_figure(
    values: np.ndarray,
    title: str,
    colormap: str = "viridis",
    value_range: tuple[float, float] | None = None,
    clickable: bool = False,
) -> go.Figure:
    """One map as an interactive heatmap (hover shows each value), rows top to bottom.

    Args:
        values: The map (H, W).
        title: Figure title.
        colormap: One of :data:`COLORMAPS`.
        value_range: (min, max) the colours span, so several figures compare; default the
            map's own range.
        clickable: Put an invisible point on every cell, so a click selects the cell
            (plotly reports no selection for a click on a heatmap itself); the point's x and y
            are the cell's column and row.
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
    if clickable:
        z = np.asarray(values, dtype=np.float64)
        rows, cols = np.indices(z.shape)
        fig.data[0].hoverinfo = "skip"  # the points answer the hover and the click instead
        fig.add_trace(
            go.Scatter(
                x=cols.ravel(), y=rows.ravel(), customdata=z.ravel(), mode="markers",
                marker={"size": max(4, min(24, 320 // max(z.shape))), "color": "rgba(0,0,0,0)"},
                selected={"marker": {"color": "rgba(0,200,255,0.9)"}},
                unselected={"marker": {"opacity": 0}},
                hovertemplate="row %{y}, col %{x}: %{customdata:.3f}<extra>click</extra>",
                showlegend=False,
            )
        )  # fmt: skip
        fig.update_layout(clickmode="event+select", dragmode=False)
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
    gives the spatial side H (left axis), drawn over the bars. ``highlight`` marks the selected
    layer.
    """
    layers = [x for x in probe.layers if x.is_main and x.is_map]
    names = [x.name for x in layers]
    channels = [x.shape[0] for x in layers]
    sides = [x.shape[1] for x in layers]
    colors = ["#d62728" if x.name == highlight else "#aec7e8" for x in layers]
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=channels,
        name="channels",
        marker_color=colors,
        hovertemplate="%{x}: %{y} channels<extra></extra>",
    )
    # The line lives on the overlaying axis: plotly draws those traces on top, so bars never
    # hide it.
    fig.add_scatter(
        x=names,
        y=sides,
        name="height = width (px)",
        mode="lines+markers",
        line={"color": "#ff7f0e", "width": 3},
        yaxis="y2",
        cliponaxis=False,
        hovertemplate="%{x}: %{y} px<extra></extra>",
    )
    # Channel counts are powers of two or near them: label the log axis at powers of two, in
    # full ("512", not plotly's minor-tick digits "2, 5"). The axis starts below 1, so a
    # one-channel input still has a visible bar.
    powers = [2**k for k in range(max(channels, default=1).bit_length())]
    powers = powers if len(powers) <= 7 else powers[::-2][::-1]  # keep the top one
    top = max(channels, default=1) * 1.25
    fig.update_layout(
        title="Shape through the network: maps shrink, channels grow",
        yaxis={
            "title": "channels",
            "side": "right",
            "type": "log",
            "range": [math.log10(0.5), math.log10(top)],
            "tickvals": powers,
            "ticktext": [str(p) for p in powers],
            "showgrid": False,
            "automargin": True,
        },
        yaxis2={
            "title": "height = width (px)",
            "overlaying": "y",
            "side": "left",
            "range": [0, max(sides, default=1) * 1.1],
            # Its own round ticks: synced to the log axis's grid they read "214.8, 167.1".
            "tickmode": "auto",
            "nticks": 6,
            "showgrid": False,
            "automargin": True,
        },
        xaxis={"showticklabels": len(names) <= 30, "tickangle": -45, "automargin": True},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=330,
    )
    return fig


COMPARE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def shapes_compare_figure(probes: Sequence[Probe]) -> go.Figure:
    """The shape progression of several networks on one chart, one colour per network.

    x is how far through the network a layer is (0 % = the first main layer with maps, 100 % =
    the last), so a 5-layer and a 60-layer network share the axis; the top panel gives the
    spatial side H, the bottom the channels C (both log scale). Hover names the layer.
    """
    fig = go.Figure()
    sides: list[int] = []
    channels: list[int] = []
    for color, probe in zip(COMPARE_COLORS, probes, strict=False):
        layers = [x for x in probe.layers if x.is_main and x.is_map]
        where = [100 * i / max(1, len(layers) - 1) for i in range(len(layers))]
        names = [f"{x.name}: {' x '.join(map(str, x.shape))}" for x in layers]
        common = {
            "x": where,
            "text": names,
            "mode": "lines+markers",
            "line": {"color": color},
            "legendgroup": probe.model_label,
            "hovertemplate": "%{text}<extra></extra>",
        }
        sides += [x.shape[1] for x in layers]
        channels += [x.shape[0] for x in layers]
        fig.add_scatter(y=sides[-len(layers) :], name=probe.model_label, **common)
        fig.add_scatter(y=channels[-len(layers) :], yaxis="y2", showlegend=False, **common)
    fig.update_layout(
        title="Shape through each network: maps shrink, channels grow",
        xaxis={"title": "how far through the network (%)", "range": [-2, 102]},
        yaxis={"title": "height = width (px)", "domain": [0.55, 1], **_log2_axis(sides)},
        yaxis2={"title": "channels", "domain": [0, 0.45], "anchor": "x", **_log2_axis(channels)},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=380,
    )  # fmt: skip
    return fig


def _log2_axis(values: Sequence[int]) -> dict[str, object]:
    """A log axis labelled at powers of 4 in full ("256", not plotly's minor digits "2, 5")."""
    top = max(values, default=1)
    ticks = [4**k for k in range(top.bit_length() // 2 + 2) if 4**k <= top * 4]
    return {"type": "log", "tickvals": ticks, "ticktext": [str(t) for t in ticks],
            "range": [math.log10(0.7), math.log10(top * 1.4)], "automargin": True}  # fmt: skip


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

    Built as one figure with its two axes laid out directly and numpy arrays for the points:
    the live panel redraws it every second for every tab watching, and ``make_subplots`` with
    lists cost 50-130 ms a draw (20 ms this way, nearly flat in the number of points).

    Args:
        steps: :class:`cnnviz.StepEvent` list (may be thinned).
        epochs: :class:`cnnviz.EpochEvent` list.
    """
    x = np.array([s.step for s in steps], dtype=np.int64)
    per_epoch = steps[-1].steps / max(1, epochs[-1].epochs) if steps and epochs else 1.0
    x_val = np.array([round(e.epoch * per_epoch) for e in epochs], dtype=np.int64)
    traces = []
    for panel, raw, val in (
        ("", [s.loss for s in steps], [e.val_loss for e in epochs]),
        ("2", [s.accuracy for s in steps], [e.val_accuracy for e in epochs]),
    ):
        axes = {"xaxis": f"x{panel}", "yaxis": f"y{panel}", "showlegend": not panel}
        traces += [
            go.Scatter(
                x=x, y=np.array(raw, dtype=np.float64), mode="lines", legendgroup="raw",
                line={"color": "#9ecae1", "width": 1}, name="training (per batch)", **axes,
            ),
            go.Scatter(
                x=x, y=np.array(_ema(raw), dtype=np.float64), mode="lines",
                line={"color": "#1f77b4"}, name="training (smoothed)", legendgroup="smooth",
                **axes,
            ),
            go.Scatter(
                x=x_val, y=np.array(val, dtype=np.float64), mode="lines+markers",
                line={"color": "#d62728"}, name="validation (per epoch)", legendgroup="val",
                **axes,
            ),
        ]  # fmt: skip
    title = {"xref": "paper", "yref": "paper", "y": 1.0, "yanchor": "bottom", "showarrow": False}
    layout = {
        "height": 360,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "y": -0.28, "x": 0.5, "xanchor": "center"},
        "xaxis": {"domain": [0.0, 0.45], "anchor": "y", "title": {"text": "step"}},
        "xaxis2": {"domain": [0.55, 1.0], "anchor": "y2", "title": {"text": "step"}},
        "yaxis": {"anchor": "x"},
        "yaxis2": {"anchor": "x2", "range": [0, 1], "tickformat": ".0%"},
        "annotations": [
            {**title, "text": "Loss", "x": 0.225, "xanchor": "center"},
            {**title, "text": "Accuracy", "x": 0.775, "xanchor": "center"},
        ],
    }
    return go.Figure(data=traces, layout=layout)


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


RUN_COLORS = ("#d62728", "#2ca02c", "#1f77b4", "#9467bd")
"""One colour per run of an experiment: the first (the problem) red, the second (the cure) green."""


def lr_figure(planned: np.ndarray, epochs: int, live: Sequence[StepEvent] = ()) -> go.Figure:
    """The learning rate over the run: the schedule as planned, and as the run set it so far.

    Args:
        planned: The rate of every step of the whole run (see
            :func:`cnnviz.training.lr_schedule`; it may have fewer steps than the run: the x
            axis is in epochs).
        epochs: Epochs of the run.
        live: The run's step events so far (their ``lr``), drawn over the plan.
    """
    x = np.arange(len(planned), dtype=np.float64) * epochs / max(1, len(planned))
    top = max([*np.asarray(planned, dtype=np.float64).tolist(), *(s.lr for s in live), 1e-12])
    traces = [
        go.Scatter(
            x=x, y=np.asarray(planned, dtype=np.float64), mode="lines", name="planned",
            line={"color": "#9e9e9e", "dash": "dash", "width": 2},
            hovertemplate="epoch %{x:.2f}: %{y:.2e}<extra>planned</extra>",
        )
    ]  # fmt: skip
    if live:
        traces.append(
            go.Scatter(
                x=np.array([(s.step - 1) * epochs / max(1, s.steps) for s in live]),
                y=np.array([s.lr for s in live], dtype=np.float64), mode="lines",
                name="this run", line={"color": "#1f77b4", "width": 3},
                hovertemplate="epoch %{x:.2f}: %{y:.2e}<extra>this run</extra>",
            )
        )  # fmt: skip
    return go.Figure(
        traces,
        layout={
            "height": 240, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "title": {"text": "Learning rate over the run"},
            "xaxis": {"title": {"text": "epoch"}, "range": [0, epochs]},
            # Headroom above the highest rate: a constant schedule's line sits below the top
            # edge, and the legend (above the plot area) never covers it.
            "yaxis": {"range": [0, 1.15 * top], "exponentformat": "e"},
            "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1,
                       "xanchor": "right"},
        },
    )  # fmt: skip


def runs_figure(runs: Sequence[tuple[str, Sequence[EpochEvent]]]) -> go.Figure:
    """Training and validation curves of several runs on one chart, per epoch.

    Left: accuracy (training dotted, validation solid); right: loss. One colour per run
    (:data:`RUN_COLORS`); the space between a run's dotted and solid line is its gap.

    Args:
        runs: (label, epochs) of each run.
    """
    traces = []
    for (label, epochs), color in zip(runs, RUN_COLORS, strict=False):
        x = np.array([e.epoch for e in epochs], dtype=np.int64)
        for panel, train, val in (
            ("", [e.train_accuracy for e in epochs], [e.val_accuracy for e in epochs]),
            ("2", [e.train_loss for e in epochs], [e.val_loss for e in epochs]),
        ):
            axes = {"xaxis": f"x{panel}", "yaxis": f"y{panel}", "legendgroup": label}
            traces += [
                go.Scatter(
                    x=x, y=np.array(train, dtype=np.float64), mode="lines",
                    line={"color": color, "dash": "dot", "width": 2},
                    name=f"{label}: training", showlegend=not panel, **axes,
                ),
                go.Scatter(
                    x=x, y=np.array(val, dtype=np.float64), mode="lines",
                    line={"color": color, "width": 3},
                    name=f"{label}: validation", showlegend=not panel, **axes,
                ),
            ]  # fmt: skip
    title = {"xref": "paper", "yref": "paper", "y": 1.0, "yanchor": "bottom", "showarrow": False}
    return go.Figure(
        traces,
        layout={
            "height": 400, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "legend": {"orientation": "h", "y": -0.22, "x": 0.5, "xanchor": "center"},
            "xaxis": {"domain": [0.0, 0.45], "anchor": "y", "title": {"text": "epoch"}},
            "xaxis2": {"domain": [0.55, 1.0], "anchor": "y2", "title": {"text": "epoch"}},
            "yaxis": {"anchor": "x", "range": [0, 1.02], "tickformat": ".0%"},
            "yaxis2": {"anchor": "x2", "rangemode": "tozero"},
            "annotations": [
                {**title, "text": "Accuracy (dotted: training, solid: validation)",
                 "x": 0.225, "xanchor": "center"},
                {**title, "text": "Loss", "x": 0.775, "xanchor": "center"},
            ],
        },
    )  # fmt: skip


def gradient_figure(runs: Sequence[tuple[str, Sequence[EpochEvent]]]) -> go.Figure:
    """Each layer's gradient norm, input side left, on a log scale: one line per run and epoch.

    A line that falls steeply to the left is a vanishing gradient: the first layers get almost
    nothing to learn from. Each run has its colour (:data:`RUN_COLORS`); earlier epochs are
    fainter, the last epoch is bold.

    Args:
        runs: (label, epochs) of each run; the epochs' ``grad_norms``.
    """
    names = max(
        (list(e.grad_norms) for _, epochs in runs for e in epochs[-1:]), key=len, default=[]
    )
    traces = []
    for (label, epochs), color in zip(runs, RUN_COLORS, strict=False):
        for epoch in epochs:
            last = epoch is epochs[-1]
            layers = list(epoch.grad_norms)
            traces.append(
                go.Scatter(
                    x=layers, y=np.maximum(np.array(list(epoch.grad_norms.values())), 1e-30),
                    mode="lines+markers" if last else "lines",
                    line={"color": color, "width": 3 if last else 1},
                    opacity=1.0 if last else 0.25 + 0.5 * epoch.epoch / max(1, len(epochs)),
                    name=f"{label}, epoch {epoch.epoch}", legendgroup=label, showlegend=last,
                    hovertemplate="%{x}: %{y:.1e}<extra>" + f"{label}, epoch {epoch.epoch}"
                    + "</extra>",
                )
            )  # fmt: skip
    return go.Figure(
        traces,
        layout={
            "height": 420, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "title": {"text": "Gradient norm of each layer (input side left), per epoch"},
            "xaxis": {"title": {"text": "layer, from the input to the output"},
                      "categoryorder": "array", "categoryarray": names, "tickangle": -45},
            "yaxis": {"type": "log", "exponentformat": "power",
                      "title": {"text": "gradient norm (log scale)"}},
            "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        },
    )  # fmt: skip
