"""Translation: shift the image sideways and watch the maps shift with it and the answer stay.

A convolution applies the same kernel at every position (parameter sharing), so shifting the
input by ``d`` pixels shifts its maps by ``d`` too (*equivariance*), up to the borders; a
pooling layer that follows divides the shift by its stride. After enough pooling and the
fully connected layers, the prediction stays the same for small shifts (*invariance*) — but
only for small ones: LeNet-5 saw centred digits, and far enough from the centre it stops
recognizing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from cnnviz.errors import InputError
from cnnviz.models import Model
from cnnviz.probe import Prediction

__all__ = ["Shifted", "Translation", "shift_image", "translation"]

MAX_SHIFTS = 41


def shift_image(image: Image.Image, shift: int) -> Image.Image:
    """``image`` moved ``shift`` pixels to the right (left when negative); the gap is black."""
    pixels = np.asarray(image)
    out = np.zeros_like(pixels)
    width = pixels.shape[1]
    if abs(shift) < width:
        if shift >= 0:
            out[:, shift:] = pixels[:, : width - shift]
        else:
            out[:, :shift] = pixels[:, -shift:]
    return Image.fromarray(out, image.mode)


@dataclass(frozen=True, slots=True)
class Shifted:
    """The network on one shifted copy of the image.

    Attributes:
        shift: Pixels to the right (negative: left).
        image: The shifted image, as the network saw it.
        prediction: The top class and its probability.
        maps: The chosen layer's output (C, H, W), float32.
    """

    shift: int
    image: Image.Image = field(repr=False)
    prediction: Prediction
    maps: np.ndarray = field(repr=False)


@dataclass(frozen=True, slots=True)
class Translation:
    """The network on a row of shifted copies of one image.

    Attributes:
        layer: The layer whose maps were kept.
        shifted: One :class:`Shifted` per shift, in the order asked.
    """

    layer: str
    shifted: tuple[Shifted, ...]

    def at(self, shift: int) -> Shifted:
        """The copy shifted by ``shift``."""
        for item in self.shifted:
            if item.shift == shift:
                return item
        raise KeyError(shift)

    @property
    def stable(self) -> tuple[int, int]:
        """The smallest and largest shift, around 0, over which the prediction stays as it is
        for the unshifted image (every shift in between keeps it)."""
        shifts = sorted(x.shift for x in self.shifted)
        home = self.at(0).prediction.index
        low = high = 0
        for s in shifts:
            if s > 0 and high == s - 1 and self.at(s).prediction.index == home:
                high = s
        for s in reversed(shifts):
            if s < 0 and low == s + 1 and self.at(s).prediction.index == home:
                low = s
        return low, high


def translation(
    model: Model, image: Image.Image, layer: str, shifts: Sequence[int] = range(-10, 11)
) -> Translation:
    """Run ``model`` on copies of ``image`` shifted sideways, as one batch; keep ``layer``'s maps.

    Args:
        model: A :class:`cnnviz.Model` (the call holds its lock; the hook is removed after).
        image: A PIL image; shifted in the network's view of it (:meth:`Model.view`).
        layer: A module name whose output is maps.
        shifts: Pixel shifts to the right, 0 included (at most 41 of them).

    Raises:
        InputError: An unknown layer, no 0 among the shifts, or too many shifts.
    """
    if 0 not in shifts or len(shifts) > MAX_SHIFTS:
        raise InputError(f"Give at most {MAX_SHIFTS} shifts, 0 among them.")
    modules = dict(model.module.named_modules())
    if layer not in modules:
        raise InputError(f"{model.spec.label} has no layer called '{layer}'.")
    view = model.view(image)
    copies = [shift_image(view, int(s)) for s in shifts]
    pixels = np.stack([np.asarray(c, dtype=np.float32).reshape(view.size[1], view.size[0], -1)
                       for c in copies]) / 255.0  # fmt: skip
    mean, std = np.asarray(model.spec.mean), np.asarray(model.spec.std)
    # Normalized as Model.preprocess does, without its resize and crop (done once, on view).
    batch = torch.from_numpy(((pixels - mean) / std).transpose(0, 3, 1, 2).astype(np.float32))
    seen: list[torch.Tensor] = []
    with model.lock, torch.no_grad():
        handle = modules[layer].register_forward_hook(lambda m, a, out: seen.append(out))
        try:
            probabilities = torch.softmax(model.module(batch).float(), dim=1)
        finally:
            handle.remove()
    maps = seen[0].float().numpy()
    items = []
    for k, (s, copy) in enumerate(zip(shifts, copies, strict=True)):
        index = int(probabilities[k].argmax())
        label = model.labels[index] if index < len(model.labels) else str(index)
        prediction = Prediction(index, label, float(probabilities[k, index]))
        items.append(Shifted(int(s), copy, prediction, maps[k]))
    return Translation(layer, tuple(items))
