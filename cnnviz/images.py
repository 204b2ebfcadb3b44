"""Turn uploaded bytes or a path into a validated RGB or L image; bundled sample images.

Every image the app shows goes through :func:`load_image`, which refuses what is not an image, too
big (bytes and pixels) or damaged with an :class:`~cnnviz.errors.InputError`, and converts odd
modes (CMYK, 16-bit, float, transparency, palettes, animation, EXIF rotation) correctly. What it
changed is listed in ``image.info["cnnviz_notes"]`` so the page can tell the student.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnviz import limits
from cnnviz.errors import InputError

__all__ = [
    "SAMPLES",
    "SAMPLE_KINDS",
    "Sample",
    "drawing_to_image",
    "image_digest",
    "list_samples",
    "load_image",
    "load_sample",
    "to_uint8_array",
]

NOTES_KEY = "cnnviz_notes"
_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
_NOT_AN_IMAGE = (
    "This file is not an image cnnviz can read (PNG, JPEG, WebP, BMP, GIF or TIFF). "
    "Try another file."
)
_DAMAGED = (
    "This image file is damaged or incomplete, so it cannot be opened. "
    "Try saving it again or use another file."
)
# File signatures of the supported formats: a file that starts like one but fails is damaged.
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
_ALPHA_MODES = {"RGBA": "RGBA", "RGBa": "RGBA", "LA": "LA", "La": "LA", "PA": "RGBA"}
_ORIENTATION_TAG = 0x0112


SampleKind = Literal["photo", "digit", "shape"]
SAMPLE_KINDS: tuple[SampleKind, ...] = ("photo", "digit", "shape")
"""The kinds of bundled samples, in gallery order."""


@dataclass(frozen=True, slots=True)
class Sample:
    """A bundled image the app offers when the student has none.

    Attributes:
        key: Identifier passed to :func:`load_sample`, e.g. ``"chelsea"`` or ``"digit_3"``.
        title: Short human title, e.g. ``"Chelsea the cat"``.
        kind: ``"photo"`` (RGB, for ImageNet models), ``"digit"`` (32x32 L, MNIST-style, for
            the digit nets) or ``"shape"`` (64x64 RGB from the ``shapes`` data set's generator,
            for TinyVGG).
        credit: Where the image comes from and under which terms.
    """

    key: str
    title: str
    kind: SampleKind
    credit: str


_SKIMAGE = "via scikit-image"
_DIGITS_CREDIT = "UCI optical handwritten digits, via scikit-learn"
_SHAPES_CREDIT = "Drawn by cnnviz's shapes generator (scripts/make_shape_samples.py), CC0"
# The classes of the ``shapes`` data set (cnnviz.data.SHAPES, which imports this module).
_SHAPE_NAMES = ("circle", "square", "triangle", "cross", "stripes", "ring")

SAMPLES: tuple[Sample, ...] = (
    Sample("chelsea", "Chelsea the cat", "photo", f"Stefan van der Walt, CC0, {_SKIMAGE}"),
    Sample("coffee", "Coffee cup", "photo", f"Rachel Michetti, CC0, {_SKIMAGE}"),
    Sample("astronaut", "Astronaut Eileen Collins", "photo", f"NASA, public domain, {_SKIMAGE}"),
    Sample("rocket", "Falcon 9 rocket launch", "photo", f"SpaceX, public domain, {_SKIMAGE}"),
    Sample("hubble_deep_field", "Hubble deep field", "photo", f"NASA, public domain, {_SKIMAGE}"),
    Sample(
        "immunohistochemistry",
        "Stained tissue under a microscope",
        "photo",
        f"CMMI, no known copyright restrictions, {_SKIMAGE}",
    ),
    Sample("camera", "Cameraman (grey)", "photo", f"Lav Varshney, CC0, {_SKIMAGE}"),
    *(Sample(f"digit_{d}", f"Handwritten {d}", "digit", _DIGITS_CREDIT) for d in range(10)),
    *(Sample(f"shape_{s}", f"Drawn {s}", "shape", _SHAPES_CREDIT) for s in _SHAPE_NAMES),
)


def load_image(
    source: bytes | str | os.PathLike[str],
    *,
    max_bytes: int = limits.IMAGE.max_bytes,
    max_pixels: int = 40_000_000,
) -> Image.Image:
    """Decode an image file into a validated, fully loaded RGB or L image.

    The byte limit is checked before decoding and the pixel limit (width x height, read from the
    file header) before any pixel data is decompressed, so a small "decompression bomb" file that
    claims billions of pixels is refused cheaply. Pillow's own ceiling,
    ``PIL.Image.MAX_IMAGE_PIXELS``, also applies and is treated as an error here.

    Conversions: EXIF orientation is applied; transparency is composited on white; CMYK, YCbCr,
    LAB, HSV and palettes become RGB; 1-bit becomes L; 16-bit data is scaled ``v / 65535 * 255``;
    32-bit integers whose maximum exceeds 255 are scaled by that maximum; float images are
    stretched so their minimum is black and their maximum white. Only the first frame of an
    animation (or page of a TIFF) is kept.

    Args:
        source: The file's bytes, or a path to it.
        max_bytes: Largest accepted file size in bytes.
        max_pixels: Largest accepted width x height.

    Returns:
        A new in-memory image in mode ``"RGB"`` or ``"L"`` (grey sources stay grey), with
        ``info["cnnviz_notes"]`` a tuple of short sentences describing the conversions done
        (empty when nothing notable happened).

    Raises:
        InputError: The file is missing, empty, too large, not a supported image, or damaged.
    """
    data = _read_bytes(source, max_bytes)
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # Damaged metadata makes Pillow warn and carry on; the outcome is what matters here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        try:
            with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
                _check_pixels(opened.size, max_pixels)
                notes = _frame_notes(opened)
                opened.load()
                image, transposed = _exif_upright(opened)
                image, mode_notes = _to_rgb_or_l(image)
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            pillow_limit = Image.MAX_IMAGE_PIXELS or max_pixels
            raise InputError(_too_many_pixels(None, min(max_pixels, pillow_limit))) from error
        except UnidentifiedImageError as error:
            webp = data.startswith(b"RIFF") and data[8:12] == b"WEBP"
            damaged = webp or data.startswith(_SIGNATURES)
            raise InputError(_DAMAGED if damaged else _not_an_image(data)) from error
        except MemoryError as error:
            raise InputError(_too_many_pixels(None, max_pixels)) from error
        except Exception as error:
            # Pillow's decoders signal bad data with OSError, SyntaxError, ValueError, EOFError,
            # struct.error, IndexError and more; to the student they all mean "damaged file".
            raise InputError(_DAMAGED) from error
    if transposed:
        notes.append("Rotated upright using the photo's EXIF orientation.")
    notes.extend(mode_notes)
    image.info = {NOTES_KEY: tuple(notes)}
    return image


def list_samples(kind: str | None = None) -> tuple[Sample, ...]:
    """Return the bundled samples, optionally only one kind.

    Args:
        kind: One of :data:`SAMPLE_KINDS` (``"photo"``, ``"digit"``, ``"shape"``) or ``None``
            for all.

    Returns:
        The matching entries of :data:`SAMPLES`, in order.

    Raises:
        ValueError: ``kind`` is not one of the above.
    """
    if kind is None:
        return SAMPLES
    if kind not in SAMPLE_KINDS:
        raise ValueError(
            f"Unknown sample kind {kind!r}; use one of {', '.join(SAMPLE_KINDS)} or None."
        )
    return tuple(sample for sample in SAMPLES if sample.kind == kind)


def load_sample(key: str) -> Image.Image:
    """Load a bundled sample image; works offline.

    Args:
        key: One of the ``key`` values in :data:`SAMPLES`.

    Returns:
        An ``"RGB"`` image for photos, a 32x32 ``"L"`` image (white on black) for digits, a
        64x64 ``"RGB"`` image for shapes, with ``info["cnnviz_notes"] == ()``.

    Raises:
        InputError: ``key`` is not a bundled sample.
    """
    sample = next((s for s in SAMPLES if s.key == key), None)
    if sample is None:
        valid = ", ".join(s.key for s in SAMPLES)
        raise InputError(f"There is no sample called {key!r}. Choose one of: {valid}.")
    if sample.kind in ("digit", "shape"):
        resource = resources.files("cnnviz") / "assets" / "samples" / f"{key}.png"
        image = load_image(resource.read_bytes()).convert("L" if sample.kind == "digit" else "RGB")
    else:
        # Imported here: skimage.data is only needed for samples and is slow to import.
        from skimage import data as skimage_data

        pixels = np.asarray(getattr(skimage_data, key)(), dtype=np.uint8)
        image = Image.fromarray(pixels).convert("RGB")
    image.info = {NOTES_KEY: ()}
    return image


def image_digest(image: Image.Image) -> str:
    """Return a SHA-256 hex digest of the image's mode, size and pixels, for cache keys.

    Args:
        image: Any PIL image (its pixels are read, not its file metadata).

    Returns:
        64 hex characters; equal images give equal digests.
    """
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    palette = image.getpalette() if image.mode in ("P", "PA") else None
    if palette is not None:
        digest.update(bytes(palette))
    digest.update(image.tobytes())
    return digest.hexdigest()


def drawing_to_image(pixels: np.ndarray, margin: float = 0.05, ink: int = 32) -> Image.Image | None:
    """Turn a drawing (RGBA pixels of a canvas) into a grey image framed like the digit samples.

    The strokes are laid over black, made grey (``L``), and the image is cut to a square around
    the strokes with ``margin`` of its side left free on each side, so a digit drawn small or off
    centre fills the frame as the training digits do (the UCI scans behind ``digits`` are
    size-normalized to fill their box: with a 5% margin the bundled LeNet-5 reads hand-drawn
    0, 1, 2, 3, 4 and 7 right, with 25% it takes most of them for a 4).

    Args:
        pixels: (H, W, 4) RGBA or (H, W, 3) RGB uint8, as a drawing canvas returns it.
        margin: Free border around the strokes, as a share of their larger side.
        ink: Grey level (0..255) above which a pixel counts as drawn.

    Returns:
        A square ``"L"`` image, or ``None`` when nothing is drawn.

    Raises:
        InputError: Not an (H, W, 3 or 4) array.
    """
    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape:
        raise InputError("A drawing must be an (H, W, 3 or 4) array of pixels.")
    rgb = array[..., :3].astype(np.float32)
    if array.shape[2] == 4:
        rgb *= array[..., 3:4].astype(np.float32) / 255.0  # over a black background
    grey = np.clip(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32), 0, 255)
    rows, cols = np.nonzero(grey > ink)
    if rows.size == 0:
        return None
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = round(max(bottom - top, right - left) * (1 + 2 * margin))
    centre_y, centre_x = (top + bottom) // 2, (left + right) // 2
    square = np.zeros((side, side), dtype=np.uint8)
    y0, x0 = centre_y - side // 2, centre_x - side // 2
    src_y = slice(max(0, y0), min(grey.shape[0], y0 + side))
    src_x = slice(max(0, x0), min(grey.shape[1], x0 + side))
    square[src_y.start - y0 : src_y.stop - y0, src_x.start - x0 : src_x.stop - x0] = grey[
        src_y, src_x
    ].astype(np.uint8)
    image = Image.fromarray(square, "L")
    image.info = {NOTES_KEY: ()}
    return image


def to_uint8_array(image: Image.Image) -> np.ndarray:
    """Return the pixels as a new writable uint8 array.

    Args:
        image: Preferably an image from :func:`load_image`. Mode ``"L"`` (and ``"1"``) gives
            (H, W); every other mode goes through Pillow's ``convert("RGB")`` and gives (H, W, 3).

    Returns:
        (H, W) or (H, W, 3) uint8 array in [0, 255].
    """
    if image.mode in ("L", "1"):
        return np.array(image.convert("L"), dtype=np.uint8)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def _read_bytes(source: bytes | str | os.PathLike[str], max_bytes: int) -> bytes:
    """Return the file's bytes after checking that it exists, is not empty and is not too big."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        _check_bytes(len(data), max_bytes)
        return data
    path = Path(source)
    if not path.is_file():
        raise InputError(f"No image file was found at {str(path)!r}. Check the path.")
    try:
        _check_bytes(path.stat().st_size, max_bytes)
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"The file {path.name!r} could not be read: {error.strerror}.") from error
    _check_bytes(len(data), max_bytes)
    return data


