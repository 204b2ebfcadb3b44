"""The pooling animation: the window sliding over one map, the kept value, the output."""

from __future__ import annotations

from cnnviz.figures.animation.conv import _speed
from cnnviz.figures.animation.frames import (
    CELL,
    LIGHT_BLUES,
    MAX_FRAMES,
    AnimatedFigure,
    _Builder,
    _cell_trace,
    _cell_traces,
    _cover_trace,
    _factor,
    _Grid,
    _rect,
    _text_trace,
    _window_trace,
    frame_positions,
    number,
)
from cnnviz.steps import PoolSteps

__all__ = ["pool_animation", "pool_equation"]


def pool_equation(steps: PoolSteps, row: int, col: int, channel: int = 0) -> str:
    """One pooling step as text: ``max(7, 2, 4, 5) = 7`` or ``(7 + 2 + 4 + 5) / 4 = 4.5``."""
    step = steps.step(row, col, channel)
    values = [float(v) for v, p in zip(step.window.ravel(), step.is_padding.ravel(), strict=True)
              if not (p and steps.kind == "max")]  # fmt: skip
    where = f"y[{row}, {col}]"
    if steps.kind == "max":
        inner = (
            ", ".join(number(v) for v in values)
            if len(values) <= 16
            else (f"the {len(values)} values")
        )
        return f"{where} = max({inner}) = <b>{number(step.value)}</b>"
    count = step.window.size
    if len(values) <= 16:
        total = " + ".join(_factor(v) for v in values)
        return f"{where} = ({total}) / {count} = <b>{number(step.value)}</b>"
    return f"{where} = mean of the {count} values = <b>{number(step.value)}</b>"


def pool_animation(
    steps: PoolSteps, channel: int = 0, max_frames: int = MAX_FRAMES, frame_ms: int | None = None
) -> AnimatedFigure:
    """The pooling window sliding over one map: the kept cell circled (max), output filling in.

    Args:
        steps: From :func:`cnnviz.steps.pool_steps`.
        channel: The map animated.
        max_frames: At most this many frames (see :func:`frame_positions`).
        frame_ms: Milliseconds per frame when playing.
    """
    rows, cols = steps.out_shape
    kind = "max" if steps.kind == "max" else "average"
    kh, kw = steps.size
    grids = [
        _Grid("input", steps.padded[channel], LIGHT_BLUES, pad=steps.is_padding,
              pad_text="−∞" if steps.kind == "max" else "0"),
        _Grid(f"{kind} pooling output", steps.output[channel], LIGHT_BLUES),
    ]  # fmt: skip
    h, w = steps.padded.shape[1:]
    what = "global average pooling" if steps.is_global else f"{kind} pooling {kh} x {kw}"
    title = (
        f"{what.capitalize()}, stride {steps.stride[0]}, padding {steps.padding}: "
        f"{h - 2 * steps.padding} x {w - 2 * steps.padding} → {rows} x {cols}"
    )
    b = _Builder(grids, title)
    b.add(_window_trace(*_rect(0, 0, kh, kw)), col=1)
    if steps.argmax is not None:
        b.add(
            {
                "type": "scatter",
                "mode": "markers",
                "hoverinfo": "skip",
                "marker": {
                    "size": 30,
                    "color": "rgba(0,0,0,0)",
                    "line": {"color": CELL, "width": 4},
                },
            },
            col=1,
        )
    b.add(_cell_trace(), 2)
    b.add(_cover_trace(), 2)
    b.add(_text_trace(), 1, text_strip=True)
    positions, every = frame_positions(rows, cols, max_frames)
    frames = []
    for i, j in positions:
        step = steps.step(i, j, channel)
        r0, c0 = step.origin
        data: list[dict] = [dict(zip(("x", "y"), _rect(r0, c0, kh, kw), strict=True))]
        if step.chosen is not None:
            data.append({"x": [c0 + step.chosen[1]], "y": [r0 + step.chosen[0]]})
        data.extend(_cell_traces(i, j, rows, cols))
        data.append({"text": [pool_equation(steps, i, j, channel)]})
        frames.append((f"{i},{j}", data))
    note = f"every {every}th row and column of {rows * cols} positions; " if every > 1 else ""
    return b.animate(frames, _speed(len(frames), frame_ms), note)
