"""One unit's receptive field on the input: the theoretical box and the effective field.

The *theoretical* receptive field of unit ``(row, col)`` of a layer is the square of input
pixels it can depend on at all, from the layers' geometry (:class:`cnnviz.ReceptiveField`,
computed by the probe: size, jump, start). Where branches merge (ResNet's skips, GoogLeNet's
towers, DenseNet's concatenations) the probe keeps the widest path's field; every path is
centred the same way in these networks, so that box is the union of the paths' boxes.

The *effective* receptive field (Luo et al., 2016) is how much each input pixel actually moves
the unit: the gradient ``|∂ y[c, row, col] / ∂ x|`` summed over the colour channels. It is
concentrated in the middle of the box and fades towards its edges; none of it falls outside
the box, except through global context paths (squeeze-and-excitation gates, as in
MobileNetV3 and EfficientNet), which see the whole image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from cnnviz.errors import InputError
from cnnviz.explain.core import as_input, prepared
from cnnviz.models import Model
from cnnviz.probe import ReceptiveField

__all__ = ["UnitField", "unit_field"]


@dataclass(frozen=True, slots=True)
class UnitField:
    """Where one unit of a layer looks on the input.

    Attributes:
        layer: The layer's name (as in the probe).
        channel: The unit's channel.
        position: (row, col) of the unit in the layer's map.
        field: Size, jump and start of the layer's theoretical receptive field.
        box: (top, left, bottom, right) of the unit's theoretical field on the input, clipped
            to it (bottom and right exclusive).
        gradient: (H, W) the effective field: ``|∂ unit / ∂ input|`` summed over the input's
            channels, scaled to [0, 1] (all zeros when the unit does not depend on the input).
        inside: Share of the gradient's total inside the box (1.0 without global context).
        value: The unit's value on this image.
    """

    layer: str
    channel: int
    position: tuple[int, int]
    field: ReceptiveField
    box: tuple[int, int, int, int]
    gradient: np.ndarray
    inside: float
    value: float

    def describe(self) -> str:
        """The field's numbers written out for a student."""
        f = self.field
        if f.size is None:
            return "The whole image (after global pooling or a fully connected layer)."
        top, left, bottom, right = self.box
        row, col = self.position
        centre = f"({f.start + row * f.stride:g}, {f.start + col * f.stride:g})"
        return (
            f"size {f.size} px, jump {f.stride} px, start {f.start:g} px: unit ({row}, {col}) "
            f"is centred on input pixel {centre} and sees rows {top}–{bottom - 1}, columns "
            f"{left}–{right - 1}"
        )


def _module(model: Model, layer: str) -> tuple[torch.nn.Module, int]:
    """The module of a probe layer name and which of its calls it is (``name_2``: the third)."""
    modules = dict(model.module.named_modules())
    if layer in modules:
        return modules[layer], 0
    match = re.fullmatch(r"(.+)_(\d+)", layer)
    if match and match.group(1) in modules:
        return modules[match.group(1)], int(match.group(2))
    raise InputError(f"'{layer}' is not a layer of {model.spec.label}.")


def unit_field(
    model: Model,
    image: Image.Image | torch.Tensor,
    layer: str,
    channel: int,
    position: tuple[int, int],
    field: ReceptiveField,
) -> UnitField:
    """The theoretical box and the effective field of unit ``(channel, *position)``.

    Args:
        model: A :class:`cnnviz.Model` (shared models are safe: the call holds its lock).
        image: The image, or the network's input batch (1, C, H, W).
        layer: A layer name from :func:`cnnviz.probe` whose output is a stack of maps.
        channel: The unit's channel.
        position: (row, col) of the unit in the layer's map.
        field: The layer's receptive field, from the probe (``Layer.receptive_field``).

    Raises:
        InputError: No such layer, the layer's output is not maps, or the unit is outside it.
    """
    module, call = _module(model, layer)
    x = as_input(model, image).clone().requires_grad_(True)
    seen: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _args: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor):
            seen.append(output)

    with model.lock, prepared(model.module):
        handle = module.register_forward_hook(keep)
        try:
            model.module(x)
        finally:
            handle.remove()
        if len(seen) <= call or seen[call].dim() != 4:
            raise InputError(f"{layer} does not output maps: it has no units in rows and columns.")
        out = seen[call]
        row, col = position
        if not (
            0 <= channel < out.shape[1] and 0 <= row < out.shape[2] and 0 <= col < out.shape[3]
        ):
            raise InputError(
                f"{layer} has {out.shape[1]} maps of {out.shape[2]} x {out.shape[3]}; unit "
                f"({channel}, {row}, {col}) is not one of them."
            )
        unit = out[0, channel, row, col]
        (grad,) = torch.autograd.grad(unit, x, allow_unused=True)
    magnitude = np.zeros(x.shape[-2:]) if grad is None else grad[0].abs().sum(0).double().numpy()
    box = field.box(row, col, *magnitude.shape)
    top, left, bottom, right = box
    total = float(magnitude.sum())
    inside = float(magnitude[top:bottom, left:right].sum()) / total if total > 0 else 1.0
    peak = float(magnitude.max())
    return UnitField(
        layer, channel, (row, col), field, box,
        (magnitude / peak if peak > 0 else magnitude).astype(np.float32), inside,
        float(unit.detach()),
    )  # fmt: skip
