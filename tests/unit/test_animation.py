"""Tests for cnnviz.figures.animation: frames, windows, the equation line, GIFs, sizes."""

from __future__ import annotations

import io
import itertools
import json
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn

from cnnviz.figures.animation import (
    CELL,
    MAX_FRAMES,
    WINDOW,
    cell_text,
    conv_animation,
    conv_equation,
    conv_gif,
    frame_positions,
    map_image,
    number,
    pool_animation,
    pool_equation,
    pool_gif,
)
from cnnviz.steps import WORKED_EXAMPLE, conv_steps, kernel, pool_steps, pool_steps_for


def worked(**kwargs: int) -> object:
    return conv_steps(WORKED_EXAMPLE, kernel("vertical_edge"), **kwargs)


def moving(spec: dict, color: str) -> int:
    """Position in a frame's data of the moving line trace drawn in ``color``."""
    frame = spec["frames"][0]
    for position, index in enumerate(frame["traces"]):
        trace = spec["data"][index]
        if trace.get("line", {}).get("color") == color:
            return position
    raise AssertionError(f"no moving trace in {color}")


def box(trace: dict) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a rectangle trace, in cell coordinates."""
    xs = [v for v in trace["x"] if v is not None]
    ys = [v for v in trace["y"] if v is not None]
    return min(xs), min(ys), max(xs), max(ys)


def test_worked_example_frames_windows_and_cells() -> None:
    spec = conv_animation(worked()).to_dict()
    frames = spec["frames"]
    assert [f["name"] for f in frames] == [f"{i},{j}" for i in range(3) for j in range(3)]
    window, cell = moving(spec, WINDOW), moving(spec, CELL)
    assert box(frames[0]["data"][window]) == (-0.5, -0.5, 2.5, 2.5)  # top-left 3x3
    assert box(frames[-1]["data"][window]) == (1.5, 1.5, 4.5, 4.5)  # bottom-right 3x3
    assert box(frames[4]["data"][cell]) == (0.5, 0.5, 1.5, 1.5)  # the centre output cell
    slider = spec["layout"]["sliders"][0]
    assert [s["args"][0] for s in slider["steps"]] == [[f["name"]] for f in frames]
    buttons = spec["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["▶ Play", "❚❚ Pause"]


def test_output_is_drawn_once_with_the_conv2d_values() -> None:
    spec = conv_animation(worked()).to_dict()
    heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
    output = next(t for t in heatmaps if t["xaxis"] == "x4")
    expected = F.conv2d(
        torch.tensor(np.array(WORKED_EXAMPLE))[None, None],
        torch.tensor(kernel("vertical_edge"))[None, None],
    )[0, 0]
    np.testing.assert_array_equal(np.array(output["z"], dtype=float), expected.numpy())
    assert output["text"][0] == ["6", "−9", "−8"]
    assert output["textfont"]["size"] >= 20  # readable on a projector
    # Frames carry only the moving pieces, never the whole output again.
    for frame in spec["frames"]:
        assert all(len(d.get("z", [])) <= 3 for d in frame["data"])


def rectangles_area(trace: dict) -> float:
    """Total area of the rectangles of a trace (runs of points separated by None)."""
    area, run = 0.0, []
    for x, y in [*zip(trace["x"], trace["y"], strict=True), (None, None)]:
        if x is None:
            if run:
                xs, ys = zip(*run, strict=True)
                area += (max(xs) - min(xs)) * (max(ys) - min(ys))
            run = []
        else:
            run.append((x, y))
    return area


def test_cover_hides_exactly_the_cells_not_computed_yet() -> None:
    spec = conv_animation(worked()).to_dict()
    cover = moving(spec, CELL) + 1
    for done, frame in enumerate(spec["frames"], start=1):
        assert rectangles_area(frame["data"][cover]) == 9 - done
    first = spec["frames"][0]["data"][cover]
    assert box(first) == (-0.5, -0.5, 2.5, 2.5)


def test_products_and_equation_follow_the_step() -> None:
    result = worked()
    spec = conv_animation(result, activation="relu").to_dict()
    frame = spec["frames"][1]  # output (0, 1)
    products = np.array(frame["data"][0]["z"])
    np.testing.assert_array_equal(products, WORKED_EXAMPLE[:3, 1:4] * kernel("vertical_edge"))
    equation = frame["data"][-1]["text"][0]
    assert equation.startswith("y[0, 1] = 2·1 + 3·0 + 3·(−1) + 5·1")
    assert "= <b>−9</b>" in equation
    assert equation.endswith("ReLU(−9) = <b>0</b>")
    assert any(t["xaxis"] == "x5" and t["type"] == "heatmap" for t in spec["data"])


def test_padding_stride_and_dilation_move_the_window() -> None:
    result = worked(stride=2, padding=1, dilation=2)
    assert result.out_shape == (2, 2)
    spec = conv_animation(result).to_dict()
    window = moving(spec, WINDOW)
    assert box(spec["frames"][0]["data"][window]) == (-0.5, -0.5, 4.5, 4.5)  # spans 5 cells
    assert box(spec["frames"][-1]["data"][window]) == (1.5, 1.5, 6.5, 6.5)
    taps = spec["frames"][-1]["data"][window + 1]
    assert sorted(zip(taps["y"], taps["x"], strict=True)) == [
        (r, c) for r in (2, 4, 6) for c in (2, 4, 6)
    ]
    padding = [t for t in spec["data"] if t.get("hovertemplate") == "padding<extra></extra>"]
    assert len(padding) == 1
    assert sum(v == 0.0 for row in padding[0]["z"] for v in row) == 7 * 7 - 5 * 5


def test_multichannel_equation_adds_the_channel_sums() -> None:
    rng = np.random.default_rng(0)
    result = conv_steps(rng.integers(0, 4, (3, 4, 4)), rng.integers(-1, 2, (1, 3, 3, 3)), 1.0)
    step = result.step(1, 0)
    text = conv_equation(step, channel=2)
    first, second = text.split("<br>")
    assert first.startswith("channel 2 = ")
    assert first.endswith(f"= <b>{number(step.channel_sums[2])}</b>")
    assert second.startswith("y[1, 0] = ")
    assert second.endswith(f"+ bias 1 = <b>{number(step.total)}</b>")


def test_large_inputs_are_thinned_and_stay_light() -> None:
    for side in (28, 64):
        result = conv_steps(np.random.default_rng(side).random((side, side)), kernel("sobel_x"))
        figure = conv_animation(result)
        spec = figure.to_dict()
        positions, every = frame_positions(*result.out_shape)
        assert len(spec["frames"]) == len(positions) <= MAX_FRAMES
        assert every == (2 if side == 28 else 4)
        assert len(pio.to_json(figure, validate=False)) < 1_000_000
        prefix = spec["layout"]["sliders"][0]["currentvalue"]["prefix"]
        assert f"every {'2nd' if side == 28 else '4th'} row and column" in prefix


def test_figure_is_valid_plotly() -> None:
    """The dicts skip plotly's validation for speed; check once that plotly accepts them."""
    pooled = pool_steps(np.arange(36.0).reshape(6, 6), "max", 2)
    for figure in (conv_animation(worked(padding=1), activation="tanh"), pool_animation(pooled)):
        spec = figure.to_dict()
        checked = go.Figure(spec)
        assert len(checked.frames) == len(spec["frames"])
        assert json.loads(figure.to_json())["frames"][0]["name"] == "0,0"


