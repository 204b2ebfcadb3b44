"""The layout shared by the step animations: panels, moving traces, light frames, numbers.

Everything is built as plain dicts (see :class:`AnimatedFigure` for why): the panels' heatmaps
are drawn once; each frame only carries the traces listed in ``_Builder.moving``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

MAX_FRAMES = 400
WINDOW = "#ff7f0e"
CELL = "#d62728"
COVER = "rgba(255, 255, 255, 0.9)"
LIGHT_BLUES = [[0.0, "#f7fbff"], [1.0, "#7fb2e0"]]
LIGHT_DIVERGING = [[0.0, "#6fa8dc"], [0.5, "#f7f7f7"], [1.0, "#e8857a"]]
DIVERGING = [[0.0, "#2166ac"], [0.5, "#f7f7f7"], [1.0, "#b2182b"]]
GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
PAD_GREY = [[0.0, "#e0e0e0"], [1.0, "#e0e0e0"]]
PLOT_PX = (900, 330)  # about the width and panel height the page gives the figure
MIN_FONT = 11  # cells too small for numbers this size show colours only (hover shows values)


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


def _paren(value: float) -> str:
    text = cell_text(value)
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


def _font(
    texts: list[list[str]], cell_px: float, lines: int = 1, least: int = MIN_FONT
) -> int | None:
    """The largest font (<= 26 px) whose longest text fits a cell, or ``None`` if under 11."""
    longest = max((len(t) for row in texts for t in row), default=1)
    size = min(26.0, 0.95 * cell_px / (0.55 * max(longest, 2)), 0.8 * cell_px / (1.3 * lines))
    return int(size) if size >= least else None


def _rect(r0: float, c0: float, h: float, w: float) -> tuple[list, list]:
    xs = [c0 - 0.5, c0 + w - 0.5, c0 + w - 0.5, c0 - 0.5, c0 - 0.5]
    ys = [r0 - 0.5, r0 - 0.5, r0 + h - 0.5, r0 + h - 0.5, r0 - 0.5]
    return xs, ys


def _cover(i: int, j: int, rows: int, cols: int) -> tuple[list, list]:
    """Two rectangles over the output cells after (i, j) in reading order."""
    xa, ya = _rect(i, j + 1, 1, cols - j - 1)
    xb, yb = _rect(i + 1, 0, rows - i - 1, cols)
    return [*xa, None, *xb], [*ya, None, *yb]


@dataclass(frozen=True, slots=True)
class _Grid:
    """One static heatmap panel."""

    title: str
    z: np.ndarray
    colorscale: object
    mid: float | None = None
    pad: np.ndarray | None = None
    pad_text: str = "0"
    span: float | None = None
    moving: bool = False
    texts: tuple[list[list[str]], ...] = ()
    """Candidate cell texts, best first; the first that fits is drawn (default: the values)."""


def _plain(values: np.ndarray) -> list:
    """A JSON-ready nested list: 5 significant digits, NaN as null (no cell)."""
    rounded = np.asarray(values, dtype=np.float64)
    out = (
        np.vectorize(lambda v: float(f"{v:.5g}"), otypes=[object])(rounded)
        if rounded.size
        else rounded
    )
    out[~np.isfinite(rounded)] = None
    return out.tolist()


class _Builder:
    """Lays out the panels in one row, the equation strip below, and the moving traces.

    Everything is a plain dict (see :class:`AnimatedFigure` for why).
    """

    def __init__(self, grids: list[_Grid], title: str) -> None:
        widest = max(g.z.shape[1] for g in grids)
        # Each panel gets at least ~30% of the widest one, so a kernel beside a large input
        # still has room for its numbers.
        widths = [max(3, g.z.shape[1], (0.45 if g.moving else 0.3) * widest) for g in grids]
        gap = 0.035
        room = 1 - gap * (len(grids) - 1)
        tallest = max(g.z.shape[0] for g in grids)
        self.data: list[dict] = []
        self.moving: list[int] = []
        self.text_choice: dict[int, int] = {}  # trace index -> which of its texts fitted
        self.layout: dict = {
            "title": {"text": title, "x": 0.01, "font": {"size": 20}},
            "height": int(min(780, max(450, 26 * tallest + 330))),
            "margin": {"l": 10, "r": 24, "t": 70, "b": 90},
            "plot_bgcolor": "white", "showlegend": False, "annotations": [],
        }  # fmt: skip
        left = 0.0
        for col, (grid, width) in enumerate(zip(grids, widths, strict=True), start=1):
            right = left + room * width / sum(widths)
            self._axes(col, (left, right), grid.z.shape)
            self.layout["annotations"].append({
                "text": grid.title, "x": (left + right) / 2, "y": 1.0, "xref": "paper",
                "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                "font": {"size": 17},
            })  # fmt: skip
            rows, cols = grid.z.shape
            cell_px = min(PLOT_PX[0] * (right - left) / cols, PLOT_PX[1] / rows)
            self._heatmap(grid, col, cell_px)
            left = right + gap
        self.text_axes = len(grids) + 1
        n = self.text_axes
        self.layout[f"xaxis{n}"] = {"domain": [0, 1], "range": [0, 1], "visible": False,
                                    "anchor": f"y{n}", "fixedrange": True}  # fmt: skip
        self.layout[f"yaxis{n}"] = {"domain": [0, 0.17], "range": [0, 1], "visible": False,
                                    "anchor": f"x{n}", "fixedrange": True}  # fmt: skip

    @staticmethod
    def _ids(col: int) -> tuple[str, str]:
        """Plotly's axis ids of panel ``col``: ``x``/``y`` for the first (plotly.js has no
        ``x1``: it quietly ignores ``scaleanchor: "x1"``, which stretched the first panel's
        cells), ``x2``/``y2``... for the others."""
        suffix = "" if col == 1 else str(col)
        return f"x{suffix}", f"y{suffix}"

    def _axes(self, col: int, domain: tuple[float, float], shape: tuple[int, ...]) -> None:
        rows, cols = shape
        x, y = self._ids(col)
        self.layout[f"xaxis{x[1:]}"] = {
            "domain": [round(max(0.0, domain[0]), 6), round(min(1.0, domain[1]), 6)],
            "range": [-0.5, cols - 0.5], "visible": False, "constrain": "domain", "anchor": y,
        }  # fmt: skip
        self.layout[f"yaxis{y[1:]}"] = {
            "domain": [0.25, 1.0], "range": [rows - 0.5, -0.5], "visible": False,
            "scaleanchor": x, "constrain": "domain", "anchor": x,
        }  # fmt: skip

    def _trace(self, trace: dict, col: int) -> None:
        x, y = self._ids(col)
        trace.update(xaxis=x, yaxis=y)
        self.data.append(trace)

    def _heatmap(self, grid: _Grid, col: int, cell_px: float) -> None:
        candidates = grid.texts or ([[cell_text(v) for v in r] for r in grid.z],)
        font, text = None, None
        for number_, candidate in enumerate(candidates):
            lines = candidate[0][0].count("<br>") + 1
            plain = [[max(t.replace("<b>", "").replace("</b>", "").split("<br>"), key=len)
                      for t in row] for row in candidate]  # fmt: skip
            # A richer text that only fits small gives way to a plainer one in a larger font.
            least = MIN_FONT if number_ == len(candidates) - 1 else 15
            font = _font(plain, cell_px, lines, least)
            if font is not None:
                text = candidate
                self.text_choice[len(self.data)] = number_
                break
        show = font is not None
        z = np.where(grid.pad, np.nan, grid.z) if grid.pad is not None else grid.z
        finite = z[np.isfinite(z)]
        span = grid.span or (float(np.abs(finite).max()) if finite.size else 0.0) or 1.0
        if text is not None and grid.pad is not None:
            text = [[t if not p else "" for t, p in zip(r, m, strict=True)]
                    for r, m in zip(text, grid.pad, strict=True)]  # fmt: skip
        trace = {
            "type": "heatmap", "z": _plain(z), "showscale": False,
            "colorscale": grid.colorscale if show else (
                DIVERGING if grid.mid is not None else GRAY),
            "hovertemplate": "row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        }  # fmt: skip
        if grid.mid is not None:
            trace.update(zmin=-span, zmax=span, zmid=0.0)
        if show:
            trace.update(text=text, texttemplate="%{text}",
                         textfont={"size": font},
                         xgap=2, ygap=2)  # fmt: skip
        self._trace(trace, col)
        if grid.moving:
            self.moving.append(len(self.data) - 1)
        if grid.pad is not None and grid.pad.any():
            pad = {
                "type": "heatmap", "z": _plain(np.where(grid.pad, 0.0, np.nan)),
                "colorscale": PAD_GREY, "showscale": False,
                "hovertemplate": "padding<extra></extra>",
            }  # fmt: skip
            if show:
                pad.update(
                    text=[[grid.pad_text if p else "" for p in row] for row in grid.pad],
                    texttemplate="%{text}", xgap=2, ygap=2,
                    textfont={"size": font, "color": "#8a8a8a"},
                )  # fmt: skip
            self._trace(pad, col)

    def add(self, trace: dict, col: int, text_strip: bool = False) -> None:
        """Add a trace that moves from frame to frame (``text_strip``: the equation line)."""
        self._trace(trace, self.text_axes if text_strip else col)
        self.moving.append(len(self.data) - 1)

    def animate(
        self, frames: list[tuple[str, list[dict]]], frame_ms: int, note: str
    ) -> AnimatedFigure:
        """Frames (name, moving trace updates), Play/Pause and a slider."""
        for index, update in zip(self.moving, frames[0][1], strict=True):
            self.data[index].update(update)
        kinds = [self.data[i]["type"] for i in self.moving]
        plain = [
            {"name": name, "traces": self.moving,
             "data": [{"type": t, **d} for t, d in zip(kinds, data, strict=True)]}
            for name, data in frames
        ]  # fmt: skip
        many = len(frames) > 24
        play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
                "transition": {"duration": 0}, "mode": "immediate"}  # fmt: skip
        pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                 "transition": {"duration": 0}}  # fmt: skip
        self.layout["updatemenus"] = [{
            "type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left",
            "yanchor": "top", "pad": {"t": 4, "r": 8}, "showactive": False, "font": {"size": 15},
            "buttons": [
                {"label": "▶ Play", "method": "animate", "args": [None, play]},
                {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]},
            ],
        }]  # fmt: skip
        self.layout["sliders"] = [{
            "active": 0, "x": 0.24, "len": 0.76, "y": -0.02, "yanchor": "top",
            "pad": {"t": 4}, "ticklen": 0 if many else 5, "minorticklen": 0,
            "font": {"color": "rgba(0,0,0,0)" if many else "#444"},
            "currentvalue": {"prefix": f"{note}output cell (row, col) = ",
                             "font": {"size": 16, "color": "#222"}},
            "steps": [
                {"label": name, "method": "animate",
                 "args": [[name], {**pause, "frame": {"duration": 0, "redraw": True}}]}
                for name, _ in frames
            ],
        }]  # fmt: skip
        return AnimatedFigure({"data": self.data, "layout": self.layout, "frames": plain})


class AnimatedFigure(go.Figure):
    """A plotly figure kept as the plain dict it is built from.

    Building and validating the ``go`` objects of a few hundred frames took about 1.5 s for a
    28 x 28 input (measured, plotly 6), against a 300 ms budget; this figure is assembled from
    known-good pieces, so it skips that. ``to_dict()`` (what Streamlit, ``to_json``, ``show``
    and ``write_html`` read) returns the whole figure; the ``go`` view (``.data``, ``.layout``)
    of this object stays empty.
    """

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self._spec = spec

    @property
    def spec(self) -> dict:
        """The figure: ``{"data", "layout", "frames"}``."""
        return self._spec

    def to_dict(self) -> dict:
        """The whole figure as a dict (shared, do not modify)."""
        return self._spec

    def to_plotly_json(self) -> dict:
        """Same as :meth:`to_dict`."""
        return self._spec


def _window_trace(xs: list, ys: list) -> dict:
    return {"type": "scatter", "x": xs, "y": ys, "mode": "lines",
            "line": {"color": WINDOW, "width": 5}, "hoverinfo": "skip"}  # fmt: skip


def _cell_trace() -> dict:
    return {"type": "scatter", "mode": "lines", "line": {"color": CELL, "width": 5},
            "hoverinfo": "skip"}  # fmt: skip


def _cover_trace() -> dict:
    return {"type": "scatter", "mode": "lines", "fill": "toself", "fillcolor": COVER,
            "line": {"width": 0}, "hoverinfo": "skip"}  # fmt: skip


def _text_trace() -> dict:
    return {"type": "scatter", "x": [0.5], "y": [0.5], "mode": "text",
            "textfont": {"size": 19, "color": "#222"}, "hoverinfo": "skip"}  # fmt: skip


def _cell_traces(i: int, j: int, rows: int, cols: int) -> tuple[dict, dict]:
    xs, ys = _rect(i, j, 1, 1)
    cx, cy = _cover(i, j, rows, cols)
    return {"x": xs, "y": ys}, {"x": cx, "y": cy}
