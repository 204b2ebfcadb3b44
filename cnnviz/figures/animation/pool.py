"""The pooling animation: the window sliding over one map, the kept value, the output."""

from __future__ import annotations

from cnnviz.figures.animation.frames import MAX_FRAMES, _factor, frame_positions, number
from cnnviz.figures.animation.player import StepPlayer, panel, speed, thinning_note
from cnnviz.steps import PoolSteps

__all__ = ["pool_equation", "pool_player"]


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


def pool_player(
    steps: PoolSteps, channel: int = 0, max_frames: int = MAX_FRAMES, frame_ms: int | None = None
) -> StepPlayer:
    """The pooling window sliding over one map: the kept cell circled (max), output filling in.

    Args:
        steps: From :func:`cnnviz.steps.pool_steps`, :func:`~cnnviz.steps.pool_steps_for` or
            :func:`~cnnviz.steps.pool_patch`.
        channel: The map animated.
        max_frames: At most this many steps (see :func:`frame_positions`).
        frame_ms: Milliseconds per step when playing.
    """
    rows, cols = steps.out_shape
    kind = "max" if steps.kind == "max" else "average"
    panels = (
        panel("input", "input", steps.padded[channel], steps.is_padding,
               pad_text="−∞" if steps.kind == "max" else "0"),
        panel("output", f"{kind} pooling output", steps.output[channel]),
    )  # fmt: skip
    positions, every = frame_positions(rows, cols, max_frames)
    kept = []
    if steps.kind == "max":
        for i, j in positions:
            cell = steps.step(i, j, channel).kept
            kept.append(cell if cell is not None else steps.window_origin(i, j))
    h, w = steps.in_shape
    return StepPlayer(
        kind="pool",
        title=f"{steps.settings.describe().capitalize()}: {h} x {w} → {rows} x {cols}",
        panels=panels, labels=tuple(f"{i},{j}" for i, j in positions),
        boxes=tuple(steps.window_box(i, j) for i, j in positions), cells=tuple(positions),
        equations=tuple(pool_equation(steps, i, j, channel) for i, j in positions),
        kept=tuple(kept), frame_ms=speed(len(positions), frame_ms),
        note=thinning_note(every, rows * cols),
    )  # fmt: skip