def test_pool_animation_circles_the_kept_value() -> None:
    x = np.random.default_rng(3).random((8, 8))
    result = pool_steps(x, "max", 2)
    spec = pool_animation(result).to_dict()
    assert len(spec["frames"]) == 16
    marker = 1  # window, then the chosen-cell marker
    for frame, (i, j) in zip(spec["frames"], np.ndindex(4, 4), strict=True):
        r, c = frame["data"][marker]["y"][0], frame["data"][marker]["x"][0]
        assert x[r, c] == result.output[0, i, j] == x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    assert pool_equation(result, 0, 0).startswith("y[0, 0] = max(")


def test_average_and_global_pooling_equations() -> None:
    x = np.array([[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]])
    average = pool_steps(x, "avg", 2)
    assert pool_equation(average, 0, 0) == "y[0, 0] = (1 + 2 + 3 + 4) / 4 = <b>2.5</b>"
    glob = pool_steps(np.ones((9, 9)), "avg", None)
    spec = pool_animation(glob).to_dict()
    assert len(spec["frames"]) == 1
    assert spec["layout"]["title"]["text"].startswith("Global average pooling")
    assert pool_equation(glob, 0, 0) == "y[0, 0] = mean of the 81 values = <b>1</b>"


def test_adaptive_windows_move_and_change_size() -> None:
    x = np.arange(25.0).reshape(5, 5)
    result = pool_steps_for(nn.AdaptiveAvgPool2d(3), x)  # windows of 2, 3 and 2 rows
    spec = pool_animation(result).to_dict()
    assert spec["layout"]["title"]["text"] == "Adaptive average pooling to 3 x 3: 5 x 5 → 3 x 3"
    window = moving(spec, WINDOW)
    boxes = [box(frame["data"][window]) for frame in spec["frames"]]
    # (left, top, right, bottom) in cells: rows 0–1, 1–3, 3–4, and the same for the columns.
    assert boxes[0] == (-0.5, -0.5, 1.5, 1.5)
    assert boxes[4] == (0.5, 0.5, 3.5, 3.5)
    assert boxes[8] == (2.5, 2.5, 4.5, 4.5)
    assert pool_equation(result, 1, 1) == (
        "y[1, 1] = (6 + 7 + 8 + 11 + 12 + 13 + 16 + 17 + 18) / 9 = <b>12</b>"
    )


