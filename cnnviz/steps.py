"""Sliding-window arithmetic: output sizes and pooling comparisons (numpy and torch, no UI).

The output side of a convolution or pooling window of size ``K`` sliding with stride ``S`` over
an input of side ``W`` padded by ``P`` on each side, with dilation ``D``::

    out = floor((W + 2P - D(K - 1) - 1) / S) + 1
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention

from cnnviz.errors import InputError
from cnnviz.probe import Layer

__all__ = ["PoolingComparison", "compare_pooling", "output_size", "output_size_formula"]


def output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Side of the output of a sliding window: ``floor((W + 2P - D(K-1) - 1) / S) + 1``.

    Args:
        size: Input side ``W`` in pixels (>= 1).
        kernel: Window side ``K`` (>= 1).
        stride: Step ``S`` between windows (>= 1).
        padding: Pixels ``P`` added on each side (>= 0).
        dilation: Spacing ``D`` between window taps (>= 1).
        ceil_mode: Round up instead of down (PyTorch pooling option); a last window that would
            start entirely in the right padding is dropped, as PyTorch does.

    Returns:
        The output side (>= 1).

    Raises:
        InputError: The settings give no output (the window does not fit).
    """
    if min(size, kernel, stride, dilation) < 1 or padding < 0:
        raise InputError("Sizes, kernel, stride and dilation must be at least 1; padding >= 0.")
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if room < 0:
        raise InputError(
            f"A {kernel}x{kernel} window (dilation {dilation}, so it spans {span} pixels) does "
            f"not fit in {size} pixels with padding {padding}: make the kernel or dilation "
            "smaller, or add padding."
        )
    out = (math.ceil(room / stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def output_size_formula(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> str:
    """The output-size formula with the numbers filled in, for the page.

    Example: ``floor((28 + 2·0 − 1·(2 − 1) − 1) / 2) + 1 = 14``; ``ceil`` in ceil mode.

    Raises:
        InputError: The settings give no output (see :func:`output_size`).
    """
    out = output_size(size, kernel, stride, padding, dilation, ceil_mode)
    rounding = "ceil" if ceil_mode else "floor"
    return (
        f"{rounding}(({size} + 2·{padding} − {dilation}·({kernel} − 1) − 1) / {stride}) + 1 = {out}"
    )


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
