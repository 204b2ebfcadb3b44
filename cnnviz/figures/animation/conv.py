"""The convolution step by step: the kernel sliding over the input, the products, the output."""

from __future__ import annotations

import numpy as np

from cnnviz.figures.animation.frames import MAX_FRAMES, _factor, frame_positions, number
from cnnviz.figures.animation.player import (
    PlayerPanel,
    StepPlayer,
    panel,
    speed,
    thinning_note,
)
from cnnviz.steps import ConvStep, ConvSteps, activate, activation_label

__all__ = ["conv_equation", "conv_player"]


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


def conv_player(
    steps: ConvSteps,
    out_channel: int = 0,
    channel: int | None = None,
    activation: str = "none",
    max_frames: int = MAX_FRAMES,
    frame_ms: int | None = None,
    title: str | None = None,
) -> StepPlayer:
    """The kernel sliding over the input, one step per output position.

    Panels: the padded input (padding grey), the kernel, the products of the current window
    (computed in the browser), the output (filled in as the steps go), and the activation's
    output when one is chosen. Each step carries its arithmetic (:func:`conv_equation`).

    Args:
        steps: From :func:`cnnviz.steps.conv_steps`.
        out_channel: The output channel animated.
        channel: The input channel drawn (default: the first one ``out_channel`` reads).
        activation: One of :func:`cnnviz.steps.activation_names`.
        max_frames: At most this many steps (see :func:`frame_positions`).
        frame_ms: Milliseconds per step when playing (default: about 24 s in all).
        title: The line above the grids (default: the sizes and settings).
    """
    group = steps.group_channels(out_channel)
    c = channel if channel in group else group[0]
    kernel = steps.weight[out_channel, group.index(c)]
    rows, cols = steps.out_shape
    span = float(np.abs(steps.windows(c) * kernel).max()) or 1.0
    label = f" (channel {c} of {len(group)})" if len(group) > 1 else ""
    products = panel("products", "window × kernel", np.zeros_like(kernel), diverging=True)
    panels = [
        panel("input", f"input{label}", steps.padded[c], steps.is_padding),
        panel("kernel", "kernel", kernel, diverging=True),
        PlayerPanel("products", products.title, products.values, products.texts,
                    products.colours, -span, span),
        panel("output", "output", steps.output[out_channel], diverging=True),
    ]  # fmt: skip
    if activation != "none":
        after = activate(steps.output[out_channel], activation)
        panels.append(
            panel("output", f"after {activation_label(activation)}", after, diverging=True)
        )
    positions, every = frame_positions(rows, cols, max_frames)
    origins = [steps.window_origin(i, j) for i, j in positions]
    h, w = steps.padded.shape[1:]
    kk, s, d = steps.kernel, steps.stride, steps.dilation
    title = title or (
        f"Convolution: {h - 2 * steps.padding} x {w - 2 * steps.padding} input, {kk} x {kk} "
        f"kernel, stride {s}, padding {steps.padding}, dilation {d} → {rows} x {cols} output"
    )
    return StepPlayer(
        kind="conv", title=title, panels=tuple(panels),
        labels=tuple(f"{i},{j}" for i, j in positions),
        boxes=tuple((r0, c0, steps.span, steps.span) for r0, c0 in origins),
        cells=tuple(positions),
        equations=tuple(
            conv_equation(steps.step(i, j, out_channel), activation, c) for i, j in positions
        ),
        dilation=d, kernel=kk, frame_ms=speed(len(positions), frame_ms),
        note=thinning_note(every, rows * cols),
    )  # fmt: skip