def test_marker_sits_on_the_kept_cell_of_a_padded_layer() -> None:
    x = np.random.default_rng(5).normal(size=(6, 6))
    result = pool_steps_for(nn.MaxPool2d(3, 2, 1), x)
    spec = pool_animation(result).to_dict()
    assert (
        spec["layout"]["title"]["text"] == "Max pooling 3 x 3, stride 2, padding 1: 6 x 6 → 3 x 3"
    )
    for frame, (i, j) in zip(spec["frames"], np.ndindex(3, 3), strict=True):
        r, c = frame["data"][1]["y"][0], frame["data"][1]["x"][0]  # padded coordinates
        assert (
            result.padded[0, r, c]
            == x[max(0, 2 * i - 1) : 2 * i + 2, max(0, 2 * j - 1) : 2 * j + 2].max()
        )
    assert "−∞" not in pool_equation(result, 0, 0)  # the padding is never a candidate


def test_average_equation_divides_by_what_counts() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    counted = pool_steps_for(nn.AvgPool2d(3, 1, 1), x)
    assert pool_equation(counted, 0, 0).endswith("/ 9 = <b>1.11</b>")
    assert pool_equation(counted, 0, 0).startswith("y[0, 0] = (0 + 0 + 0 + 0 + 1 + 2 + 0 + 3 + 4)")
    not_counted = pool_steps_for(nn.AvgPool2d(3, 1, 1, count_include_pad=False), x)
    assert pool_equation(not_counted, 0, 0) == "y[0, 0] = (1 + 2 + 3 + 4) / 4 = <b>2.5</b>"
    big = pool_steps_for(nn.AdaptiveAvgPool2d(1), np.ones((56, 56)))
    assert pool_equation(big, 0, 0) == "y[0, 0] = mean of the 3136 values = <b>1</b>"
    assert (
        pool_animation(big)
        .to_dict()["layout"]["title"]["text"]
        .startswith("Global average pooling: 56 x 56 → 1 x 1")
    )


