"""A real convolution layer of a real network, animated on a patch of its real input.

The layer's own kernel, bias, stride, padding, dilation and groups are read from the module; its
input is recorded with one forward hook (removed in ``finally``, under the model's lock). One
output channel is animated on a small block of its output map: the patch of the input that block
reads, with the layer's zero padding where the block touches the border.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.errors import InputError
from cnnviz.models import Model
from cnnviz.steps.convolution import ConvSteps, steps_from_padded

__all__ = [
    "LayerPatch",
    "conv_layer_input",
    "conv_layers",
    "first_conv",
    "first_conv_name",
    "first_conv_weight",
    "layer_module",
    "layer_patch",
]


@dataclass(frozen=True, slots=True)
class LayerPatch:
    """One output channel of a real layer on a block of its output.

    Attributes:
        layer: Module path of the layer.
        out_channel: The animated output channel.
        channels: The input channels it reads (all of them, or its group).
        groups: The layer's groups (``C_in`` for a depthwise convolution).
        origin: (row, col) of the block's top-left cell in the layer's whole output map.
        out_size: (H, W) of the layer's whole output map.
        steps: The :class:`ConvSteps` of the block (one output channel, its input channels).
    """

    layer: str
    out_channel: int
    channels: tuple[int, ...]
    groups: int
    origin: tuple[int, int]
    out_size: tuple[int, int]
    steps: ConvSteps

    @property
    def kind(self) -> str:
        """ "depthwise", "pointwise", "grouped" or "standard"."""
        in_channels = len(self.channels) * self.groups
        if self.groups > 1 and self.groups == in_channels:
            return "depthwise"
        if self.steps.kernel == 1:
            return "pointwise"
        return "grouped" if self.groups > 1 else "standard"

    def difference(self, recorded: np.ndarray) -> float:
        """Largest ``|difference|`` between the block and the same block of what the layer
        computed in the network (its recorded output, (C_out, H, W))."""
        r0, c0 = self.origin
        n_h, n_w = self.steps.out_shape
        real = recorded[self.out_channel, r0 : r0 + n_h, c0 : c0 + n_w]
        return float(np.abs(self.steps.output[0] - real).max())


def conv_layers(model: Model) -> tuple[str, ...]:
    """Names of the square, zero-padded 2-D convolutions of a model, in definition order."""
    return tuple(
        name
        for name, m in model.module.named_modules()
        if isinstance(m, nn.Conv2d)
        and m.kernel_size[0] == m.kernel_size[1]
        and len(set(m.stride)) == 1
        and len(set(m.dilation)) == 1
        and m.padding_mode == "zeros"
    )


def first_conv_name(weights: nn.Module | Mapping[str, torch.Tensor]) -> str | None:
    """Module path of a network's first 2-D convolution, or ``None`` when it has none.

    The one definition of "the first convolution" in cnnviz: the first ``<path>.weight`` with
    four dimensions (C_out, C_in / groups, kH, kW) in definition order, which is the order of the
    state dict and, for every network of the registry, the order the image meets the layers.
    A state dict carries no module types, so the same rule serves modules and saved weights.

    Args:
        weights: A module, or a state dict (e.g. a training snapshot).
    """
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    for key, tensor in state.items():
        path, _, leaf = key.rpartition(".")
        if leaf == "weight" and tensor.ndim == 4:
            return path
    return None


def first_conv_weight(weights: nn.Module | Mapping[str, torch.Tensor]) -> tuple[str, torch.Tensor]:
    """The first 2-D convolution (see :func:`first_conv_name`): its path and its weight.

    Returns:
        (path, weight (C_out, C_in / groups, kH, kW)) as stored, not copied.

    Raises:
        InputError: No 2-D convolution in these weights.
    """
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    name = first_conv_name(state)
    if name is None:
        raise InputError("These weights hold no convolution: no 4-D '<layer>.weight' tensor.")
    return name, state[f"{name}.weight"]


def first_conv(model: Model) -> tuple[str, np.ndarray, np.ndarray]:
    """The first convolution's name, learned kernels (C_out, C_in, kH, kW) and biases (C_out,).

    Raises:
        InputError: The model has no 2-D convolution.
    """
    state = model.module.state_dict()
    name = first_conv_name(state)
    if name is None:
        raise InputError(f"{model.spec.label} has no 2-D convolution.")
    weight = state[f"{name}.weight"].detach().double().cpu().numpy()
    bias = state.get(f"{name}.bias")
    biases = bias.detach().double().cpu().numpy() if bias is not None else np.zeros(len(weight))
    return name, weight, biases


def layer_module(model: Model, name: str) -> nn.Module | None:
    """The module behind a probed layer name: its path, or ``<path>_<k>`` for its k-th call."""
    modules = dict(model.module.named_modules())
    return modules.get(name if name in modules else name.rsplit("_", 1)[0])


def _module(model: Model, name: str) -> nn.Conv2d:
    module = layer_module(model, name)
    if not isinstance(module, nn.Conv2d):
        raise InputError(f"{name} is not a 2-D convolution layer of {model.spec.label}.")
    return module


def conv_layer_input(model: Model, image: Image.Image, name: str) -> np.ndarray:
    """The input a convolution layer receives for ``image``: float32 (C, H, W), read-only.

    Runs the model once with a hook on that layer (removed afterwards, modes restored). A layer
    called more than once (a name with ``_1``, ``_2``) gives that call's input.

    Raises:
        InputError: No such convolution layer.
    """
    module = _module(model, name)
    call = int(name.rsplit("_", 1)[1]) if name not in dict(model.module.named_modules()) else 0
    seen: list[torch.Tensor] = []

    def hook(_: nn.Module, args: tuple) -> None:
        seen.append(args[0].detach().clone())

    x = model.preprocess(image)
    with model.lock:
        modes = [(m, m.training) for m in model.module.modules()]
        handle = module.register_forward_pre_hook(hook)
        try:
            model.module.eval()
            with torch.no_grad():
                model.module(x)
        finally:
            handle.remove()
            for m, training in modes:
                m.training = training
    if len(seen) <= call:
        raise InputError(f"{name} did not run for this image.")
    array = seen[call][0].float().numpy()
    array.flags.writeable = False
    return array


def _padding(module: nn.Conv2d) -> int:
    k, d = module.kernel_size[0], module.dilation[0]
    if module.padding == "same":
        if (d * (k - 1)) % 2:
            raise InputError("This layer pads unevenly ('same' with an even kernel).")
        return d * (k - 1) // 2
    if module.padding == "valid":
        return 0
    if module.padding[0] != module.padding[1]:
        raise InputError("This layer pads rows and columns differently.")
    return int(module.padding[0])


def layer_patch(
    model: Model,
    layer_input: np.ndarray,
    name: str,
    out_channel: int = 0,
    origin: tuple[int, int] = (0, 0),
    size: int = 8,
) -> LayerPatch:
    """Animate one output channel of a real layer on a ``size x size`` block of its output.

    Args:
        model: The model the layer belongs to.
        layer_input: The layer's input (C, H, W) (:func:`conv_layer_input`).
        name: The layer's module path, e.g. ``"layer2.0.conv1"``.
        out_channel: Which output channel (filter) to animate.
        origin: (row, col) of the block in the output map; moved inside the map if needed.
        size: Block side (clipped to the output map).

    Raises:
        InputError: Not a square zero-padded convolution, or the channel does not exist.
    """
    module = _module(model, name)
    if name not in conv_layers(model) and module.kernel_size[0] != module.kernel_size[1]:
        raise InputError(f"{name} has a non-square kernel {module.kernel_size}; not animated.")
    weight = module.weight.detach().double().cpu().numpy()
    if not 0 <= out_channel < weight.shape[0]:
        raise InputError(
            f"{name} has {weight.shape[0]} output channels; pick 0..{weight.shape[0] - 1}."
        )
    k, s, d, g = module.kernel_size[0], module.stride[0], module.dilation[0], module.groups
    p = _padding(module)
    x = np.asarray(layer_input, dtype=np.float64)
    c, h, w = x.shape
    out_h, out_w = (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1
    n_h, n_w = min(size, out_h), min(size, out_w)
    r0 = min(max(0, origin[0]), out_h - n_h)
    c0 = min(max(0, origin[1]), out_w - n_w)
    per_group = c // g
    group = out_channel // (weight.shape[0] // g)
    channels = tuple(range(group * per_group, (group + 1) * per_group))
    padded = np.pad(x[list(channels)], ((0, 0), (p, p), (p, p)))
    mask = np.pad(np.zeros((h, w), dtype=bool), p, constant_values=True)
    span = d * (k - 1) + 1
    rows = slice(r0 * s, (r0 + n_h - 1) * s + span)
    cols = slice(c0 * s, (c0 + n_w - 1) * s + span)
    bias = (
        module.bias.detach().double().cpu().numpy()[[out_channel]]
        if module.bias is not None
        else np.zeros(1)
    )
    steps = steps_from_padded(
        np.ascontiguousarray(padded[:, rows, cols]),
        np.ascontiguousarray(mask[rows, cols]),
        np.ascontiguousarray(weight[[out_channel]]),
        bias,
        (s, p, d, 1),
    )
    return LayerPatch(name, out_channel, channels, g, (r0, c0), (out_h, out_w), steps)
