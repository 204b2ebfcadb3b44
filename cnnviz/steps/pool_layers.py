"""Pooling on a real layer: its own windows on its real input, and max vs average on the same.

The settings come from the module itself (:func:`cnnviz.steps.pool_settings`), the input is what
the probe recorded, so the block animated is what the network computed; :meth:`PoolPatch.difference`
says how far apart the two are (float rounding only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention

from cnnviz.errors import InputError
from cnnviz.models import Model
from cnnviz.probe import Layer
from cnnviz.steps.layers import layer_module
from cnnviz.steps.pool_windows import Pair, pool_settings
from cnnviz.steps.pooling import PoolSteps, windows_steps

__all__ = ["BLOCK", "PoolPatch", "PoolingComparison", "compare_pooling", "pool_patch"]

BLOCK = 6
"""Output cells a side of the block a step view animates (maps up to 8 a side: all of them)."""


@dataclass(frozen=True, slots=True)
class PoolPatch:
    """A block of a real pooling layer's output, with the windows it reads of the real input.

    Attributes:
        layer: Name of the layer.
        channels: The channels pooled (``steps`` channel ``k`` is channel ``channels[k]``).
        origin: (row, col) of the block's top-left cell in the layer's whole output map.
        out_size: (H', W') of the layer's whole output map.
        input_origin: (row, col) of the first real input cell shown, in the whole input map.
        in_size: (H, W) of the layer's whole input map.
        steps: The :class:`PoolSteps` of the block.
    """

    layer: str
    channels: tuple[int, ...]
    origin: Pair
    out_size: Pair
    input_origin: Pair
    in_size: Pair
    steps: PoolSteps

    @property
    def region(self) -> str:
        """Which part of the input map is shown: ``"the whole map"`` or the rows and columns."""
        (top, left), (h, w) = self.input_origin, self.steps.in_shape
        if (h, w) == self.in_size:
            return "the whole map"
        return (
            f"rows {top}–{top + h - 1}, columns {left}–{left + w - 1} of the "
            f"{self.in_size[0]} x {self.in_size[1]} map"
        )

    def difference(self, recorded: np.ndarray) -> float:
        """Largest ``|difference|`` between the block and the same block of what the layer
        computed in the network (its recorded output, (C, H', W'))."""
        r0, c0 = self.origin
        n_h, n_w = self.steps.out_shape
        real = recorded[list(self.channels), r0 : r0 + n_h, c0 : c0 + n_w]
        return float(np.abs(self.steps.output - real).max())


def _block(windows: np.ndarray, size: int | None) -> tuple[int, int]:
    """First and count of the output cells in the middle block along one side."""
    n = len(windows)
    count = n if size is None or n <= size + 2 else size
    return (n - count) // 2, count


def pool_patch(
    model: Model, layer: Layer, channels: Sequence[int] | None = None, size: int | None = BLOCK
) -> PoolPatch:
    """A real pooling layer, step by step, on the middle block of its output.

    The layer's own settings are read from its module; its windows are laid on its recorded
    input, with its padding where the block touches the border. The middle of the map is where
    the object usually is.

    Args:
        model: The model the layer belongs to.
        layer: A probed pooling layer with its recorded input (``Probe.pooling_layers()``).
        channels: The channels to pool (default all).
        size: Block side in output cells; ``None``, or a map at most ``size + 2`` cells a side,
            gives the whole output map.

    Raises:
        InputError: Not a pooling layer over maps, a channel that does not exist, or a pooling
            the step view does not apply to (e.g. ``nn.LPPool2d``).
    """
    if layer.kind != "pool" or layer.input is None or layer.input.ndim != 3:
        raise InputError(f"{layer.name} is not a pooling layer over feature maps.")
    module = layer_module(model, layer.name)
    if module is None:
        raise InputError(f"{layer.name} is not a layer of {model.spec.label}.")
    settings = pool_settings(module)
    c, h, w = layer.input.shape
    picked = tuple(range(c)) if channels is None else tuple(int(k) for k in channels)
    if not all(0 <= k < c for k in picked):
        raise InputError(f"{layer.name} has {c} channels; pick 0..{c - 1}.")
    rows, cols = settings.windows(h, w)
    if (len(rows), len(cols)) != layer.shape[1:]:  # the module was misread
        raise InputError(f"{layer.name}'s windows do not give its {layer.shape[1:]} output.")
    out_size = (len(rows), len(cols))
    (r0, n_h), (c0, n_w) = _block(rows, size), _block(cols, size)
    rows, cols = rows[r0 : r0 + n_h], cols[c0 : c0 + n_w]
    (top, bottom), (left, right) = (rows[0, 0], rows[-1, 1]), (cols[0, 0], cols[-1, 1])
    ph, pw = settings.padding
    real_rows = slice(max(0, top - ph), min(h, bottom - ph))
    real_cols = slice(max(0, left - pw), min(w, right - pw))
    pads = ((0, 0), (max(0, ph - top), max(0, bottom - ph - h)),
            (max(0, pw - left), max(0, right - pw - w)))  # fmt: skip
    x = np.asarray(layer.input[list(picked), real_rows, real_cols], dtype=np.float64)
    fill = -np.inf if settings.kind == "max" else 0.0
    padded = np.pad(x, pads, constant_values=fill)
    mask = np.pad(np.zeros(x.shape[1:], dtype=bool), pads[1:], constant_values=True)
    steps = windows_steps(padded, mask, rows - top, cols - left, settings)
    origin = (int(real_rows.start), int(real_cols.start))
    return PoolPatch(layer.name, picked, (r0, c0), out_size, origin, (h, w), steps)


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
