"""The convolution animation: the kernel sliding over the input, the products, the output."""

from __future__ import annotations

import numpy as np

from cnnviz.figures.animation.frames import (
    LIGHT_BLUES,
    LIGHT_DIVERGING,
    MAX_FRAMES,
    WINDOW,
    AnimatedFigure,
    _Builder,
    _cell_trace,
    _cell_traces,
    _cover_trace,
    _factor,
    _Grid,
    _paren,
    _rect,
    _text_trace,
    _window_trace,
    cell_text,
    frame_positions,
    number,
)
from cnnviz.figures.labels import ordinal
from cnnviz.steps import ConvStep, ConvSteps, activate, activation_label

__all__ = ["conv_animation", "conv_equation"]


def conv_equation(step: ConvStep, activation: str = "none", channel: int | None = None) -> str:
    """The arithmetic of one step as text lines (joined with ``<br>``), for a student to read.

    One channel: ``y[0, 0] = 7·1 + 2·0 + 3·(−1) + … = 6``, then the bias and the activation.
    Several input channels: the products of ``channel`` written out, then the per-channel sums
    added up (the first six when there are more) with the bias.
    """
    k = step.channels.index(channel) if channel in step.channels else 0
    pairs = [
        f"{_factor(x)}·{_factor(w)}"
        for x, w in zip(step.window[k].ravel(), step.weights[k].ravel(), strict=True)
    ]
    written = " + ".join(pairs) if len(pairs) <= 9 else f"(sum of the {len(pairs)} products)"
    i, j = step.position
    single = len(step.channels) == 1
    head = f"y[{i}, {j}]" if single else f"channel {step.channels[k]}"
    lines = [f"{head} = {written} = <b>{number(step.channel_sums[k])}</b>"]
    bias = f" + bias {_factor(step.bias)}" if step.bias else ""
    if not single:
        shown = " + ".join(_factor(float(v)) for v in step.channel_sums[:6])
        more = f" + … ({len(step.channel_sums)} channels)" if len(step.channel_sums) > 6 else ""
        lines.append(f"y[{i}, {j}] = {shown}{more}{bias} = <b>{number(step.total)}</b>")
    elif bias:
        lines.append(
            f"y[{i}, {j}] = {number(step.channel_sums[0])}{bias} = <b>{number(step.total)}</b>"
        )
    if activation != "none":
        after = number(float(activate(step.total, activation)))
        lines[-1] += (
            f"    →    {activation_label(activation)}({number(step.total)}) = <b>{after}</b>"
        )
    return "<br>".join(lines)


def _products_texts(window: np.ndarray, weights: np.ndarray, products: np.ndarray) -> tuple:
    """Cell texts of the products grid: ``x×w`` over the product, or the product alone."""
    alone = [[cell_text(p) for p in row] for row in products]
    both = [
        [f"{_paren(x)}×{_paren(w)}<br><b>{cell_text(p)}</b>" for x, w, p in zip(*r, strict=True)]
        for r in zip(window, weights, products, strict=True)
    ]
    return both, alone


def _speed(frames: int, frame_ms: int | None) -> int:
    return frame_ms if frame_ms else int(min(900, max(150, 24000 / max(1, frames))))


def conv_animation(
    steps: ConvSteps,
    out_channel: int = 0,
    channel: int | None = None,
    activation: str = "none",
    max_frames: int = MAX_FRAMES,
    frame_ms: int | None = None,
    title: str | None = None,
) -> AnimatedFigure:
    """The kernel sliding over the input, one frame per output position (light frames).

    Panels: the padded input (padding grey), the kernel, the products of the current window,
    the output (filled in as the steps go), and the activation when one is chosen; below them
    the step's arithmetic (:func:`conv_equation`).

    Args:
        steps: From :func:`cnnviz.steps.conv_steps`.
        out_channel: The output channel animated.
        channel: The input channel drawn (default: the first one ``out_channel`` reads).
        activation: One of :func:`cnnviz.steps.activation_names`.
        max_frames: At most this many frames (see :func:`frame_positions`).
        frame_ms: Milliseconds per frame when playing (default: about 24 s in all).
        title: Figure title (default: the sizes and settings).
    """
    group = steps.group_channels(out_channel)
    c = channel if channel in group else group[0]
    k = group.index(c)
    rows, cols = steps.out_shape
    kernel = steps.weight[out_channel, k]
    windows = steps.windows(c)
    span = float(np.abs(windows * kernel).max()) or 1.0
    positions, every = frame_positions(rows, cols, max_frames)
    first = steps.step(*positions[0], out_channel)
    label = f" (channel {c} of {len(group)})" if len(group) > 1 else ""
    grids = [
        _Grid(f"input{label}", steps.padded[c], LIGHT_BLUES, pad=steps.is_padding),
        _Grid("kernel", kernel, LIGHT_DIVERGING, mid=0.0),
        _Grid("window × kernel", first.products[k], LIGHT_DIVERGING, mid=0.0, span=span,
              moving=True, texts=_products_texts(first.window[k], kernel, first.products[k])),
        _Grid("output", steps.output[out_channel], LIGHT_DIVERGING, mid=0.0),
    ]  # fmt: skip
    if activation != "none":
        after = activate(steps.output[out_channel], activation)
        grids.append(
            _Grid(f"after {activation_label(activation)}", after, LIGHT_DIVERGING, mid=0.0)
        )
    s, d, kk = steps.stride, steps.dilation, steps.kernel
    h, w = steps.padded.shape[1:]
    title = title or (
        f"Convolution: {h - 2 * steps.padding} x {w - 2 * steps.padding} input, {kk} x {kk} "
        f"kernel, stride {s}, padding {steps.padding}, dilation {d} → {rows} x {cols} output"
    )
    b = _Builder(grids, title)
    variant = b.text_choice.get(b.moving[0])  # which products text fitted, if any
    b.add(_window_trace(*_rect(0, 0, steps.span, steps.span)), col=1)
    if d > 1:
        b.add({"type": "scatter", "mode": "markers", "marker": {"color": WINDOW, "size": 9},
               "hoverinfo": "skip"}, col=1)  # fmt: skip
    out_cols = [4, 5] if activation != "none" else [4]
    for col in out_cols:
        b.add(_cell_trace(), col)
        b.add(_cover_trace(), col)
    b.add(_text_trace(), 1, text_strip=True)
    frames = []
    for i, j in positions:
        step = steps.step(i, j, out_channel)
        r0, c0 = step.origin
        data: list[dict] = [
            {"z": step.products[k].tolist()},
            dict(zip(("x", "y"), _rect(r0, c0, steps.span, steps.span), strict=True)),
        ]  # fmt: skip
        if variant is not None:
            data[0]["text"] = _products_texts(step.window[k], kernel, step.products[k])[variant]
        if d > 1:
            taps = [(r0 + d * u, c0 + d * v) for u in range(kk) for v in range(kk)]
            data.append({"x": [t[1] for t in taps], "y": [t[0] for t in taps]})
        for _ in out_cols:
            data.extend(_cell_traces(i, j, rows, cols))
        data.append({"text": [conv_equation(step, activation, c)]})
        frames.append((f"{i},{j}", data))
    note = (
        f"every {ordinal(every)} row and column of {rows * cols} positions; " if every > 1 else ""
    )
    return b.animate(frames, _speed(len(frames), frame_ms), note)
