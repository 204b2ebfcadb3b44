"""What to convolve: the textbook example, hand-made kernels, digits and crops of a photo.

Every kernel here is applied as ``F.conv2d`` applies it (cross-correlation: the kernel is laid
on the window as written, not flipped). ``sobel_x`` is therefore ``[[-1, 0, 1], ...]``: large
where the image gets brighter from left to right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from PIL import Image

from cnnviz.errors import InputError
from cnnviz.images import load_sample

__all__ = [
    "KERNELS",
    "KERNEL_LABELS",
    "WORKED_EXAMPLE",
    "digit_grid",
    "filter_image",
    "fit_channels",
    "grid_values",
    "image_crop",
    "kernel",
]

WORKED_EXAMPLE = np.array(
    [
        [7, 2, 3, 3, 8],
        [4, 5, 3, 8, 4],
        [3, 3, 2, 8, 4],
        [2, 8, 7, 2, 7],
        [5, 4, 4, 5, 4],
    ],
    dtype=np.float64,
)
"""The classic 5x5 worked example (with the vertical-edge kernel it gives a 3x3 output)."""
WORKED_EXAMPLE.flags.writeable = False

KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    "vertical_edge": ((1, 0, -1), (1, 0, -1), (1, 0, -1)),
    "horizontal_edge": ((1, 1, 1), (0, 0, 0), (-1, -1, -1)),
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "sobel_x": ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)),
    "sobel_y": ((-1, -2, -1), (0, 0, 0), (1, 2, 1)),
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "box_blur": ((1 / 9,) * 3,) * 3,
    "gaussian": ((1 / 16, 2 / 16, 1 / 16), (2 / 16, 4 / 16, 2 / 16), (1 / 16, 2 / 16, 1 / 16)),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "emboss": ((-2, -1, 0), (-1, 1, 1), (0, 1, 2)),
}
"""Hand-made 3x3 kernels by name."""
KERNEL_LABELS: dict[str, str] = {
    "vertical_edge": "vertical edge (1 0 −1)",
    "horizontal_edge": "horizontal edge",
    "identity": "identity",
    "sobel_x": "Sobel x",
    "sobel_y": "Sobel y",
    "laplacian": "Laplacian",
    "box_blur": "box blur",
    "gaussian": "Gaussian blur",
    "sharpen": "sharpen",
    "emboss": "emboss",
}


def kernel(name: str) -> np.ndarray:
    """A named kernel of :data:`KERNELS` as a float64 (3, 3) array.

    Raises:
        InputError: No kernel of that name.
    """
    if name not in KERNELS:
        raise InputError(f"There is no kernel {name!r}; choose one of {', '.join(KERNELS)}.")
    return np.array(KERNELS[name], dtype=np.float64)


def fit_channels(weight: np.ndarray, channels: int) -> np.ndarray:
    """Make kernels read ``channels`` input channels: (C_out, channels, K, K).

    A (K, K) or single-channel kernel is repeated through every channel (the kernel "extends
    through all channels": on RGB it sees R + G + B). A 3-channel filter meeting a grayscale
    input is summed over its channels: exactly what it computes on that gray image repeated as
    R = G = B.

    Args:
        weight: (K, K), (C_in, K, K) or (C_out, C_in, K, K).
        channels: Input channels to read.

    Raises:
        InputError: The channel counts cannot be matched that way.
    """
    w = np.asarray(weight, dtype=np.float64)
    w = w.reshape((1,) * (4 - w.ndim) + w.shape)
    if w.shape[1] == channels:
        return w
    if w.shape[1] == 1:
        return np.repeat(w, channels, axis=1)
    if channels == 1:
        return w.sum(axis=1, keepdims=True)
    raise InputError(f"A kernel over {w.shape[1]} channels cannot read {channels} channels.")


def grid_values(rows: Sequence[Sequence[float | None]] | np.ndarray) -> np.ndarray:
    """Numbers typed into a grid as a float64 (H, W) array; a blank or non-number cell is 0.

    Raises:
        InputError: The rows are not a rectangle of numbers.
    """
    try:
        grid = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError("Type one number in every cell of the grid.") from error
    if grid.ndim != 2 or min(grid.shape) < 1:
        raise InputError(f"The grid must be rows of numbers; got shape {grid.shape}.")
    return np.nan_to_num(grid, nan=0.0, posinf=0.0, neginf=0.0)


def digit_grid(digit: int, side: int = 12) -> np.ndarray:
    """A bundled handwritten digit as a ``side x side`` grid of brightness in [0, 1].

    Values are rounded to 2 decimals, so the numbers on screen are the numbers computed.

    Raises:
        InputError: ``digit`` is not 0..9 or ``side`` is not 3..32.
    """
    if not 0 <= digit <= 9 or not 3 <= side <= 32:
        raise InputError("Choose a digit from 0 to 9 and a grid side from 3 to 32.")
    image = load_sample(f"digit_{digit}").convert("L")
    small = image.resize((side, side), Image.Resampling.BOX)
    return np.round(np.asarray(small, dtype=np.float64) / 255.0, 2)


def image_crop(
    image: Image.Image,
    side: int = 16,
    zoom: float = 0.25,
    center: tuple[float, float] = (0.5, 0.5),
    mode: Literal["L", "RGB"] = "L",
) -> np.ndarray:
    """A square crop of a photo as a (C, side, side) grid of brightness in [0, 1].

    Args:
        image: Any PIL image.
        side: Grid side in cells (3..64).
        zoom: Side of the cropped square as a fraction of the image's shorter side (0.02..1).
        center: (x, y) of the crop's center as fractions of the width and height.
        mode: ``"L"`` (one channel) or ``"RGB"`` (three).

    Returns:
        float64 (1 or 3, side, side), rounded to 2 decimals.

    Raises:
        InputError: Sizes out of range.
    """
    if not 3 <= side <= 64 or not 0.02 <= zoom <= 1.0 or mode not in ("L", "RGB"):
        raise InputError("Choose a grid side of 3..64 cells, a zoom of 0.02..1, and L or RGB.")
    w, h = image.size
    crop = zoom * min(w, h)
    cx = min(max(center[0] * w, crop / 2), w - crop / 2)
    cy = min(max(center[1] * h, crop / 2), h - crop / 2)
    box = (cx - crop / 2, cy - crop / 2, cx + crop / 2, cy + crop / 2)
    small = image.convert(mode).resize((side, side), Image.Resampling.BOX, box=box)
    pixels = np.asarray(small, dtype=np.float64) / 255.0
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return np.round(pixels, 2)


def filter_image(image: Image.Image, weight: np.ndarray, longest: int = 256) -> np.ndarray:
    """A kernel applied to a whole photo: the map it makes, same size as the (shrunk) photo.

    Args:
        image: Any PIL image; it is shrunk so that its longer side is at most ``longest``.
        weight: (K, K) for the grayscale image, or (C, K, K) with C = 1 or 3 (an RGB filter
            reads the RGB image); values of the image are brightness in [0, 1].
        longest: Longer side of the shrunk photo.

    Returns:
        float32 (H, W): ``F.conv2d`` with zero padding ``K // 2``.
    """
    w = np.asarray(weight, dtype=np.float32)
    w = w[None] if w.ndim == 2 else w
    mode = "RGB" if w.shape[0] == 3 else "L"
    scale = min(1.0, longest / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    pixels = np.asarray(image.convert(mode).resize(size, Image.Resampling.BOX), np.float32)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    x = torch.from_numpy(np.ascontiguousarray(pixels / 255.0))[None]
    k = w.shape[-1]
    with torch.no_grad():
        out = F.conv2d(x, torch.from_numpy(w)[None], padding=k // 2)
    return out[0, 0, : size[1], : size[0]].numpy()