# Files people take for images: (how to recognize the start, what it is, how to get pixels).
_LOOKALIKES = (
    (re.compile(rb"\A\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg\b", re.S),
     "an SVG drawing (shapes described in text, not pixels)"),
    (re.compile(rb"\A%PDF-"), "a PDF document"),
    (re.compile(rb"\A....ftyp(heic|heix|hevc|mif1|msf1|avif)", re.S), "a HEIC/AVIF photo"),
)  # fmt: skip


def _not_an_image(data: bytes) -> str:
    """The refusal's sentence: names the file's kind when it is a well-known lookalike."""
    head = data[:4096]
    for pattern, what in _LOOKALIKES:
        if pattern.match(head):
            return (
                f"This file is {what}, which cnnviz cannot read: open it in an image editor or "
                "a browser and save or export it as PNG or JPEG, then upload that."
            )
    return _NOT_AN_IMAGE


def _check_bytes(size: int, max_bytes: int) -> None:
    if size == 0:
        raise InputError("The file is empty (0 bytes). Choose an image file instead.")
    if size > max_bytes:
        raise InputError(
            f"This file is {_megabytes(size)} MB; the limit is {_megabytes(max_bytes)} MB. "
            "Try a smaller image."
        )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}" if size >= 2**20 else f"{size / 2**20:.2g}"


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InputError(f"This image has no pixels ({width} x {height}). Try another file.")
    if width * height > max_pixels:
        raise InputError(_too_many_pixels(size, max_pixels))


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> str:
    limit = f"the limit is {max_pixels / 1e6:.3g} megapixels. Try a smaller image."
    if size is None:
        return f"This image has too many pixels to open safely; {limit}"
    megapixels = size[0] * size[1] / 1e6
    return f"This image is {size[0]} x {size[1]} pixels ({megapixels:.3g} megapixels); {limit}"


