"""Activation maximization: what does a channel "look for"? Ask for the input that excites it most.

Starting from faint noise, the input ``x`` (in pixel range [0, 1]) climbs the gradient of the
chosen channel's activation ``a(x)`` at the centre of its map (Erhan et al., 2009; Olah et al.,
"Feature Visualization", Distill 2017)::

    x <- clip(x + lr · Adam(∇x [a(jitter(x)) − lambda · TV(x)]), 0, 1),   blurred every few steps

The centre unit, not the mean over the map: a convolution's mean is a weighted sum of the mean
pixel values, which a flat black or white image maximizes (nothing to see); one unit shows its
pattern at one place, inside its receptive field. For a vector layer (the output), the unit is
the class.

Left alone, the climb finds high-frequency patterns no photograph has. Three usual remedies keep
the picture readable: *jitter* (shift the input by a pixel or two at random before each step, so
the pattern must work wherever it lands), *blur* (a small Gaussian blur every few steps), and a
*frequency* penalty (total variation ``TV``, the summed differences between neighbouring pixels,
which high frequencies make large).

Several channels are optimized together as one batch (image ``i`` climbs channel ``i``), and the
forward pass stops at the chosen layer: the layers after it are never run.

Written here: ``torch-lucent`` (0.1.8, 2021) pins ``kornia<=0.4.1`` and pulls IPython, pytest
plugins and an old ``requests`` as runtime dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from PIL import Image
from torch import nn

from cnnviz.errors import InputError
from cnnviz.explain.adversarial import pixel_image
from cnnviz.explain.core import prepared
from cnnviz.models import Model

__all__ = ["Maximization", "MaximizeOptions", "maximize", "maximize_channels"]

MAX_CHANNELS = 64


@dataclass(frozen=True, slots=True)
class MaximizeOptions:
    """How the input climbs.

    Attributes:
        steps: Gradient steps (1 to 1000).
        learning_rate: Adam's step size, in pixel units.
        jitter: Largest random shift in pixels before each step (0: none; ``None``: 1 pixel per
            32 of the input side).
        blur_every: Blur the input every this many steps (0: never).
        smoothness: Weight lambda of the total-variation (frequency) penalty.
        seed: Seed of the starting noise and the jitter: same seed, same picture.
    """

    steps: int = 96
    learning_rate: float = 0.05
    jitter: int | None = None
    blur_every: int = 4
    smoothness: float = 0.05
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Maximization:
    """The input that one channel (or class) answers most strongly to.

    Attributes:
        layer: The module name.
        channel: The channel (or, for a vector layer such as the output, the unit / class).
        image: The optimized input, as a PIL image of the network's input size.
        history: The channel's centre activation before each step and after the last
            (steps + 1,).
    """

    layer: str
    channel: int
    image: Image.Image = field(repr=False)
    history: np.ndarray = field(repr=False)

    @property
    def start(self) -> float:
        """The activation for the starting noise."""
        return float(self.history[0])

    @property
    def end(self) -> float:
        """The activation for the final image."""
        return float(self.history[-1])


class _Reached(Exception):
    """Raised by the hook once the chosen layer has run: nothing after it is computed."""


def _blur(x: torch.Tensor) -> torch.Tensor:
    """A 3x3 Gaussian blur ([1, 2, 1] / 4 each way) per channel, edges reflected."""
    row = torch.tensor([1.0, 2.0, 1.0]) / 4
    kernel = (row[:, None] * row[None, :]).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), kernel, groups=x.shape[1])


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., 1:] - x[..., :-1]).abs().sum()


def _module(model: Model, layer: str) -> nn.Module:
    modules = dict(model.module.named_modules())
    if layer not in modules or layer == "":
        raise InputError(f"{model.spec.label} has no layer called '{layer}'.")
    return modules[layer]


def _activations(
    model: Model, module: nn.Module, x: torch.Tensor, channels: torch.Tensor
) -> torch.Tensor:
    """Activation of channel ``channels[i]``'s centre unit for input ``i`` (N,); stops at
    ``module``."""
    seen: list[torch.Tensor] = []

    def hook(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        seen.append(output)
        raise _Reached

    mean = torch.tensor(model.spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(model.spec.std).view(1, -1, 1, 1)
    handle = module.register_forward_hook(hook)
    try:
        model.module((x - mean) / std)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not seen or seen[0].dim() not in (2, 4):
        raise InputError("Choose a layer whose output is maps (C, H, W) or a vector.")
    out = seen[0]
    if channels.max() >= out.shape[1]:
        raise InputError(f"That layer has channels 0 to {out.shape[1] - 1}.")
    picked = out[torch.arange(len(channels)), channels]
    if picked.dim() == 1:
        return picked
    return picked[:, picked.shape[1] // 2, picked.shape[2] // 2]


def maximize_channels(
    model: Model,
    layer: str,
    channels: Sequence[int],
    options: MaximizeOptions | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Maximization, ...]:
    """The input each of ``channels`` of ``layer`` answers most strongly to, optimized together.

    Args:
        model: A :class:`cnnviz.Model`; shared models are safe (the call holds its lock and
            restores modes, ``requires_grad`` and hooks).
        layer: A module name (a convolution, a block, or the output layer for classes).
        channels: Channel indices (1 to 64 of them).
        options: Steps and regularization (:class:`MaximizeOptions`).
        progress: Called with the fraction done after each step.

    Returns:
        One :class:`Maximization` per channel, in the order given.

    Raises:
        InputError: Unknown layer, a channel out of range, or too many channels.
    """
    opts = options or MaximizeOptions()
    if not 1 <= len(channels) <= MAX_CHANNELS or not 1 <= opts.steps <= 1000:
        raise InputError(f"Choose 1 to {MAX_CHANNELS} channels and 1 to 1000 steps.")
    if min(channels) < 0:
        raise InputError("Channel numbers start at 0.")
    module = _module(model, layer)
    wanted = torch.tensor(list(channels))
    generator = torch.Generator().manual_seed(opts.seed)
    c, h, w = model.input_size
    x = (0.5 + 0.05 * torch.randn(len(channels), c, h, w, generator=generator)).clamp(0, 1)
    jitter = max(1, h // 32) if opts.jitter is None else opts.jitter
    history = []
    x.requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=opts.learning_rate)
    for step in range(opts.steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator)
        # The lock is held one step at a time: other sessions' probes of this shared model
        # take their turn between steps instead of waiting for the whole climb.
        with model.lock, prepared(model.module):
            shifted = torch.roll(x, (int(dy), int(dx)), dims=(2, 3)) if jitter else x
            value = _activations(model, module, shifted, wanted)
            loss = -value.sum() + opts.smoothness * _total_variation(x) / (h * w)
            optimizer.zero_grad()
            loss.backward()
        history.append(value.detach())
        optimizer.step()
        with torch.no_grad():
            if opts.blur_every and (step + 1) % opts.blur_every == 0:
                x.copy_(_blur(x))
            x.clamp_(0, 1)
        if progress is not None:
            progress((step + 1) / opts.steps)
    with model.lock, prepared(model.module), torch.no_grad():
        history.append(_activations(model, module, x, wanted))
    curves = torch.stack(history, dim=1).numpy()
    images = x.detach()
    return tuple(
        Maximization(layer, int(ch), pixel_image(images[i]), _frozen(curves[i]))
        for i, ch in enumerate(channels)
    )


def maximize(
    model: Model,
    layer: str,
    channel: int,
    options: MaximizeOptions | None = None,
    progress: Callable[[float], None] | None = None,
) -> Maximization:
    """The input that channel ``channel`` of ``layer`` answers most strongly to.

    See :func:`maximize_channels` (this is it for one channel).

    Raises:
        InputError: Unknown layer or a channel out of range.
    """
    return maximize_channels(model, layer, [channel], options, progress)[0]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array