def test_gif_has_a_frame_per_step_and_loops() -> None:
    data = conv_gif(worked(padding=1))
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF"
    assert image.n_frames == 25
    assert image.info["loop"] == 0
    first = np.asarray(image.convert("RGB"))
    image.seek(24)
    assert not np.array_equal(first, np.asarray(image.convert("RGB")))  # the window moved


def test_pool_gif_steps_through_the_windows_and_marks_the_kept_cell() -> None:
    x = np.arange(16, dtype=float).reshape(4, 4)
    image = Image.open(io.BytesIO(pool_gif(pool_steps(x, "max", 2, 2))))
    assert image.format == "GIF"
    assert image.n_frames == 4  # one frame per output cell of the 2 x 2 output
    assert image.info["loop"] == 0
    frames = []
    for k in range(image.n_frames):
        image.seek(k)
        frames.append(np.asarray(image.convert("RGB")).astype(int))
    # Each frame differs from the last: the window moves and one more output cell fills in.
    assert all(np.abs(a - b).sum() > 0 for a, b in itertools.pairwise(frames))
    glob = Image.open(io.BytesIO(pool_gif(pool_steps(x, "avg", None))))
    assert glob.n_frames == 1


def test_numbers_are_written_as_a_student_writes_them() -> None:
    assert [number(v) for v in (6.0, -9.0, 0.4712, -float("inf"))] == ["6", "−9", "0.471", "−∞"]
    assert [cell_text(v) for v in (0.289, -0.0755, 12.25, 3.0)] == ["0.29", "−0.08", "12.2", "3"]


def test_map_image_is_symmetric_around_zero() -> None:
    image = map_image(np.array([[-2.0, 0.0, 2.0]]), longest=30)
    assert image.size == (30, 10)
    left, middle, right = (np.asarray(image)[0, x] for x in (0, 15, 29))
    assert middle.min() > 200  # white at zero
    assert left[2] > left[0]  # blue for negative
    assert right[0] > right[2]  # red for positive


@pytest.mark.parametrize(("limit", "every"), [(1, 10), (4, 5), (20, 2), (70, 1), (500, 1)])
def test_frame_positions_thin_rows_and_columns(limit: int, every: int) -> None:
    positions, found = frame_positions(10, 7, max_frames=limit)
    assert found == every
    assert positions[0] == (0, 0)
    assert len(positions) <= limit
    assert positions == [(i, j) for i in range(0, 10, every) for j in range(0, 7, every)]


AXIS_ID = re.compile(r"^[xy]([2-9]|[1-9]\d+)?$")  # plotly.js ids: x, x2, x3... (no "x1")


@pytest.mark.parametrize(
    "spec",
    [
        conv_animation(conv_steps(WORKED_EXAMPLE, kernel("sobel_x"))).to_dict(),
        pool_animation(pool_steps(np.arange(49.0).reshape(7, 7), "max", 3, 2, 1)).to_dict(),
    ],
    ids=["conv", "pool"],
)
def test_axis_references_are_plotly_ids(spec: dict) -> None:
    """Every panel's cells stay square: plotly.js ignores a ``scaleanchor`` that names no axis
    (``"x1"``), which stretched the first panel's cells into wide rectangles."""
    layout = spec["layout"]
    keys = {k for k in layout if k.startswith(("xaxis", "yaxis"))}
    ids = {("x" if k.startswith("x") else "y") + k[5:] for k in keys}
    assert all(AXIS_ID.match(i) for i in ids)
    for trace in spec["data"]:
        assert {trace["xaxis"], trace["yaxis"]} <= ids
    for key in keys:
        for field in ("anchor", "scaleanchor"):
            if field in layout[key]:
                assert layout[key][field] in ids
    assert layout["yaxis"]["scaleanchor"] == "x"  # the first panel: square cells
