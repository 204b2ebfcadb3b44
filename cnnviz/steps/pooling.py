"""Pooling step by step (window, chosen cell, output), and max vs average on a real layer.

A pooling layer slides a ``K x K`` window with stride ``S`` over each map on its own and keeps
one number per window: the largest (max pooling; the padding counts as minus infinity, so it is
never chosen) or the mean (average pooling; the zero padding counts, as PyTorch's default
``count_include_pad=True`` does). Global average pooling is one window as large as the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz.errors import InputError
from cnnviz.probe import Layer
from cnnviz.steps.arithmetic import output_size

__all__ = ["PoolStep", "PoolSteps", "PoolingComparison", "compare_pooling", "pool_steps"]

PoolKind = Literal["max", "avg"]


@dataclass(frozen=True, slots=True)
class PoolStep:
    """One output cell of one channel of a pooling.

    Attributes:
        position: (row, col) of the output cell.
        origin: (row, col) of the window's top-left cell in the padded input.
        window: The values under the window (kh, kw); padding is ``-inf`` (max) or 0 (avg).
        is_padding: (kh, kw) True on padding cells.
        chosen: (row, col) inside the window of the kept value (max), else ``None``.
        value: The output value.
    """

    position: tuple[int, int]
    origin: tuple[int, int]
    window: np.ndarray
    is_padding: np.ndarray
    chosen: tuple[int, int] | None
    value: float


@dataclass(frozen=True, slots=True)
class PoolSteps:
    """A whole pooling, with every window and (for max) every chosen cell.

    Attributes:
        kind: ``"max"`` or ``"avg"``.
        padded: The padded input (C, H + 2P, W + 2P), float64.
        is_padding: (H + 2P, W + 2P) True on padding cells.
        size: Window (kh, kw); the whole map for global pooling.
        stride: (sh, sw) between windows.
        padding: Cells ``P`` added on each side.
        output: As ``F.max_pool2d`` / ``F.avg_pool2d`` computes it (C, H', W').
        argmax: For max pooling, (C, H', W', 2) row and col inside each window of the kept
            value (the first largest, as PyTorch picks); for average pooling ``None``.
    """

    kind: PoolKind
    padded: np.ndarray
    is_padding: np.ndarray
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: int
    output: np.ndarray
    argmax: np.ndarray | None

    @property
    def out_shape(self) -> tuple[int, int]:
        """(H', W') of the output."""
        return int(self.output.shape[1]), int(self.output.shape[2])

    @property
    def positions(self) -> int:
        """Output positions per channel (steps of the animation)."""
        return self.out_shape[0] * self.out_shape[1]

    @property
    def is_global(self) -> bool:
        """Whether one window covers the whole map."""
        return self.out_shape == (1, 1) and self.size == self.padded.shape[1:]

    def window_origin(self, row: int, col: int) -> tuple[int, int]:
        """Top-left cell of the window for output (row, col), in padded coordinates."""
        return row * self.stride[0], col * self.stride[1]

    def windows(self, channel: int) -> np.ndarray:
        """Every window of one channel: a read-only view (H', W', kh, kw)."""
        view = sliding_window_view(self.padded[channel], self.size)
        h, w = self.out_shape
        return view[:: self.stride[0], :: self.stride[1]][:h, :w]

    def step(self, row: int, col: int, channel: int = 0) -> PoolStep:
        """The window, chosen cell and value of output ``(channel, row, col)``.

        Raises:
            InputError: The position or channel is outside the output.
        """
        h, w = self.out_shape
        if not (0 <= row < h and 0 <= col < w and 0 <= channel < self.output.shape[0]):
            raise InputError(f"Output position ({row}, {col}) is outside the {h} x {w} output.")
        r, c = self.window_origin(row, col)
        kh, kw = self.size
        chosen = None
        if self.argmax is not None:
            chosen = (
                int(self.argmax[channel, row, col, 0]),
                int(self.argmax[channel, row, col, 1]),
            )
        return PoolStep(
            position=(row, col),
            origin=(r, c),
            window=self.padded[channel, r : r + kh, c : c + kw],
            is_padding=self.is_padding[r : r + kh, c : c + kw],
            chosen=chosen,
            value=float(self.output[channel, row, col]),
        )


def pool_steps(
    x: np.ndarray | torch.Tensor,
    kind: PoolKind = "max",
    size: int | None = 2,
    stride: int | None = None,
    padding: int = 0,
) -> PoolSteps:
    """Pool step by step: the output of ``F.max_pool2d`` / ``F.avg_pool2d`` plus every window.

    Output side: ``floor((W + 2P - K) / S) + 1`` (see :func:`output_size`).

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
    if kind not in ("max", "avg"):
        raise InputError(f"Pooling is 'max' or 'avg', not {kind!r}.")
    array = np.array(
        x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64
    )
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise InputError(f"Pooling needs maps (C, H, W) or (H, W); got shape {array.shape}.")
    if size is None:
        window, steps, padding = array.shape[1:], array.shape[1:], 0
    else:
        step = size if stride is None else stride
        for side in array.shape[1:]:
            output_size(side, size, step, padding)  # raises when nothing fits
        if padding > size // 2:
            raise InputError(
                f"Padding {padding} is more than half the {size}x{size} window: a window could "
                f"hold only padding. Use padding of at most {size // 2}."
            )
        window, steps = (size, size), (step, step)
    t = torch.from_numpy(array)[None]
    with torch.no_grad():
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d
        out = pool(t, window, steps, padding)[0].numpy()
    fill = -np.inf if kind == "max" else 0.0
    pads = ((0, 0), (padding, padding), (padding, padding))
    padded = np.pad(array, pads, constant_values=fill)
    mask = np.pad(np.zeros(array.shape[1:], dtype=bool), padding, constant_values=True)
    argmax = None
    if kind == "max":
        h, w = out.shape[1:]
        views = sliding_window_view(padded, window, axis=(1, 2))[:, :: steps[0], :: steps[1]]
        flat = views[:, :h, :w].reshape(*views.shape[:1], h, w, -1).argmax(axis=-1)
        argmax = np.stack(np.divmod(flat, window[1]), axis=-1)
    for a in (padded, mask, out) + ((argmax,) if argmax is not None else ()):
        a.flags.writeable = False
    return PoolSteps(kind, padded, mask, tuple(window), tuple(steps), padding, out, argmax)


