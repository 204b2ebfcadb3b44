"""Pooling step by step: the windows a pooling layer reads, the value it keeps of each, the output.

A pooling layer treats every map on its own and keeps one number per window: the largest (max
pooling; the padding counts as minus infinity, so it is never kept) or the mean (average pooling;
the padding zeros count in the divisor unless ``count_include_pad=False``). Which windows a layer
reads, fixed or adaptive, is in :mod:`cnnviz.steps.pool_windows`.

The output here is computed from the windows themselves (their maximum, or their sum over the
divisor), not by PyTorch, so the tests can check it against ``F.max_pool2d`` and friends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.errors import InputError
from cnnviz.steps.digest import digest
from cnnviz.steps.pool_windows import Pair, PoolKind, PoolSettings, pool_settings

__all__ = ["PoolStep", "PoolSteps", "pool_steps", "pool_steps_for", "windows_steps"]


@dataclass(frozen=True, slots=True)
class PoolStep:
    """One output cell of one channel of a pooling.

    Attributes:
        position: (row, col) of the output cell.
        origin: (row, col) of the window's top-left cell in the padded input.
        window: The values under the window's taps; padding is ``-inf`` (max) or 0 (avg).
        is_padding: True on padding cells, same shape as ``window``.
        counted: True on the cells that take part (max: no padding; average: padding too
            unless ``count_include_pad=False``).
        chosen: (row, col) inside the window of the kept value (max: the first largest, as
            PyTorch picks), else ``None`` (also when every tap falls on padding).
        kept: The kept cell in padded coordinates (max), else ``None``.
        divisor: What the sum is divided by (average), else ``None``.
        value: The output value.
    """

    position: Pair
    origin: Pair
    window: np.ndarray
    is_padding: np.ndarray
    counted: np.ndarray
    chosen: Pair | None
    kept: Pair | None
    divisor: float | None
    value: float


@dataclass(frozen=True, slots=True)
class PoolSteps:
    """A whole pooling, with every window and (for max) every kept cell.

    Attributes:
        settings: What the pooling does (:class:`PoolSettings`).
        padded: The input with its padding (C, Hp, Wp), float64; padding is ``-inf`` for max
            pooling, 0 for average pooling.
        is_padding: (Hp, Wp) True on padding cells.
        rows: (H', 2) ``[start, stop)`` of the padded rows each output row's window spans.
        cols: (W', 2) the same for the columns.
        output: (C, H', W'): the maximum, or the sum over the divisor, of every window.
    """

    settings: PoolSettings
    padded: np.ndarray
    is_padding: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    output: np.ndarray

    @property
    def kind(self) -> PoolKind:
        """``"max"`` or ``"avg"``."""
        return self.settings.kind

    @property
    def out_shape(self) -> Pair:
        """(H', W') of the output."""
        return int(self.output.shape[1]), int(self.output.shape[2])

    @property
    def positions(self) -> int:
        """Output positions per channel (steps of the animation)."""
        return self.out_shape[0] * self.out_shape[1]

    @property
    def in_shape(self) -> Pair:
        """(H, W) of the input cells shown, padding left out."""
        real = ~self.is_padding
        return int(real.any(axis=1).sum()), int(real.any(axis=0).sum())

    @property
    def is_global(self) -> bool:
        """Whether one window covers the whole map."""
        hp, wp = self.is_padding.shape
        whole = (self.rows[0].tolist(), self.cols[0].tolist()) == ([0, hp], [0, wp])
        return self.out_shape == (1, 1) and whole and not self.is_padding.any()

    @property
    def is_identity(self) -> bool:
        """Whether every window is one cell (the pooling passes its input through)."""
        spans = np.concatenate(
            [self.rows[:, 1] - self.rows[:, 0], self.cols[:, 1] - self.cols[:, 0]]
        )
        return bool((spans == 1).all()) and not self.is_padding.any()

    @property
    def digest(self) -> str:
        """A fingerprint of the input and the windows (a cache key)."""
        return digest(self.padded, self.is_padding, self.rows, self.cols, self.settings)

    def window_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) in padded cells of the window of output (row, col)."""
        (r0, r1), (c0, c1) = self.rows[row], self.cols[col]
        return int(r0), int(c0), int(r1 - r0), int(c1 - c0)

    def window_origin(self, row: int, col: int) -> Pair:
        """Top-left cell of the window for output (row, col), in padded coordinates."""
        return int(self.rows[row, 0]), int(self.cols[col, 0])

    def step(self, row: int, col: int, channel: int = 0) -> PoolStep:
        """The window, kept cell and value of output ``(channel, row, col)``, from the window.

        Raises:
            InputError: The position or channel is outside the output.
        """
        h, w = self.out_shape
        if not (0 <= row < h and 0 <= col < w and 0 <= channel < self.output.shape[0]):
            raise InputError(f"Output position ({row}, {col}) is outside the {h} x {w} output.")
        (r0, r1), (c0, c1) = self.rows[row], self.cols[col]
        dr, dc = self.settings.dilation if self.kind == "max" else (1, 1)
        taps = np.s_[r0:r1:dr, c0:c1:dc]
        window, pad = self.padded[channel][taps], self.is_padding[taps]
        counted = _counted(self.settings, pad)
        chosen = kept = divisor = None
        if self.kind == "max":
            value = -np.inf  # dilated taps can all fall on padding: PyTorch gives -inf too
            if counted.any():
                index = np.unravel_index(np.where(counted, window, -np.inf).argmax(), window.shape)
                chosen = (int(index[0]), int(index[1]))
                kept = (int(r0) + chosen[0] * dr, int(c0) + chosen[1] * dc)
                value = float(window[chosen])
        else:
            divisor = float(self.settings.divisor_override or counted.sum())
            value = float(window[counted].sum() / divisor)
        return PoolStep(
            (row, col), (int(r0), int(c0)), window, pad, counted, chosen, kept, divisor, value
        )


def _counted(settings: PoolSettings, is_padding: np.ndarray) -> np.ndarray:
    if settings.kind == "avg" and settings.count_include_pad:
        return np.ones_like(is_padding)
    return ~is_padding


def _separable(
    values: np.ndarray, rows: np.ndarray, cols: np.ndarray, taps: Pair, reduce: Callable
) -> np.ndarray:
    """Reduce every window of (C, Hp, Wp): first over its rows, then over its columns."""
    by_rows = np.stack([reduce(values[:, a : b : taps[0]], axis=1) for a, b in rows], axis=1)
    return np.stack([reduce(by_rows[:, :, a : b : taps[1]], axis=2) for a, b in cols], axis=2)


def windows_steps(
    padded: np.ndarray,
    is_padding: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    settings: PoolSettings,
) -> PoolSteps:
    """Pool the windows ``rows x cols`` of an already padded input (e.g. a patch of a layer).

    Args:
        padded: (C, Hp, Wp) float64 with the padding filled in (``-inf`` for max, 0 for avg).
        is_padding: (Hp, Wp) True on padding cells.
        rows: (H', 2) ``[start, stop)`` of each output row's window in ``padded``.
        cols: (W', 2) the same for the columns.
        settings: The pooling.
    """
    if settings.kind == "max":
        output = _separable(padded, rows, cols, settings.dilation, np.max)
    else:
        sums = _separable(padded, rows, cols, (1, 1), np.sum)
        counts = _counted(settings, is_padding).astype(np.float64)[None]
        output = sums / (
            settings.divisor_override or _separable(counts, rows, cols, (1, 1), np.sum)
        )
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    for array in (padded, is_padding, rows, cols, output):
        array.flags.writeable = False
    return PoolSteps(settings, padded, is_padding, rows, cols, output)


def pool_steps_for(pool: nn.Module | PoolSettings, x: np.ndarray | torch.Tensor) -> PoolSteps:
    """Pool maps step by step exactly as a pooling layer (or a :class:`PoolSettings`) does.

    Args:
        pool: A pooling module (see :func:`pool_settings`) or its settings.
        x: Maps (C, H, W) or one map (H, W); computed in float64.

    Returns:
        The :class:`PoolSteps`: every window of the whole map.

    Raises:
        InputError: Bad shapes, a pooling the steps cannot show, or no output.
    """
    settings = pool if isinstance(pool, PoolSettings) else pool_settings(pool)
    array = np.array(
        x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64
    )
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise InputError(f"Pooling needs maps (C, H, W) or (H, W); got shape {array.shape}.")
    rows, cols = settings.windows(*array.shape[1:])
    ph, pw = settings.padding
    fill = -np.inf if settings.kind == "max" else 0.0
    padded = np.pad(array, ((0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    mask = np.pad(np.zeros(array.shape[1:], dtype=bool), ((ph, ph), (pw, pw)), constant_values=True)
    return windows_steps(padded, mask, rows, cols, settings)


def pool_steps(
    x: np.ndarray | torch.Tensor,
    kind: PoolKind = "max",
    size: int | None = 2,
    stride: int | None = None,
    padding: int = 0,
) -> PoolSteps:
    """Pool step by step with a square window: every window, the kept cell, the output.

    Output side: ``floor((W + 2P - K) / S) + 1`` (see :func:`output_size`). For a layer's own
    settings (ceil mode, dilation, adaptive windows) use :func:`pool_steps_for`.

    Args:
        x: Maps (C, H, W) or one map (H, W); computed in float64.
        kind: ``"max"`` keeps the largest value of each window, ``"avg"`` the mean.
        size: Window side ``K``; ``None`` for global pooling (one window of the whole map).
        stride: Step ``S``; default ``K`` (windows side by side, as PyTorch does).
        padding: Cells ``P`` added on each side; at most ``K // 2`` (PyTorch's limit).

    Returns:
        The :class:`PoolSteps`.

    Raises:
        InputError: Unknown kind, bad sizes, or settings that give an empty output.
    """
    if size is None:
        settings = PoolSettings(kind, output_size=(1, 1))
    else:
        step = size if stride is None else stride
        settings = PoolSettings(kind, (size, size), (step, step), (padding, padding))
    return pool_steps_for(settings, x)
