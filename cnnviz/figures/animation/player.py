"""The step player's data: what the browser draws for a convolution or a pooling, step by step.

The player (``cnnviz/ui/step_player.js``) is a small canvas component, so a fresh tab shows the
animation without loading plotly.js (4.6 MB, most of a fresh Convolution tab's time). Python
decides *what* is shown (panels, numbers as a student reads them, colour scales, the window of
every step, the step's arithmetic); the browser only draws it, plays it and lets a student scrub.
The products grid is computed in the browser from the window and the kernel (``x·w``): sending
``K x K`` numbers per step would make a 11 x 11 kernel's player a few hundred kB.

Everything here is plain data (:meth:`StepPlayer.data` is JSON-ready): no Streamlit, no plotly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from cnnviz.figures.animation.frames import (
    CELL,
    LIGHT_BLUES,
    LIGHT_DIVERGING,
    PAD,
    WINDOW,
    cell_text,
)
from cnnviz.figures.labels import ordinal

__all__ = ["PlayerPanel", "StepPlayer"]

PanelRole = Literal["input", "kernel", "products", "output"]


@dataclass(frozen=True, slots=True)
class PlayerPanel:
    """One grid of the player.

    Attributes:
        role: ``"input"`` (the window moves over it), ``"kernel"``, ``"products"`` (the window
            times the kernel, computed in the browser) or ``"output"`` (filled in step by step).
        title: Caption above the grid.
        values: (H, W) numbers; NaN for padding cells (drawn grey with ``pad_text``).
        texts: (H, W) the numbers as written in the cells (``cell_text``), "" for padding.
        colours: Colour stops, low to high (two: sequential; three: diverging around 0).
        low: Value at the first stop.
        high: Value at the last stop.
        pad_text: What a padding cell says (``"0"``; ``"−∞"`` for max pooling).
    """

    role: PanelRole
    title: str
    values: np.ndarray
    texts: tuple[tuple[str, ...], ...]
    colours: tuple[str, ...]
    low: float
    high: float
    pad_text: str = "0"

    def data(self) -> dict:
        """JSON-ready: numbers with 5 significant digits, NaN as ``None``."""
        finite = np.isfinite(self.values)
        rounded = [
            [float(f"{v:.5g}") if ok else None for v, ok in zip(row, oks, strict=True)]
            for row, oks in zip(self.values.tolist(), finite.tolist(), strict=True)
        ]
        return {
            "role": self.role, "title": self.title, "values": rounded,
            "texts": [list(r) for r in self.texts], "colours": list(self.colours),
            "low": self.low, "high": self.high, "pad_text": self.pad_text,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class StepPlayer:
    """A step-by-step animation for the browser's player.

    Attributes:
        kind: ``"conv"`` or ``"pool"``.
        title: One line above the grids (sizes and settings).
        panels: The grids, left to right.
        labels: One per step: ``"row,col"`` of the output cell computed.
        boxes: One per step: (top, left, height, width) of the window on the input, in
            padded cells.
        cells: One per step: (row, col) of the output cell.
        equations: One per step: the arithmetic, lines joined with ``<br>``, results in ``<b>``.
        kept: One per step for max pooling: (row, col) of the kept input cell; else empty.
        dilation: Spacing of the kernel taps (conv), 1 for pooling.
        kernel: Kernel side (conv), 0 for pooling.
        frame_ms: Milliseconds per step when playing.
        note: Said when the steps are thinned ("The animation shows every 2nd row and column
            of the 676 positions.").
    """

    kind: Literal["conv", "pool"]
    title: str
    panels: tuple[PlayerPanel, ...]
    labels: tuple[str, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    cells: tuple[tuple[int, int], ...]
    equations: tuple[str, ...]
    kept: tuple[tuple[int, int], ...] = ()
    dilation: int = 1
    kernel: int = 0
    frame_ms: int = 800
    note: str = ""
    colours: dict = field(default_factory=lambda: {"window": WINDOW, "cell": CELL})

    @property
    def steps(self) -> int:
        """How many steps the player has."""
        return len(self.labels)

    def panel(self, role: PanelRole) -> PlayerPanel:
        """The first panel of this role."""
        return next(p for p in self.panels if p.role == role)

    def data(self) -> dict:
        """Everything the browser needs, JSON-ready."""
        return {
            "kind": self.kind, "title": self.title, "note": self.note,
            "frame_ms": self.frame_ms, "dilation": self.dilation, "kernel": self.kernel,
            "colours": {**self.colours, "pad": PAD},
            "panels": [p.data() for p in self.panels],
            "labels": list(self.labels), "boxes": [list(b) for b in self.boxes],
            "cells": [list(c) for c in self.cells], "equations": list(self.equations),
            "kept": [list(k) for k in self.kept],
        }  # fmt: skip


def panel(
    role: PanelRole,
    title: str,
    values: np.ndarray,
    pad: np.ndarray | None = None,
    diverging: bool = False,
    pad_text: str = "0",
) -> PlayerPanel:
    """A panel with its numbers written out and its colour range (symmetric when diverging)."""
    z = np.array(values, dtype=np.float64)
    if pad is not None:
        z[pad] = np.nan
    finite = z[np.isfinite(z)]
    texts = tuple(tuple("" if not np.isfinite(v) else cell_text(v) for v in row) for row in z)
    if diverging:
        span = float(np.abs(finite).max()) if finite.size else 0.0
        span = span or 1.0
        return PlayerPanel(role, title, z, texts, LIGHT_DIVERGING, -span, span, pad_text)
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    return PlayerPanel(
        role, title, z, texts, LIGHT_BLUES, low, high if high > low else low + 1, pad_text
    )


def speed(frames: int, frame_ms: int | None) -> int:
    """About 24 s for the whole animation, 150–900 ms a step, unless a speed is chosen."""
    return frame_ms if frame_ms else int(min(900, max(150, 24000 / max(1, frames))))


def thinning_note(every: int, positions: int) -> str:
    """The sentence a thinned player shows ("" when every position is a step)."""
    if every == 1:
        return ""
    return (
        f"The animation shows every {ordinal(every)} row and column of the {positions} positions."
    )
