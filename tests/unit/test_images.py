"""Tests for cnnviz.images: decoding, validation, mode conversion, samples, digests."""

from __future__ import annotations

import io
import struct
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz import load_model
from cnnviz.data import SHAPES
from cnnviz.errors import InputError
from cnnviz.images import (
    SAMPLE_KINDS,
    SAMPLES,
    Sample,
    drawing_to_image,
    image_digest,
    list_samples,
    load_image,
    load_sample,
    to_uint8_array,
)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def notes(image: Image.Image) -> tuple[str, ...]:
    return image.info["cnnviz_notes"]


def colour_blocks(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """Red left half, blue right half: survives lossy codecs and palette reduction."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    pixels[:, size[0] // 2 :] = (0, 0, 255)
    return Image.fromarray(pixels)


def png_with_header_size(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is patched (with a valid CRC) to claim another size."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_each_supported_format_loads_as_rgb(fmt: str) -> None:
    image = load_image(encode(colour_blocks(), fmt))
    assert image.mode == "RGB"
    assert image.size == (40, 30)
    red = image.getpixel((5, 15))
    blue = image.getpixel((35, 15))
    assert red[0] > 200
    assert red[2] < 60
    assert blue[2] > 200
    assert blue[0] < 60


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_grey_sources_stay_grey(fmt: str) -> None:
    image = load_image(encode(Image.new("L", (8, 8), 77), fmt))
    assert image.mode == "L"
    assert abs(image.getpixel((3, 3)) - 77) <= 2
    assert notes(image) == ()


def test_plain_rgb_png_has_no_notes_and_is_detached() -> None:
    image = load_image(encode(colour_blocks(), "PNG"))
    assert notes(image) == ()
    assert image.getpixel((0, 0)) == (255, 0, 0)


def test_loads_from_path_and_str(tmp_path: Path) -> None:
    path = tmp_path / "blocks.png"
    path.write_bytes(encode(colour_blocks(), "PNG"))
    assert load_image(path).size == (40, 30)
    assert load_image(str(path)).size == (40, 30)


def test_one_by_one_image_loads() -> None:
    assert load_image(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG")).size == (1, 1)


def test_animated_gif_keeps_first_frame_and_notes_it() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "lime", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    image = load_image(data)
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 0, 0)
    assert any("frame 1 of 3" in note for note in notes(image))


def test_exif_orientation_is_applied() -> None:
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))  # top-left block of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image = load_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.size == (20, 40)
    # Rotating clockwise moves the stored top-left corner to the displayed top-right corner.
    top_right = image.getpixel((17, 2))
    assert top_right[0] > 200
    assert top_right[2] < 60
    assert image.getpixel((2, 2))[2] > 200
    assert any("EXIF" in note for note in notes(image))


def test_cmyk_jpeg_becomes_rgb_with_right_colour() -> None:
    image = load_image(encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((8, 8))
    assert red > 230
    assert green < 30
    assert blue < 30
    assert any("CMYK" in note for note in notes(image))


def test_rgba_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (2, 1))
    rgba.putpixel((0, 0), (255, 0, 0, 0))  # hidden red must not show
    rgba.putpixel((1, 0), (0, 255, 0, 255))
    image = load_image(encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.getpixel((1, 0)) == (0, 255, 0)
    assert any("white background" in note for note in notes(image))


def test_half_transparent_pixel_is_blended() -> None:
    image = load_image(encode(Image.new("RGBA", (1, 1), (0, 0, 0, 128)), "PNG"))
    assert abs(image.getpixel((0, 0))[0] - 127) <= 1


def test_opaque_rgba_drops_alpha_without_a_note() -> None:
    image = load_image(encode(Image.new("RGBA", (3, 3), (10, 20, 30, 255)), "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == (10, 20, 30)
    assert notes(image) == ()


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_is_composited(fmt: str) -> None:
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (254 * 3))
    palette_image.putpixel((0, 0), 0)
    palette_image.putpixel((1, 0), 1)
    image = load_image(encode(palette_image, fmt, transparency=0))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.getpixel((1, 0)) == (0, 0, 255)


def test_palette_without_transparency_becomes_rgb() -> None:
    palette_image = colour_blocks().convert("P")
    image = load_image(encode(palette_image, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 0, 0)


def test_la_is_composited_to_grey() -> None:
    la = Image.new("LA", (2, 1))
    la.putpixel((0, 0), (0, 0))
    la.putpixel((1, 0), (100, 255))
    image = load_image(encode(la, "PNG"))
    assert image.mode == "L"
    assert image.getpixel((0, 0)) == 255
    assert image.getpixel((1, 0)) == 100


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_ramp_keeps_its_levels(fmt: str) -> None:
    ramp = np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)
    image = load_image(encode(Image.fromarray(ramp), fmt))
    pixels = np.asarray(image)
    assert image.mode == "L"
    assert len(np.unique(pixels)) > 200
    assert pixels.min() == 0
    assert pixels.max() == 255
    assert any("16-bit" in note for note in notes(image))


def test_32_bit_integers_are_scaled_by_their_maximum() -> None:
    values = (np.arange(16, dtype=np.int32) * 1000).reshape(4, 4)
    image = load_image(encode(Image.fromarray(values), "TIFF"))
    pixels = np.asarray(image)
    assert image.mode == "L"
    assert pixels[0, 0] == 0
    assert pixels[3, 3] == 255
    assert any("15000" in note for note in notes(image))


def test_float_image_is_stretched_to_full_range() -> None:
    values = np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    image = load_image(encode(Image.fromarray(values), "TIFF"))
    pixels = np.asarray(image)
    assert image.mode == "L"
    assert pixels.min() == 0
    assert pixels.max() == 255
    assert len(np.unique(pixels)) == 64
    assert notes(image)


def test_constant_float_image_becomes_black() -> None:
    image = load_image(encode(Image.new("F", (4, 4), 3.5), "TIFF"))
    assert image.mode == "L"
    assert np.asarray(image).max() == 0


def test_one_bit_image_becomes_grey() -> None:
    bilevel = Image.new("1", (8, 8), 0)
    bilevel.putpixel((1, 1), 1)
    image = load_image(encode(bilevel, "PNG"))
    assert image.mode == "L"
    assert image.getpixel((1, 1)) == 255
    assert image.getpixel((0, 0)) == 0


def _noisy_png() -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")


def _noisy_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    return encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")


BAD_INPUTS = {
    "empty": b"",
    "text": b"Hello, this is a text file.\n" * 4,
    "pdf": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
    "ico": encode(Image.new("RGB", (16, 16)), "ICO"),
    "png_signature_only": b"\x89PNG\r\n\x1a\n",
    "truncated_png": _noisy_png()[: len(_noisy_png()) // 2],
    "truncated_jpeg": _noisy_jpeg()[: len(_noisy_jpeg()) // 2],
    "png_bad_crc": _noisy_png()[:29] + b"\x00\x00\x00\x00" + _noisy_png()[33:],
    "zero_width": png_with_header_size(0, 10),
    "bomb_over_pillow_error": png_with_header_size(100_000, 100_000),
    "bomb_over_pillow_warning": png_with_header_size(9_500, 9_500),
    "bomb_over_our_limit": png_with_header_size(7_000, 7_000),
}


@pytest.mark.parametrize("data", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_bad_input_raises_input_error(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        load_image(data)
    assert str(caught.value).strip()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_mutated_files_load_or_raise_input_error(fmt: str) -> None:
    rng = np.random.default_rng(7)
    original = encode(Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)), fmt)
    outcomes = []
    for _ in range(60):
        data = bytearray(original)
        for position in rng.integers(0, len(data), size=4):
            data[position] = int(rng.integers(0, 256))
        data = data[: int(rng.integers(1, len(data) + 1))]
        try:
            outcomes.append(load_image(bytes(data), max_pixels=1_000_000).mode)
        except InputError as error:  # any other exception type fails the test
            outcomes.append(str(error))
    assert all(outcome in ("RGB", "L") or len(outcome) > 20 for outcome in outcomes)


def test_messages_say_what_happened() -> None:
    with pytest.raises(InputError, match="empty"):
        load_image(b"")
    with pytest.raises(InputError, match="PNG, JPEG"):
        load_image(b"just text")
    for key in ("truncated_jpeg", "truncated_png", "png_bad_crc", "png_signature_only"):
        with pytest.raises(InputError, match="damaged"):
            load_image(BAD_INPUTS[key])


def test_decompression_bomb_leaves_pillow_settings_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InputError, match="pixels"):
        load_image(BAD_INPUTS["bomb_over_pillow_warning"])
    assert before == Image.MAX_IMAGE_PIXELS


def test_real_highly_compressible_image_over_pixel_limit() -> None:
    data = encode(Image.new("1", (3000, 3000)), "PNG")
    assert len(data) < 10_000
    with pytest.raises(InputError, match="3000 x 3000"):
        load_image(data, max_pixels=1_000_000)


def test_pixel_limit_is_inclusive() -> None:
    data = encode(Image.new("L", (10, 10)), "PNG")
    assert load_image(data, max_pixels=100).size == (10, 10)
    with pytest.raises(InputError, match="megapixels"):
        load_image(data, max_pixels=99)


def test_byte_limit_is_checked_before_decoding() -> None:
    data = b"\x00" * 5000  # not even an image: the size check must come first
    with pytest.raises(InputError, match="MB"):
        load_image(data, max_bytes=1000)


def test_byte_limit_applies_to_paths(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_noisy_png())
    with pytest.raises(InputError, match="limit"):
        load_image(path, max_bytes=100)


@pytest.mark.parametrize("name", ["missing.png", ""])
def test_missing_path_or_directory_raises_input_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        load_image(tmp_path / name)


def test_empty_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(path)


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.key for sample in SAMPLES])
def test_every_sample_loads(sample: Sample) -> None:
    image = load_sample(sample.key)
    assert image.mode == ("L" if sample.kind == "digit" else "RGB")
    assert min(image.size) >= 28
    assert max(image.size) <= 1024
    assert notes(image) == ()
    assert sample.title
    assert sample.credit


def test_digit_samples_are_white_on_black() -> None:
    pixels = np.asarray(load_sample("digit_3"))
    assert pixels.shape == (32, 32)
    assert pixels[0, 0] < 30
    assert pixels.max() > 200


def test_shape_samples_are_64_pixel_colour_shapes_one_per_class() -> None:
    shapes = list_samples("shape")
    assert [sample.key for sample in shapes] == [f"shape_{name}" for name in SHAPES]
    for sample in shapes:
        pixels = np.asarray(load_sample(sample.key), dtype=np.float64)
        assert pixels.shape == (64, 64, 3)
        corner = pixels[:8, :8].reshape(-1, 3)
        assert 4 < corner.std(axis=0).mean() < 12  # the data set's noise: sd 8 per channel
        far = np.linalg.norm(pixels - corner.mean(axis=0), axis=2) > 40
        assert 0.05 < far.mean() < 0.6  # one shape, well away from the background colour


def test_the_bundled_tinyvgg_reads_every_shape_sample() -> None:
    model = load_model("tinyvgg", "pretrained")  # cnnviz/assets/tinyvgg.pt: no network
    assert model.labels == SHAPES
    assert "Trained on shapes by cnnviz" in model.weights_source
    for name in SHAPES:
        x = model.preprocess(load_sample(f"shape_{name}"))
        with torch.inference_mode():
            assert model.labels[int(model.module(x).argmax())] == name


def test_the_bundled_tinyvgg_is_a_small_plain_state_dict() -> None:
    path = Path(str(resources.files("cnnviz") / "assets" / "tinyvgg.pt"))
    assert path.stat().st_size < 2 * 2**20
    data = torch.load(path, map_location="cpu", weights_only=True)
    assert set(data) == {"state_dict", "meta"}
    assert data["meta"]["config"]["dataset"] == "shapes"
    assert data["meta"]["history"][-1]["val_accuracy"] > 0.9
    assert not any("bn" in key for key in data["state_dict"])  # the CNN Explainer's layers


def test_list_samples_filters_by_kind() -> None:
    digits = list_samples("digit")
    photos = list_samples("photo")
    shapes = list_samples("shape")
    assert [sample.key for sample in digits] == [f"digit_{d}" for d in range(10)]
    assert 6 <= len(photos) <= 8
    assert len(shapes) == len(SHAPES)
    assert SAMPLE_KINDS == ("photo", "digit", "shape")
    assert list_samples() == SAMPLES
    assert sum(len(list_samples(kind)) for kind in SAMPLE_KINDS) == len(SAMPLES)
    assert len({sample.key for sample in SAMPLES}) == len(SAMPLES)
    with pytest.raises(ValueError, match="kind"):
        list_samples("video")


def test_unknown_sample_lists_valid_keys() -> None:
    with pytest.raises(InputError, match="chelsea"):
        load_sample("no_such_sample")


def test_image_digest_is_stable_and_discriminating() -> None:
    data = encode(colour_blocks(), "PNG")
    first = image_digest(load_image(data))
    assert first == image_digest(load_image(data))
    assert len(first) == 64
    changed = colour_blocks()
    changed.putpixel((0, 0), (254, 0, 0))
    assert image_digest(changed) != first
    grey = Image.new("L", (4, 4))
    assert image_digest(grey) != image_digest(grey.convert("RGB"))
    assert image_digest(grey) != image_digest(Image.new("L", (2, 8)))


def test_to_uint8_array_shapes() -> None:
    rgb = to_uint8_array(colour_blocks())
    assert rgb.shape == (30, 40, 3)
    assert rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    grey = to_uint8_array(Image.new("L", (5, 4), 9))
    assert grey.shape == (4, 5)
    assert grey.dtype == np.uint8
    grey[0, 0] = 1  # the array is a writable copy


def _canvas(h: int = 200, w: int = 240) -> np.ndarray:
    pixels = np.zeros((h, w, 4), dtype=np.uint8)
    pixels[..., 3] = 255  # an opaque black canvas
    return pixels


def test_a_blank_drawing_is_no_image() -> None:
    assert drawing_to_image(_canvas()) is None
    transparent = _canvas()
    transparent[..., :3] = 255
    transparent[..., 3] = 0  # white but fully transparent: nothing drawn
    assert drawing_to_image(transparent) is None


def test_a_drawing_is_centred_and_framed_like_the_digits() -> None:
    pixels = _canvas()
    pixels[20:60, 150:160, :3] = 255  # a small stroke in the top right corner
    image = drawing_to_image(pixels, margin=0.25)
    assert image is not None
    assert image.mode == "L"
    assert image.size == (60, 60)  # 40 px of strokes plus 25% on each side
    grey = np.array(image)
    rows, cols = np.nonzero(grey > 128)
    assert (rows.min(), rows.max()) == (10, 49)
    assert abs((cols.min() + cols.max()) / 2 - 29.5) <= 1  # centred across


def test_a_drawing_at_the_edge_is_padded_with_black() -> None:
    pixels = _canvas(50, 50)
    pixels[0:50, 0:5, :3] = 200
    image = drawing_to_image(pixels)
    assert image is not None
    assert image.size == (55, 55)  # 50 px of strokes plus 5% on each side
    assert np.array(image)[:, :10].max() == 0  # outside the canvas: black


def test_a_drawing_must_be_pixels() -> None:
    with pytest.raises(InputError):
        drawing_to_image(np.zeros((4, 4)))