@dataclass(frozen=True, slots=True)
class PoolingComparison:
    """Max and average pooling of the same maps, with the same window.

    Attributes:
        layer: Name of the pooling layer whose input was used.
        kernel: Window side; ``None`` for adaptive (global) pooling.
        stride: Step between windows; ``None`` for adaptive pooling.
        input: The pooling layer's input maps (C, H, W).
        max: Max pooling of the input (C, H', W').
        avg: Average pooling of the input (C, H', W').
    """

    layer: str
    kernel: int | None
    stride: int | None
    input: np.ndarray
    max: np.ndarray
    avg: np.ndarray

    def channel(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input, max-pooled, average-pooled) maps of one channel."""
        return self.input[index], self.max[index], self.avg[index]

    def value_range(self, index: int) -> tuple[float, float]:
        """(min, max) over the three maps of one channel: one colour scale for all three."""
        maps = self.channel(index)
        return min(float(m.min()) for m in maps), max(float(m.max()) for m in maps)


def compare_pooling(layer: Layer) -> PoolingComparison:
    """Pool a pooling layer's own input both ways: keep the largest value, or the mean.

    The layer's own window (kernel, stride, padding) is reused, so one of the two results equals
    what the network computed. Adaptive pooling layers compare adaptive max and average pooling
    to the same output size.

    Args:
        layer: A probed pooling layer whose input was recorded (``Probe.pooling_layers()``).

    Returns:
        The :class:`PoolingComparison`.

    Raises:
        InputError: The layer is not a pooling layer over maps.
    """
    if layer.kind != "pool" or layer.input is None or layer.input.ndim != 3:
        raise InputError(f"{layer.name} is not a pooling layer over feature maps.")
    x = torch.from_numpy(layer.input.copy())[None]  # the recorded array is read-only
    g = layer.geometry
    with torch.no_grad():
        if g is None:
            size = layer.shape[1:]
            pooled_max = F.adaptive_max_pool2d(x, size)
            pooled_avg = F.adaptive_avg_pool2d(x, size)
        else:
            kwargs = {"stride": g.stride, "padding": g.padding, "ceil_mode": g.ceil_mode}
            pooled_max = F.max_pool2d(x, g.kernel, dilation=g.dilation, **kwargs)
            pooled_avg = F.avg_pool2d(
                x,
                g.kernel,
                count_include_pad=g.count_include_pad,
                divisor_override=g.divisor_override,
                **kwargs,
            )
    return PoolingComparison(
        layer=layer.name,
        kernel=g.kernel if g else None,
        stride=g.stride if g else None,
        input=layer.input,
        max=pooled_max[0].numpy(),
        avg=pooled_avg[0].numpy(),
    )
