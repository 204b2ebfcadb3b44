"""Sliding-window arithmetic: output sizes and parameter counts, with the numbers filled in.

The output side of a convolution or pooling window of size ``K`` sliding with stride ``S`` over
an input of side ``W`` padded by ``P`` on each side, with dilation ``D``::

    out = floor((W + 2P - D(K - 1) - 1) / S) + 1
"""

from __future__ import annotations

import math

from cnnviz.errors import InputError

__all__ = [
    "dense_param_count",
    "dense_param_count_formula",
    "output_size",
    "output_size_formula",
    "param_count",
    "param_count_formula",
]


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


def param_count(
    kernel: int, in_channels: int, out_channels: int, groups: int = 1, bias: bool = True
) -> int:
    """Learnable numbers of a square convolution layer: ``(K·K·C_in/groups + 1) · C_out``.

    Every output channel has one ``K x K`` kernel slice per input channel it reads
    (``C_in / groups`` of them) plus one bias.

    Args:
        kernel: Kernel side ``K`` (>= 1).
        in_channels: Input channels ``C_in`` (>= 1, divisible by ``groups``).
        out_channels: Output channels ``C_out`` (>= 1, divisible by ``groups``).
        groups: Channel groups (1: every output reads every input channel; ``C_in``: depthwise).
        bias: Whether each output channel adds a bias.

    Returns:
        The number of weights and biases.

    Raises:
        InputError: The sizes are not positive or ``groups`` does not divide the channels.
    """
    if min(kernel, in_channels, out_channels, groups) < 1:
        raise InputError("Kernel side, channels and groups must all be at least 1.")
    if in_channels % groups or out_channels % groups:
        raise InputError(
            f"groups={groups} must divide both the input ({in_channels}) and output "
            f"({out_channels}) channels."
        )
    return (kernel * kernel * (in_channels // groups) + int(bias)) * out_channels


def param_count_formula(
    kernel: int, in_channels: int, out_channels: int, groups: int = 1, bias: bool = True
) -> str:
    """The parameter count with the numbers filled in, e.g. ``(3·3·1 + 1)·1 = 10``.

    Raises:
        InputError: See :func:`param_count`.
    """
    total = param_count(kernel, in_channels, out_channels, groups, bias)
    per_group = f"{in_channels}/{groups}" if groups > 1 else f"{in_channels}"
    plus = " + 1" if bias else ""
    return f"({kernel}·{kernel}·{per_group}{plus})·{out_channels} = {total:,}"


def dense_param_count(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Learnable numbers of a fully connected layer from every input value to every output
    value (one weight per pair, one bias per output): ``(N_in + 1) · N_out``.

    Set beside :func:`param_count` it shows parameter sharing: a convolution reuses one small
    kernel at every position, a fully connected layer with the same input and output shapes
    learns a separate weight for every pair of positions.

    Args:
        in_shape: Input shape, e.g. (C_in, H, W).
        out_shape: Output shape, e.g. (C_out, H', W').

    Raises:
        InputError: A shape with a size below 1.
    """
    if not in_shape or not out_shape or min(*in_shape, *out_shape) < 1:
        raise InputError("Every size of both shapes must be at least 1.")
    return (math.prod(in_shape) + 1) * math.prod(out_shape)


def dense_param_count_formula(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    """:func:`dense_param_count` with the numbers filled in, e.g.
    ``(1·32·32 + 1)·(6·28·28) = 4,821,600``."""
    total = dense_param_count(in_shape, out_shape)
    ins, outs = "·".join(map(str, in_shape)), "·".join(map(str, out_shape))
    return f"({ins} + 1)·({outs}) = {total:,}"
