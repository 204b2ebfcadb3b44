"""Pooling windows: the settings of a pooling layer and where each of its windows lies.

* Fixed windows (``nn.MaxPool2d``, ``nn.AvgPool2d``): a ``K x K`` window slides with stride
  ``S`` over the map padded by ``P`` on each side; output row ``i`` reads padded rows
  ``i·S + u·D`` for ``u = 0 .. K−1`` (``D``: dilation, max pooling only). The output side is
  ``floor((W + 2P − D(K−1) − 1) / S) + 1``, or ``ceil(...)`` in ceil mode, where the last window
  may hang over the padded map: the cells it misses count for nothing.
* Adaptive windows (``nn.AdaptiveAvgPool2d``, ``nn.AdaptiveMaxPool2d``): the output size
  ``H'`` is given, and output row ``i`` reads input rows ``floor(i·H / H')`` up to
  ``ceil((i + 1)·H / H') − 1``, as PyTorch computes them: windows can differ in size and overlap
  (5 rows to 3: rows 0–1, 1–3, 3–4). Global average pooling is the 1 x 1 case: one window, the
  whole map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch import nn

from cnnviz.errors import InputError
from cnnviz.steps.arithmetic import output_size

__all__ = ["Pair", "PoolKind", "PoolSettings", "pool_settings"]

PoolKind = Literal["max", "avg"]
Pair = tuple[int, int]
_KIND_WORDS = {"max": "max", "avg": "average"}


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """What a pooling layer does: which windows it reads, and what it keeps of each.

    Attributes:
        kind: ``"max"`` keeps the largest value of each window, ``"avg"`` the mean.
        kernel: Window (kh, kw); ``None`` for adaptive pooling.
        stride: Step (sh, sw) between windows; ``None`` for adaptive pooling.
        padding: Cells (ph, pw) added on each side (fixed windows only).
        dilation: Spacing (dh, dw) between window taps (max pooling only).
        ceil_mode: Round the output size up (the last window may be partial).
        count_include_pad: Average pooling: padding zeros count in the divisor.
        divisor_override: Average pooling: divide every sum by this number instead.
        output_size: Adaptive pooling: the output (H', W'); ``None`` keeps that input side.
    """

    kind: PoolKind
    kernel: Pair | None = None
    stride: Pair | None = None
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    output_size: tuple[int | None, int | None] | None = None

    @property
    def adaptive(self) -> bool:
        """Whether the output size, not the window, is given."""
        return self.kernel is None

    def describe(self) -> str:
        """What the layer does, in words: ``"max pooling 3 x 3, stride 2, padding 1"``,
        ``"adaptive average pooling to 6 x 6"``, ``"global average pooling"``."""
        kind = _KIND_WORDS[self.kind]
        if self.kernel is None:
            if self.output_size == (1, 1):
                return f"global {kind} pooling"
            h, w = ("same" if s is None else s for s in self.output_size or (None, None))
            return f"adaptive {kind} pooling to {h} x {w}"
        parts = [
            f"{kind} pooling {self.kernel[0]} x {self.kernel[1]}",
            f"stride {_pair_text(self.stride or self.kernel)}",
            f"padding {_pair_text(self.padding)}",
        ]
        if self.dilation != (1, 1):
            parts.append(f"dilation {_pair_text(self.dilation)}")
        if self.ceil_mode:
            parts.append("ceil mode")
        if self.kind == "avg" and any(self.padding) and not self.count_include_pad:
            parts.append("padding not counted")
        if self.kind == "avg" and self.divisor_override:
            parts.append(f"divided by {self.divisor_override}")
        return ", ".join(parts)

    def windows(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Where every window lies on a ``height x width`` map, in padded coordinates.

        Returns:
            (rows (H', 2), cols (W', 2)): ``[start, stop)`` of each output row's and column's
            window, clipped to the padded map (``height + 2·ph`` rows).

        Raises:
            InputError: The settings give no output for this map.
        """
        _check(self)
        if self.kernel is None:
            out_h, out_w = self.output_size or (1, 1)
            rows = _adaptive_windows(height, out_h or height)
            return rows, _adaptive_windows(width, out_w or width)
        stride = self.stride or self.kernel
        per_axis = zip(
            (height, width), self.kernel, stride, self.padding, self.dilation, strict=True
        )
        rows, cols = (_fixed_windows(*axis, self.ceil_mode) for axis in per_axis)
        return rows, cols


def _pair_text(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]} x {pair[1]}"


def _check(settings: PoolSettings) -> None:
    if settings.kind not in _KIND_WORDS:
        raise InputError(f"Pooling is 'max' or 'avg', not {settings.kind!r}.")
    if settings.kernel is None:
        if any(n is not None and n < 1 for n in settings.output_size or ()):
            raise InputError("An adaptive pooling needs an output of at least 1 x 1 cell.")
        return
    for k, p in zip(settings.kernel, settings.padding, strict=True):
        if 2 * p > k:  # PyTorch's limit, whatever the dilation
            raise InputError(
                f"Padding {p} is more than half the {k}x{k} window: a window could hold only "
                f"padding. Use padding of at most {k // 2}."
            )


def _fixed_windows(
    side: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> np.ndarray:
    n = output_size(side, kernel, stride, padding, dilation, ceil_mode)  # raises if none fits
    starts = np.arange(n) * stride
    stops = np.minimum(starts + dilation * (kernel - 1) + 1, side + 2 * padding)
    return np.stack([starts, stops], axis=1)


def _adaptive_windows(side: int, out: int) -> np.ndarray:
    i = np.arange(out)
    return np.stack([i * side // out, -(-(i + 1) * side // out)], axis=1)  # floor, ceil


def pool_settings(module: nn.Module) -> PoolSettings:
    """The settings of a PyTorch pooling layer, read from the module itself.

    Args:
        module: ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.AdaptiveMaxPool2d`` or
            ``nn.AdaptiveAvgPool2d``.

    Raises:
        InputError: Another kind of pooling (e.g. ``nn.LPPool2d``): the step view does not apply.
    """
    if isinstance(module, nn.AdaptiveMaxPool2d | nn.AdaptiveAvgPool2d):
        out = module.output_size
        size = (out, out) if isinstance(out, int) else tuple(out)
        kind: PoolKind = "max" if isinstance(module, nn.AdaptiveMaxPool2d) else "avg"
        return PoolSettings(kind, output_size=size)  # type: ignore[arg-type]
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        return PoolSettings(
            kind="max" if isinstance(module, nn.MaxPool2d) else "avg",
            kernel=_two(module.kernel_size),
            stride=_two(module.stride or module.kernel_size),
            padding=_two(module.padding),
            dilation=_two(getattr(module, "dilation", 1)),
            ceil_mode=bool(module.ceil_mode),
            count_include_pad=bool(getattr(module, "count_include_pad", True)),
            divisor_override=getattr(module, "divisor_override", None),
        )
    if isinstance(module, nn.LPPool2d):
        raise InputError(
            "The step view does not apply to LPPool2d: it keeps (sum of x^p)^(1/p) of each "
            "window, neither the largest value nor the mean."
        )
    raise InputError(
        f"The step view does not apply to {type(module).__name__}: it animates max and average "
        "pooling (fixed or adaptive windows) only."
    )


def _two(value: int | tuple[int, ...] | list[int]) -> Pair:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[-1])
