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
from cnnviz.figures.labels import ordinal
from cnnviz.steps import PoolSteps

__all__ = ["pool_animation", "pool_equation"]


def pool_equation(steps: PoolSteps, row: int, col: int, channel: int = 0) -> str:
    """One pooling step as text: ``max(7, 2, 4, 5) = 7`` or ``(7 + 2 + 4 + 5) / 4 = 4.5``.

    Only the cells that take part are written: max pooling leaves the padding out, average
    pooling writes its zeros when they count in the divisor.
    """
    step = steps.step(row, col, channel)
    values = [float(v) for v in step.window[step.counted]]
    where = f"y[{row}, {col}]"
    if steps.kind == "max":
        listed = ", ".join(number(v) for v in values)
        inner = listed if len(values) <= 16 else f"the {len(values)} values"
        return f"{where} = max({inner}) = <b>{number(step.value)}</b>"
    divisor = number(step.divisor or 1.0)
    if len(values) <= 16:
        total = " + ".join(_factor(v) for v in values)
        return f"{where} = ({total}) / {divisor} = <b>{number(step.value)}</b>"
    if step.divisor == len(values):
        return f"{where} = mean of the {len(values)} values = <b>{number(step.value)}</b>"
    return f"{where} = (sum of the {len(values)} values) / {divisor} = <b>{number(step.value)}</b>"


def pool_animation(
    steps: PoolSteps, channel: int = 0, max_frames: int = MAX_FRAMES, frame_ms: int | None = None
) -> AnimatedFigure:
    """The pooling window sliding over one map: the kept cell circled (max), output filling in.

    Args:
        steps: From :func:`cnnviz.steps.pool_steps`, :func:`~cnnviz.steps.pool_steps_for` or
            :func:`~cnnviz.steps.pool_patch`.
        channel: The map animated.
        max_frames: At most this many frames (see :func:`frame_positions`).
        frame_ms: Milliseconds per frame when playing.
    """
    rows, cols = steps.out_shape
    kind = "max" if steps.kind == "max" else "average"
    grids = [
        _Grid("input", steps.padded[channel], LIGHT_BLUES, pad=steps.is_padding,
              pad_text="−∞" if steps.kind == "max" else "0"),
        _Grid(f"{kind} pooling output", steps.output[channel], LIGHT_BLUES),
    ]  # fmt: skip
    h, w = steps.in_shape
    title = f"{steps.settings.describe().capitalize()}: {h} x {w} → {rows} x {cols}"
    b = _Builder(grids, title)
    b.add(_window_trace(*_rect(*steps.window_box(0, 0))), col=1)
    if steps.kind == "max":
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
        box = _rect(*steps.window_box(i, j))
        data: list[dict] = [dict(zip(("x", "y"), box, strict=True))]
        if step.kept is not None:
            data.append({"x": [step.kept[1]], "y": [step.kept[0]]})
        data.extend(_cell_traces(i, j, rows, cols))
        data.append({"text": [pool_equation(steps, i, j, channel)]})
        frames.append((f"{i},{j}", data))
    note = (
        f"every {ordinal(every)} row and column of {rows * cols} positions; " if every > 1 else ""
    )
    return b.animate(frames, _speed(len(frames), frame_ms), note)