def _frame_notes(opened: Image.Image) -> list[str]:
    """Note that only the first frame or page is shown, and rewind to it."""
    frames = getattr(opened, "n_frames", 1)
    if frames <= 1 or opened.format == "MPO":
        # An MPO JPEG's extra pictures are previews or stereo views; the first is the photo.
        return []
    opened.seek(0)
    if opened.format == "TIFF":
        return [f"Multi-page TIFF: showing page 1 of {frames}."]
    name = "GIF" if opened.format == "GIF" else "image"
    return [f"Animated {name}: showing frame 1 of {frames}."]


def _exif_upright(image: Image.Image) -> tuple[Image.Image, bool]:
    """Apply the EXIF orientation tag; return a new image and whether it was rotated or flipped."""
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    upright = ImageOps.exif_transpose(image)
    return upright, orientation in range(2, 9)


def _to_rgb_or_l(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """Convert any decoded mode to RGB or L, returning the new image and notes."""
    mode = image.mode
    if mode in ("RGB", "L"):
        return image.copy(), []
    if mode == "1":
        return image.convert("L"), ["Black-and-white (1-bit) image converted to grey levels."]
    if mode == "P" and "transparency" in image.info:
        return _flatten_alpha(image.convert("RGBA"))
    if mode in _ALPHA_MODES:
        return _flatten_alpha(image.convert(_ALPHA_MODES[mode]))
    if mode.startswith("I") or mode == "F":
        return _scale_to_uint8(image)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB"), [f"Converted from {mode} to RGB."]
    try:
        return image.convert("RGB"), []
    except ValueError as error:
        raise InputError(
            f"This image uses a colour format ({mode}) cnnviz cannot convert. "
            "Try saving it as an ordinary PNG or JPEG."
        ) from error


def _flatten_alpha(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """Composite an RGBA or LA image on white.

    ``convert("RGB")`` would simply drop alpha, showing whatever colour hides under transparent
    pixels; blending ``c * a + 255 * (1 - a)`` shows what a viewer on a white page shows.
    """
    pixels = np.asarray(image, dtype=np.float32)
    alpha = pixels[..., -1:] / 255.0
    colour = pixels[..., :-1]
    flat = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    result = Image.fromarray(flat[..., 0] if image.mode == "LA" else flat)
    if bool((alpha < 1.0).any()):
        return result, ["Transparent areas were placed on a white background."]
    return result, []


def _scale_to_uint8(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """Scale 16-bit, 32-bit integer or float pixels to 8-bit grey without clipping."""
    values = np.asarray(image)
    if image.mode == "F":
        finite = np.isfinite(values)
        low = float(values[finite].min()) if finite.any() else 0.0
        high = float(values[finite].max()) if finite.any() else 0.0
        scaled = np.zeros(values.shape, dtype=np.float64)
        if high > low:
            scaled = np.where(finite, (values - low) / (high - low) * 255.0, 0.0)
        note = f"Decimal-number image scaled to 8 bits ({low:.4g} is black, {high:.4g} white)."
    elif values.dtype.itemsize == 2:
        scaled = values.astype(np.float64) / 65535.0 * 255.0
        note = "16-bit image scaled to 8 bits."
    else:
        low = min(int(values.min()), 0)
        high = int(values.max())
        if low == 0 and high <= 255:
            return Image.fromarray(values.astype(np.uint8)), []
        scaled = (values.astype(np.float64) - low) / max(high - low, 1) * 255.0
        note = f"32-bit image scaled to 8 bits (its brightest value, {high}, shown as white)."
    pixels = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels), [note]
