"""Data augmentation: random changes to each training image, so the network sees more variety.

Each image of a batch gets its own random flip, turn, zoom/shift and brightness/contrast, drawn
from the run's seeded generator and applied to the whole batch at once (one ``affine_grid`` +
``grid_sample`` for the geometry), so augmenting costs little next to the training step.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention

__all__ = ["AUGMENTATIONS", "augment"]

AUGMENTATIONS: dict[str, str] = {
    "flip": "Mirror left-right half of the time (wrong for digits: a mirrored 2 is no 2).",
    "rotate": "Turn by up to 15 degrees either way.",
    "crop": "Zoom in by up to 15% and shift by up to 10%: a random crop, resized back.",
    "color": "Change brightness and contrast by up to 30% (and saturation, for colour images).",
}
"""The augmentations by name, each with one sentence for the page."""

MAX_ANGLE = 15.0
MAX_ZOOM = 0.15
MAX_SHIFT = 0.10  # of the image side; grid units span 2 per side, hence the x2 below
MAX_COLOR = 0.30


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _geometry(x: torch.Tensor, kinds: Collection[str], generator: torch.Generator) -> torch.Tensor:
    """Flip, turn, zoom and shift every image by its own random amount."""
    n = len(x)
    angle = (
        torch.deg2rad(_uniform(n, -MAX_ANGLE, MAX_ANGLE, generator))
        if "rotate" in kinds
        else torch.zeros(n)
    )
    zoom = _uniform(n, 1.0 - MAX_ZOOM, 1.0, generator) if "crop" in kinds else torch.ones(n)
    shift = (
        _uniform(2 * n, -MAX_SHIFT, MAX_SHIFT, generator).view(n, 2) * 2  # grid units: -1..1
        if "crop" in kinds
        else torch.zeros(n, 2)
    )
    flip = (
        torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        if "flip" in kinds
        else torch.ones(n)
    )
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    # Output pixel (u, v) reads input (theta @ [u, v, 1]): zoom < 1 reads a smaller region.
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random brightness, contrast and (colour images) saturation per image, on 0..255 values."""
    n = len(x)
    low, high = 1.0 - MAX_COLOR, 1.0 + MAX_COLOR
    brightness = _uniform(n, low, high, generator).view(n, 1, 1, 1)
    contrast = _uniform(n, low, high, generator).view(n, 1, 1, 1)
    x = x * brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * contrast
    if x.shape[1] == 3:
        saturation = _uniform(n, low, high, generator).view(n, 1, 1, 1)
        gray = x.mean(dim=1, keepdim=True)
        x = gray + (x - gray) * saturation
    return x.clamp(0.0, 255.0)


def augment(
    images: torch.Tensor, kinds: Collection[str], generator: torch.Generator
) -> torch.Tensor:
    """Randomly changed copies of a batch of images.

    Args:
        images: (N, C, H, W) pixel values 0..255 (uint8 or float).
        kinds: Names from :data:`AUGMENTATIONS`; empty returns the images as float.
        generator: Seeded source of the random amounts (the same seed, the same changes).

    Returns:
        float32 (N, C, H, W), values 0..255.

    Raises:
        ValueError: An unknown augmentation name.
    """
    unknown = set(kinds) - set(AUGMENTATIONS)
    if unknown:
        raise ValueError(
            f"Unknown augmentation {sorted(unknown)}; choose from {list(AUGMENTATIONS)}."
        )
    x = images.float()
    if {"flip", "rotate", "crop"} & set(kinds):
        x = _geometry(x, kinds, generator)
    if "color" in kinds:
        x = _color(x, generator)
    return x
