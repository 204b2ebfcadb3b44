"""Numbers and positions shared by the step animations (the player and the GIFs).

A number is written as a student writes it (``6``, ``−9``, ``0.47``); an input with more output
positions than ``max_frames`` is animated on every ``r``-th row and column of positions.
"""

from __future__ import annotations

import math

MAX_FRAMES = 400
WINDOW = "#ff7f0e"
CELL = "#d62728"
LIGHT_BLUES = ("#f7fbff", "#7fb2e0")
LIGHT_DIVERGING = ("#6fa8dc", "#f7f7f7", "#e8857a")
PAD = "#e0e0e0"


def number(value: float) -> str:
    """A number as a student writes it: ``6``, ``-9``, ``0.47``, ``1.23e+03``."""
    v = float(value)
    if math.isinf(v):
        return "−∞" if v < 0 else "∞"
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v)).replace("-", "−")
    return f"{v:.3g}".replace("-", "−")


def _factor(value: float) -> str:
    text = number(value)
    return f"({text})" if value < 0 else text


def frame_positions(rows: int, cols: int, max_frames: int = MAX_FRAMES) -> tuple[list, int]:
    """Output positions to animate, row by row, and the thinning ``r`` (1: every position).

    With more than ``max_frames`` positions, every ``r``-th row and column is kept, with the
    smallest ``r`` (from ``ceil(sqrt(rows * cols / max_frames))`` up) that fits.
    """
    every = max(1, math.ceil(math.sqrt(rows * cols / max(1, max_frames))))
    while math.ceil(rows / every) * math.ceil(cols / every) > max(1, max_frames):
        every += 1
    return [(i, j) for i in range(0, rows, every) for j in range(0, cols, every)], every


def cell_text(value: float) -> str:
    """A number short enough for a grid cell: ``7``, ``−9``, ``0.29``, ``12.5``."""
    v = float(value)
    if not math.isfinite(v) or (v.is_integer() and abs(v) < 1e4):
        return number(v)
    return (f"{v:.2f}" if abs(v) < 10 else f"{v:.3g}").replace("-", "−")
