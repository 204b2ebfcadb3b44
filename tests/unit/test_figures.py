"""Tests for cnnviz.figures: value scaling, channel order, montages, overlays and plotly charts."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz import figures, load_sample, probe
from cnnviz.figures import (
    GAP,
    LABEL_H,
    MAX_CELL,
    MAX_MAP,
    MIN_CELL,
    channel_order,
    feature_grid,
    layer_rows,
    overlay,
    predictions_figure,
    shape_figure,
    thumbnail,
    to_jpeg,
    to_png,
    to_uint8,
)
from cnnviz.models import Model
from cnnviz.probe import Layer, Prediction, Probe, ReceptiveField
from cnnviz.steps import first_conv_name

ModelGetter = Callable[[str], Model]

# Two 2x2 maps whose arithmetic is exact in float32 (spans 10, 3 and 6; 255/10 = 25.5).
MAPS = np.array([[[0, 1], [2, 3]], [[4, 5], [6, 10]]], dtype=np.float32)


def layer_of(output: np.ndarray) -> Layer:
    output = np.asarray(output, dtype=np.float32)
    return Layer(
        1, "conv", "conv", "Conv2d", "Conv2d(...)", output.shape, 0, ReceptiveField(3, 1), output
    )


@pytest.fixture(scope="module")
def lenet5_probe(random_model: ModelGetter) -> Probe:
    return probe(random_model("lenet5"), load_sample("digit_3"))


# --- to_uint8 -------------------------------------------------------------------------------


def test_to_uint8_shared_uses_one_range_for_all_maps() -> None:
    # lo = 0, hi = 10: v -> 25.5 v, truncated.
    expected = np.array([[[0, 25], [51, 76]], [[102, 127], [153, 255]]], dtype=np.uint8)
    out = to_uint8(MAPS, "shared")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_to_uint8_channel_stretches_each_map() -> None:
    # map 0: lo 0, hi 3 -> 85 v; map 1: lo 4, hi 10 -> 42.5 (v - 4).
    expected = np.array([[[0, 85], [170, 255]], [[0, 42], [85, 255]]], dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(MAPS, "channel"), expected)


def test_to_uint8_default_is_shared_and_accepts_one_map() -> None:
    np.testing.assert_array_equal(to_uint8(MAPS), to_uint8(MAPS, "shared"))
    np.testing.assert_array_equal(to_uint8(MAPS[1]), np.array([[0, 42], [85, 255]], dtype=np.uint8))


@pytest.mark.parametrize("scale", ["shared", "channel"])
def test_to_uint8_constant_map_is_zero(scale: str) -> None:
    constant = np.full((3, 4, 5), 7.5, dtype=np.float32)
    out = to_uint8(constant, scale)
    assert out.shape == (3, 4, 5)
    assert not out.any()


def test_to_uint8_constant_channel_next_to_a_varying_one() -> None:
    maps = np.stack([np.full((2, 2), 3.0), MAPS[0]]).astype(np.float32)
    out = to_uint8(maps, "channel")
    assert not out[0].any()
    np.testing.assert_array_equal(out[1], [[0, 85], [170, 255]])


# --- channel_order --------------------------------------------------------------------------


def test_channel_order_by_index_and_by_mean() -> None:
    # channel means: 1, 5, 3, 5 (a tie keeps channel order)
    output = np.stack([np.full((2, 2), m) for m in (1.0, 5.0, 3.0, 5.0)])
    layer = layer_of(output)
    assert channel_order(layer) == [0, 1, 2, 3]
    assert channel_order(layer, "index") == [0, 1, 2, 3]
    assert channel_order(layer, "mean") == [1, 3, 2, 0]


def test_channel_order_by_mean_uses_the_whole_map() -> None:
    # channel 0 has the largest single value but the smallest mean
    output = np.array([[[9, -9], [-9, -9]], [[1, 1], [1, 1]], [[0, 0], [0, 0]]], dtype=np.float32)
    assert channel_order(layer_of(output), "mean") == [1, 2, 0]


# --- feature_grid ---------------------------------------------------------------------------


def expected_size(n: int, h: int, w: int, columns: int) -> tuple[tuple[int, int], int]:
    shrink = math.ceil(max(h, w) / MAX_MAP)
    h, w = h // shrink, w // shrink
    factor = max(1, math.ceil(MIN_CELL / max(h, w)))
    while factor > 1 and max(h, w) * factor > MAX_CELL:
        factor -= 1
    rows = math.ceil(n / columns)
    width = columns * (w * factor + GAP) + GAP
    height = rows * (h * factor + LABEL_H + GAP) + GAP
    return (width, height), factor


@pytest.mark.parametrize(
    ("shape", "columns", "expected_columns"),
    [
        ((5, 4, 6), None, 3),  # about square: ceil(sqrt(5)) = 3
        ((1, 28, 28), None, 1),
        ((6, 28, 28), 6, 6),
        ((64, 7, 7), None, 8),
        ((300, 3, 3), None, 16),  # at most 16 per row
        ((4, 200, 100), None, 2),  # larger than a cell: not enlarged
    ],
)
def test_feature_grid_size_follows_cells_columns_and_gaps(
    shape: tuple[int, int, int], columns: int | None, expected_columns: int
) -> None:
    maps = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    grid = feature_grid(maps, columns=columns)
    n, h, w = shape
    size, factor = expected_size(n, h, w, expected_columns)
    shrink = math.ceil(max(h, w) / MAX_MAP)

    assert grid.columns == expected_columns
    assert grid.image.mode == "RGB"
    assert grid.image.size == size
    assert grid.shrink == shrink
    assert grid.cell == max(h, w) // shrink * factor
    assert MIN_CELL <= grid.cell <= MAX_CELL or factor == 1
    assert grid.channels == tuple(range(n))


def test_large_maps_are_block_averaged() -> None:
    # 2 maps of 226 x 230: shrink = ceil(230 / 112) = 3, so 75 x 76 cells of 3 x 3 means.
    maps = np.zeros((2, 226, 230), dtype=np.float32)
    maps[1, :3, :3] = 9.0  # one 3x3 block of 9 -> its mean is 9, every other block 0
    grid = feature_grid(maps, colormap="gray")
    assert grid.shrink == 3
    assert grid.value_range == (0.0, 9.0)
    assert "averaged over 3 x 3 blocks" in grid.scale_note
    pixels = np.asarray(grid.image)
    left = GAP + (76 + GAP)  # second cell
    top = GAP + LABEL_H
    assert tuple(pixels[top, left]) == (255, 255, 255)
    assert tuple(pixels[top + 1, left + 1]) == (0, 0, 0)


def test_feature_grid_hand_computed_layout() -> None:
    grid = feature_grid(np.zeros((5, 4, 6), dtype=np.float32))
    # 3 columns of 6*12 = 72 px, 2 rows of 4*12 = 48 px plus a 16 px label, 3 px gaps
    assert grid.image.size == (3 * (72 + 3) + 3, 2 * (48 + 16 + 3) + 3)
    assert grid.cell == 72


def test_feature_grid_channels_and_value_range() -> None:
    maps = np.arange(5 * 3 * 3, dtype=np.float32).reshape(5, 3, 3)
    shared = feature_grid(maps, [4, 0, 2], scale="shared")
    assert shared.channels == (4, 0, 2)
    assert shared.value_range == (0.0, 44.0)  # over the channels shown only
    assert feature_grid(maps, [1], scale="shared").value_range == (9.0, 17.0)
    per_channel = feature_grid(maps, [4, 0, 2], scale="channel")
    assert per_channel.channels == (4, 0, 2)
    assert per_channel.value_range is None
    assert feature_grid(maps, (np.int64(3),)).channels == (3,)


# Channel 2 spans exactly 0..255 and channel 0 spans 51, so every scaled value is exact.
CELL_MAPS = np.array(
    [[[10, 27], [44, 61]], [[0, 0], [0, 0]], [[0, 255], [100, 200]]], dtype=np.float32
)


def cell_pixel(grid, k: int, row: int, col: int, factor: int) -> tuple[int, ...]:
    """Colour at the centre of map pixel (row, col) inside cell k of the grid."""
    h, w = CELL_MAPS.shape[1:]
    top = GAP + (k // grid.columns) * (h * factor + LABEL_H + GAP) + LABEL_H
    left = GAP + (k % grid.columns) * (w * factor + GAP)
    y = top + row * factor + factor // 2
    x = left + col * factor + factor // 2
    return grid.image.getpixel((x, y))


@pytest.mark.parametrize("colormap", ["viridis", "magma", "gray", "RdBu"])
def test_feature_grid_cells_are_the_colormap_of_the_right_channel(colormap: str) -> None:
    lut = figures._lut(colormap)
    grid = feature_grid(CELL_MAPS, [2, 0], colormap=colormap, scale="shared")
    factor = grid.cell // 2
    assert factor == MIN_CELL // 2
    # shared over channels 2 and 0: lo = 0, hi = 255, so a value is its own LUT index
    for (row, col), value in {(0, 0): 0, (0, 1): 255, (1, 0): 100, (1, 1): 200}.items():
        assert cell_pixel(grid, 0, row, col, factor) == tuple(lut[value])
    assert cell_pixel(grid, 1, 1, 1, factor) == tuple(lut[61])

    per_channel = feature_grid(CELL_MAPS, [2, 0], colormap=colormap, scale="channel")
    # channel 0 on its own: lo 10, hi 61 -> 5 (v - 10)
    for (row, col), value in {(0, 0): 0, (0, 1): 85, (1, 0): 170, (1, 1): 255}.items():
        assert cell_pixel(per_channel, 1, row, col, factor) == tuple(lut[value])
    # centre pixel of the whole first cell is map pixel (1, 1)
    centre = (GAP + grid.cell // 2, GAP + LABEL_H + grid.cell // 2)
    assert grid.image.getpixel(centre) == tuple(lut[200])


def test_feature_grid_gray_colormap_is_the_identity() -> None:
    lut = figures._lut("gray")
    np.testing.assert_array_equal(lut[:, 0], np.arange(256))
    assert (lut[:, 0] == lut[:, 1]).all()
    assert (lut[:, 1] == lut[:, 2]).all()
    assert figures._lut("viridis").shape == (256, 3)


def test_feature_grid_constant_channel_is_the_darkest_colour() -> None:
    lut = figures._lut("viridis")
    grid = feature_grid(CELL_MAPS, [1], scale="channel")
    factor = grid.cell // 2
    assert cell_pixel(grid, 0, 1, 1, factor) == tuple(lut[0])


def test_feature_grid_background_between_cells_is_white() -> None:
    grid = feature_grid(CELL_MAPS, [2, 0])
    assert grid.image.getpixel((0, 0)) == figures.BACKGROUND
    gap_x = GAP + grid.cell + 1  # between the two cells of the first row
    assert grid.image.getpixel((gap_x, GAP + LABEL_H + 5)) == figures.BACKGROUND


# --- overlay --------------------------------------------------------------------------------


def test_overlay_has_the_image_size() -> None:
    image = Image.new("RGB", (50, 30), (10, 20, 30))
    heat = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    out = overlay(image, heat)
    assert out.size == (50, 30)
    assert out.mode == "RGB"


def test_overlay_opacity_zero_returns_the_image() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    out = overlay(image, np.arange(12, dtype=np.float32).reshape(3, 4), opacity=0.0)
    np.testing.assert_array_equal(np.asarray(out), pixels)


def test_overlay_of_a_grey_image_is_rgb() -> None:
    image = Image.fromarray(np.full((32, 32), 77, dtype=np.uint8), "L")
    out = overlay(image, np.ones((4, 4), dtype=np.float32), opacity=0.0)
    assert out.mode == "RGB"
    assert out.getpixel((5, 5)) == (77, 77, 77)


def test_overlay_opacity_one_shows_only_the_map() -> None:
    image = Image.new("RGB", (8, 8), (200, 0, 0))
    lut = figures._lut("gray")
    out = overlay(image, np.full((2, 2), 3.0, dtype=np.float32), "gray", opacity=1.0)
    assert out.getpixel((4, 4)) == tuple(lut[0])  # a constant map is the darkest colour


# --- plotly charts --------------------------------------------------------------------------

PREDICTIONS = (
    Prediction(3, "three", 0.625),
    Prediction(8, "eight", 0.25),
    Prediction(5, "five", 0.125),
)


def test_predictions_figure_most_probable_on_top() -> None:
    fig = predictions_figure(PREDICTIONS, trained=True)
    (bar,) = fig.data
    assert bar.type == "bar"
    assert bar.orientation == "h"
    assert list(bar.y) == ["five", "eight", "three"]  # plotly draws the last bar on top
    assert list(bar.x) == [0.125, 0.25, 0.625]
    assert list(bar.text) == ["12.5%", "25.0%", "62.5%"]
    assert bar.marker.color == "#1f77b4"
    assert fig.layout.title.text == "Top-5 predictions"
    assert list(fig.layout.xaxis.range) == [0, 1]


def test_predictions_figure_is_grey_when_untrained() -> None:
    fig = predictions_figure(PREDICTIONS, trained=False)
    assert fig.data[0].marker.color == "#9e9e9e"
    assert "random weights" in fig.layout.title.text


def test_shape_figure_one_bar_per_main_map_layer(lenet5_probe: Probe) -> None:
    fig = shape_figure(lenet5_probe, highlight="features.s2")
    bars, line = fig.data
    names = ["input", "features.c1", "features.s2", "features.c3", "features.s4"]
    assert list(bars.x) == names
    assert list(bars.y) == [1, 6, 6, 16, 16]
    assert list(line.x) == names
    assert list(line.y) == [32, 28, 14, 10, 5]
    colors = list(bars.marker.color)
    assert colors[2] == "#d62728"
    assert colors.count("#d62728") == 1


def test_shape_figure_labels_channels_in_full_and_clips_nothing(lenet5_probe: Probe) -> None:
    """Channel ticks are whole numbers at powers of two ("16", not plotly's minor "2, 5"), the
    axes hold the tallest bar and the largest side with room, a one-channel bar is visible
    (the log axis starts below 1), and the line is drawn over the bars (overlaying axis) with
    its edge markers not cut."""
    fig = shape_figure(lenet5_probe)
    bars, line = fig.data
    channels, sides = fig.layout.yaxis, fig.layout.yaxis2
    assert bars.yaxis in (None, "y")
    assert line.yaxis == "y2"
    assert sides.overlaying == "y"
    assert channels.type == "log"
    assert list(channels.ticktext) == [str(v) for v in channels.tickvals]
    assert all(v & (v - 1) == 0 for v in channels.tickvals)  # powers of two
    assert max(channels.tickvals) == 2 ** (max(bars.y).bit_length() - 1)  # the top power, named
    assert 10 ** channels.range[0] < min(bars.y) == 1
    assert 10 ** channels.range[1] > max(bars.y)
    assert sides.range[1] > max(line.y)
    assert sides.tickmode == "auto"  # round pixel ticks, not synced to the log axis's grid
    assert line.cliponaxis is False
    assert channels.automargin
    assert sides.automargin


def test_shape_figure_skips_vectors_and_non_main_layers(lenet5_probe: Probe) -> None:
    expected = [x.name for x in lenet5_probe.layers if x.is_main and x.is_map]
    assert "features.act1" not in expected
    assert "classifier.c5" not in expected
    assert list(shape_figure(lenet5_probe).data[0].x) == expected


def test_heatmap_and_vector_figures() -> None:
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    fig = figures.heatmap_figure(values, "a map", "RdBu")
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), values)
    assert fig.layout.title.text == "a map"
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, as in the image
    vec = figures.vector_figure(np.arange(4, dtype=np.float32).reshape(4, 1, 1), "v")
    np.testing.assert_array_equal(np.asarray(vec.data[0].y), [0, 1, 2, 3])
    np.testing.assert_array_equal(np.asarray(vec.data[0].x), [0, 1, 2, 3])


# --- layer table and PNG --------------------------------------------------------------------


def test_layer_rows_all_and_main_only(lenet5_probe: Probe) -> None:
    rows = layer_rows(lenet5_probe)
    assert [r["layer"] for r in rows] == list(lenet5_probe.names)
    main = layer_rows(lenet5_probe, main_only=True)
    assert [r["layer"] for r in main] == [x.name for x in lenet5_probe.layers if x.is_main]
    assert "features.act1" not in [r["layer"] for r in main]
    assert len(main) < len(rows)
    c1 = next(r for r in main if r["layer"] == "features.c1")
    assert c1["output shape"] == "6 x 28 x 28"
    assert c1["parameters"] == 156
    assert c1["type"] == "Conv2d"
    assert c1["receptive field"] == "5 px, stride 1"


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_to_png_round_trips(mode: str) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (9, 13, len(mode)), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    data = to_png(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as back:
        assert back.format == "PNG"
        assert back.mode == mode
        assert back.size == (13, 9)
        np.testing.assert_array_equal(np.asarray(back), np.asarray(image))


def test_thumbnail_is_a_square_center_crop() -> None:
    image = Image.new("L", (300, 100), 0)
    image.paste(255, (100, 0, 200, 100))  # a white middle third
    thumb = thumbnail(image, side=50)
    assert thumb.size == (50, 50)
    assert thumb.mode == "RGB"
    assert np.asarray(thumb).min() > 200  # only the white middle survives the crop


def test_to_jpeg_round_trips_as_a_jpeg() -> None:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    decoded = Image.open(io.BytesIO(to_jpeg(image)))
    assert decoded.format == "JPEG"
    assert decoded.size == (40, 30)
    assert np.abs(np.asarray(decoded, dtype=int) - (200, 30, 30)).max() <= 8


def test_image_grid_places_each_image_under_its_caption() -> None:
    from cnnviz.figures import image_grid

    images = np.zeros((3, 1, 4, 4), dtype=np.uint8)
    images[1] = 255
    grid = image_grid(images, ["a", "b", "c"], columns=2, cell=8)
    assert grid.size == (2 * (8 + GAP) + GAP, 2 * (8 + LABEL_H + GAP) + GAP)
    pixels = np.asarray(grid)
    top = GAP + LABEL_H
    assert tuple(pixels[top + 4, GAP + 4]) == (0, 0, 0)  # image 0: black
    assert tuple(pixels[top + 4, GAP + (8 + GAP) + 4]) == (255, 255, 255)  # image 1: white


def test_filters_show_the_first_convolution_as_steps_finds_it() -> None:
    # A 4-D tensor that is no layer's weight comes first; then a non-square convolution.
    module = torch.nn.Sequential(torch.nn.Conv2d(2, 3, (1, 3)), torch.nn.Conv2d(3, 4, 3))
    state = {"anchors": torch.ones(1, 1, 2, 2), **module.state_dict()}
    expected = module[0].weight.detach().mean(1).numpy()
    np.testing.assert_array_equal(figures.first_conv_weights(state), expected)
    np.testing.assert_array_equal(figures.first_conv_weights(module), expected)
    assert first_conv_name(state) == first_conv_name(module) == "0"
    assert figures.filters_grid(state).channels == (0, 1, 2)
    with pytest.raises(ValueError, match="no convolution"):
        figures.first_conv_weights({"anchors": torch.ones(1, 1, 2, 2)})
