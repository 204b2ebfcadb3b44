"""A convolution, one output position at a time: window, products, sums, bias, total.

A 2-D convolution layer (as every CNN framework computes it: a cross-correlation, the kernel is
not flipped) makes output channel ``o`` at row ``i``, column ``j`` as::

    y[o, i, j] = b[o] + sum over c, u, v of  w[o, c, u, v] * xp[c, i·S + u·D, j·S + v·D]

where ``xp`` is the input padded with ``P`` zeros on each side, ``S`` the stride, ``D`` the
dilation, and ``c`` runs over the input channels that output channel ``o`` reads: all of them
(``groups = 1``), one (depthwise, ``groups = C``) or a group of ``C / groups``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz.errors import InputError
from cnnviz.steps.arithmetic import output_size
from cnnviz.steps.digest import digest

__all__ = [
    "ConvStep",
    "ConvSteps",
    "conv_steps",
    "steps_from_padded",
]


@dataclass(frozen=True, slots=True)
class ConvStep:
    """What one output cell of one output channel is made of.

    Attributes:
        position: (row, col) of the output cell.
        origin: (row, col) of the window's top-left tap in the padded input.
        out_channel: The output channel.
        channels: The input channels this output channel reads (its group).
        window: The input values under the kernel taps (len(channels), K, K).
        is_padding: (K, K) True where a tap falls on the zero padding.
        weights: The kernel slices of those channels (len(channels), K, K).
        products: ``window * weights``, element-wise (len(channels), K, K).
        channel_sums: The sum of the products of each input channel (len(channels),).
        bias: The output channel's bias.
        total: ``channel_sums.sum() + bias``: the output value.
    """

    position: tuple[int, int]
    origin: tuple[int, int]
    out_channel: int
    channels: tuple[int, ...]
    window: np.ndarray
    is_padding: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    bias: float
    total: float


@dataclass(frozen=True, slots=True)
class ConvSteps:
    """A whole convolution, with every output position's window available step by step.

    Attributes:
        padded: The input with its padding, float64 (C, H + 2P, W + 2P).
        is_padding: (H + 2P, W + 2P) True on padding cells (zeros that are not the image).
        weight: The kernels (C_out, C / groups, K, K), float64.
        bias: One bias per output channel (C_out,).
        stride: Step ``S`` between windows.
        padding: Zeros ``P`` added on each side.
        dilation: Spacing ``D`` between kernel taps.
        groups: Channel groups (see the module docstring).
        output: The convolution's output (C_out, H', W'), as ``F.conv2d`` computes it.
    """

    padded: np.ndarray
    is_padding: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    dilation: int
    groups: int
    output: np.ndarray

    @property
    def kernel(self) -> int:
        """Kernel side ``K``."""
        return int(self.weight.shape[-1])

    @property
    def in_channels(self) -> int:
        """Input channels ``C_in`` (every group's)."""
        return int(self.weight.shape[1]) * self.groups

    @property
    def out_channels(self) -> int:
        """Output channels ``C_out``."""
        return int(self.weight.shape[0])

    @property
    def digest(self) -> str:
        """A fingerprint of the input, kernels, bias and settings (a cache key)."""
        settings = (self.stride, self.padding, self.dilation, self.groups)
        return digest(self.padded, self.is_padding, self.weight, self.bias, settings)

    @property
    def span(self) -> int:
        """Input pixels one window covers along a side: ``D(K - 1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def out_shape(self) -> tuple[int, int]:
        """(H', W') of the output."""
        return int(self.output.shape[1]), int(self.output.shape[2])

    @property
    def positions(self) -> int:
        """Number of output positions per channel (steps of the animation)."""
        return self.out_shape[0] * self.out_shape[1]

    def group_channels(self, out_channel: int) -> tuple[int, ...]:
        """The input channels output channel ``out_channel`` reads."""
        per_in = self.padded.shape[0] // self.groups
        group = out_channel // (self.weight.shape[0] // self.groups)
        return tuple(range(group * per_in, (group + 1) * per_in))

    def window_origin(self, row: int, col: int) -> tuple[int, int]:
        """Top-left tap of the window for output (row, col), in padded coordinates."""
        return row * self.stride, col * self.stride

    def windows(self, channel: int) -> np.ndarray:
        """Every window of one input channel: a read-only view (H', W', K, K)."""
        span, s, d = self.span, self.stride, self.dilation
        view = sliding_window_view(self.padded[channel], (span, span))[::s, ::s, ::d, ::d]
        h, w = self.out_shape
        return view[:h, :w]

    def channel_sums(self, out_channel: int = 0) -> np.ndarray:
        """Per-input-channel sums of products at every position (H', W', C / groups)."""
        channels = self.group_channels(out_channel)
        return np.stack(
            [
                np.einsum("ijuv,uv->ij", self.windows(c), self.weight[out_channel, k])
                for k, c in enumerate(channels)
            ],
            axis=-1,
        )

    def totals(self, out_channel: int = 0) -> np.ndarray:
        """Sums of products plus bias at every position (H', W'), computed step by step."""
        return self.channel_sums(out_channel).sum(axis=-1) + self.bias[out_channel]

    def step(self, row: int, col: int, out_channel: int = 0) -> ConvStep:
        """The window, products, sums, bias and total of output ``(out_channel, row, col)``.

        Raises:
            InputError: The position or channel is outside the output.
        """
        h, w = self.out_shape
        if not (0 <= row < h and 0 <= col < w and 0 <= out_channel < self.weight.shape[0]):
            raise InputError(
                f"Output position ({row}, {col}) of channel {out_channel} is outside the "
                f"{self.weight.shape[0]} x {h} x {w} output."
            )
        channels = self.group_channels(out_channel)
        r, c = self.window_origin(row, col)
        taps = np.s_[r : r + self.span : self.dilation, c : c + self.span : self.dilation]
        window = self.padded[list(channels)][(slice(None), *taps)]
        products = window * self.weight[out_channel]
        sums = products.sum(axis=(1, 2))
        bias = float(self.bias[out_channel])
        return ConvStep(
            position=(row, col),
            origin=(r, c),
            out_channel=out_channel,
            channels=channels,
            window=window,
            is_padding=self.is_padding[taps],
            weights=self.weight[out_channel],
            products=products,
            channel_sums=sums,
            bias=bias,
            total=float(sums.sum() + bias),
        )


def _as_chw(x: np.ndarray | torch.Tensor) -> np.ndarray:
    array = np.array(
        x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64
    )
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise InputError(f"The input must be (H, W) or (C, H, W); got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise InputError("The input holds values that are not finite numbers (NaN or infinity).")
    return array


def _as_kernels(weight: np.ndarray | torch.Tensor) -> np.ndarray:
    w = np.array(
        weight.detach().cpu().numpy() if isinstance(weight, torch.Tensor) else weight,
        dtype=np.float64,
    )
    if w.ndim == 2:
        w = w[None, None]
    if w.ndim != 4 or min(w.shape) < 1:
        raise InputError(f"The kernel must be (K, K) or (C_out, C_in, K, K); got {w.shape}.")
    if w.shape[-1] != w.shape[-2]:
        raise InputError(f"Only square kernels are animated; this one is {w.shape[-2:]}.")
    if not np.isfinite(w).all():
        raise InputError("The kernel holds values that are not finite numbers.")
    return w


def _check_groups(channels: int, weight: np.ndarray, groups: int) -> None:
    out_channels, per_group = weight.shape[:2]
    if groups < 1 or channels % groups or out_channels % groups:
        raise InputError(
            f"groups={groups} must divide both the input ({channels}) and the output "
            f"({out_channels}) channels."
        )
    if per_group * groups != channels:
        raise InputError(
            f"The kernel reads {per_group} channel(s) per group x {groups} group(s) = "
            f"{per_group * groups}, but the input has {channels} channel(s)."
        )


def conv_steps(
    x: np.ndarray | torch.Tensor,
    weight: np.ndarray | torch.Tensor,
    bias: float | np.ndarray | torch.Tensor = 0.0,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> ConvSteps:
    """Convolve step by step: the output of ``F.conv2d`` plus every position's window.

    Output side: ``floor((W + 2P - D(K-1) - 1) / S) + 1`` (see :func:`output_size`).

    Args:
        x: Input (C, H, W) or (H, W); computed in float64.
        weight: Kernels (C_out, C / groups, K, K) or one kernel (K, K); square.
        bias: One number for every output channel, or one per output channel (C_out,).
        stride: Step ``S`` >= 1 between windows.
        padding: Zeros ``P`` >= 0 added on each side.
        dilation: Spacing ``D`` >= 1 between kernel taps.
        groups: Channel groups: 1 (ordinary), ``C`` (depthwise), or any common divisor.

    Returns:
        The :class:`ConvSteps`; ``.output`` equals ``F.conv2d`` with the same settings.

    Raises:
        InputError: Shapes do not fit together, or the settings give an empty output.
    """
    array, w = _as_chw(x), _as_kernels(weight)
    _check_groups(array.shape[0], w, groups)
    kernel = w.shape[-1]
    for side in array.shape[1:]:
        output_size(side, kernel, stride, padding, dilation)  # raises when nothing fits
    b = np.asarray(
        bias.detach().cpu().numpy() if isinstance(bias, torch.Tensor) else bias, np.float64
    )
    if b.size not in (1, w.shape[0]):
        raise InputError(f"Give one bias, or one per output channel ({w.shape[0]}); got {b.size}.")
    b = np.broadcast_to(b.reshape(-1), (w.shape[0],)).copy()
    with torch.no_grad():
        out = F.conv2d(
            torch.from_numpy(array)[None], torch.from_numpy(w), torch.from_numpy(b),
            stride=stride, padding=padding, dilation=dilation, groups=groups,
        )[0].numpy()  # fmt: skip
    padded = np.pad(array, ((0, 0), (padding, padding), (padding, padding)))
    mask = np.pad(np.zeros(array.shape[1:], dtype=bool), padding, constant_values=True)
    return steps_from_padded(padded, mask, w, b, (stride, padding, dilation, groups), out)


def steps_from_padded(
    padded: np.ndarray,
    is_padding: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    settings: tuple[int, int, int, int],
    output: np.ndarray | None = None,
) -> ConvSteps:
    """Build :class:`ConvSteps` from an already padded input (e.g. a patch of a real layer).

    Args:
        padded: Input with its padding (C, Hp, Wp), float64.
        is_padding: (Hp, Wp) True on padding cells.
        weight: (C_out, C / groups, K, K) float64.
        bias: (C_out,) float64.
        settings: (stride, padding, dilation, groups); padding is for display only here.
        output: The output if already computed; else ``F.conv2d`` of ``padded`` without padding.
    """
    stride, padding, dilation, groups = settings
    if output is None:
        with torch.no_grad():
            output = F.conv2d(
                torch.from_numpy(padded)[None], torch.from_numpy(weight),
                torch.from_numpy(bias), stride=stride, dilation=dilation, groups=groups,
            )[0].numpy()  # fmt: skip
    for array in (padded, is_padding, weight, bias, output):
        array.flags.writeable = False
    return ConvSteps(padded, is_padding, weight, bias, stride, padding, dilation, groups, output)
