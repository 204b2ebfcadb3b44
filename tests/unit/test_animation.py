"""Tests for cnnviz.figures.animation: the player's steps, windows, products, equations, GIFs."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn

from cnnviz.figures.animation import (
    CELL,
    MAX_FRAMES,
    WINDOW,
    StepPlayer,
    cell_text,
    conv_equation,
    conv_gif,
    conv_player,
    frame_positions,
    map_image,
    number,
    pool_equation,
    pool_gif,
    pool_player,
)
from cnnviz.steps import WORKED_EXAMPLE, conv_steps, kernel, pool_steps, pool_steps_for


def worked(**kwargs: int) -> object:
    return conv_steps(WORKED_EXAMPLE, kernel("vertical_edge"), **kwargs)


def browser_products(player: StepPlayer, step: int) -> np.ndarray:
    """What the browser's player computes for the products grid (step_player.js, products())."""
    top, left = player.boxes[step][:2]
    x = np.nan_to_num(player.panel("input").values)  # padding cells hold 0
    d, k = player.dilation, player.kernel
    window = x[top : top + d * (k - 1) + 1 : d, left : left + d * (k - 1) + 1 : d]
    return window * player.panel("kernel").values


def test_worked_example_steps_windows_and_cells() -> None:
    player = conv_player(worked())
    assert list(player.labels) == [f"{i},{j}" for i in range(3) for j in range(3)]
    assert player.boxes[0] == (0, 0, 3, 3)  # top-left 3x3
    assert player.boxes[-1] == (2, 2, 3, 3)  # bottom-right 3x3
    assert player.cells[4] == (1, 1)  # the centre output cell
    assert [p.role for p in player.panels] == ["input", "kernel", "products", "output"]
    data = json.loads(json.dumps(player.data()))  # JSON-ready, as the component receives it
    assert data["labels"] == list(player.labels)
    assert data["colours"]["window"] == WINDOW
    assert data["colours"]["cell"] == CELL


def test_output_panel_holds_the_conv2d_values() -> None:
    player = conv_player(worked())
    output = player.panel("output")
    expected = F.conv2d(
        torch.tensor(np.array(WORKED_EXAMPLE))[None, None],
        torch.tensor(kernel("vertical_edge"))[None, None],
    )[0, 0]
    np.testing.assert_array_equal(output.values, expected.numpy())
    assert output.texts[0] == ("6", "−9", "−8")
    assert output.low == -output.high  # diverging around zero: white is 0


def test_products_and_equation_follow_the_step() -> None:
    result = worked()
    player = conv_player(result, activation="relu")
    np.testing.assert_array_equal(
        browser_products(player, 1), WORKED_EXAMPLE[:3, 1:4] * kernel("vertical_edge")
    )
    equation = player.equations[1]  # output (0, 1)
    assert equation.startswith("y[0, 1] = 2·1 + 3·0 + 3·(−1) + 5·1")
    assert "= <b>−9</b>" in equation
    assert equation.endswith("ReLU(−9) = <b>0</b>")
    assert player.panels[-1].title == "after ReLU"
    np.testing.assert_array_equal(player.panels[-1].values, np.maximum(result.output[0], 0))


def test_padding_stride_and_dilation_move_the_window() -> None:
    result = worked(stride=2, padding=1, dilation=2)
    assert result.out_shape == (2, 2)
    player = conv_player(result)
    assert player.boxes[0] == (0, 0, 5, 5)  # the dilated 3x3 kernel spans 5 cells
    assert player.boxes[-1] == (2, 2, 5, 5)
    assert (player.dilation, player.kernel) == (2, 3)
    for step in range(player.steps):  # the browser's products are the step's products
        i, j = player.cells[step]
        np.testing.assert_array_equal(browser_products(player, step), result.step(i, j).products[0])
    padded = player.panel("input")
    assert np.isnan(padded.values).sum() == 7 * 7 - 5 * 5
    assert padded.texts[0][0] == ""
    assert padded.pad_text == "0"


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
    player = conv_player(result, channel=2)
    assert player.panel("input").title == "input (channel 2 of 3)"
    np.testing.assert_array_equal(player.panel("kernel").values, result.weight[0, 2])


def test_large_inputs_are_thinned_and_stay_light() -> None:
    for side in (28, 64):
        result = conv_steps(np.random.default_rng(side).random((side, side)), kernel("sobel_x"))
        player = conv_player(result)
        positions, every = frame_positions(*result.out_shape)
        assert player.steps == len(positions) <= MAX_FRAMES
        assert every == (2 if side == 28 else 4)
        assert len(json.dumps(player.data())) < 400_000
        assert f"every {'2nd' if side == 28 else '4th'} row and column" in player.note


def test_pool_player_marks_the_kept_value() -> None:
    x = np.random.default_rng(3).random((8, 8))
    result = pool_steps(x, "max", 2)
    player = pool_player(result)
    assert player.steps == 16
    for (r, c), (i, j) in zip(player.kept, np.ndindex(4, 4), strict=True):
        assert x[r, c] == result.output[0, i, j] == x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    assert pool_equation(result, 0, 0).startswith("y[0, 0] = max(")
    assert player.equations[0] == pool_equation(result, 0, 0)


def test_average_and_global_pooling_equations() -> None:
    x = np.array([[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]])
    average = pool_steps(x, "avg", 2)
    assert pool_equation(average, 0, 0) == "y[0, 0] = (1 + 2 + 3 + 4) / 4 = <b>2.5</b>"
    assert pool_player(average).kept == ()  # nothing is "kept" by an average
    glob = pool_steps(np.ones((9, 9)), "avg", None)
    player = pool_player(glob)
    assert player.steps == 1
    assert player.title.startswith("Global average pooling")
    assert player.boxes[0] == (0, 0, 9, 9)
    assert pool_equation(glob, 0, 0) == "y[0, 0] = mean of the 81 values = <b>1</b>"


def test_adaptive_windows_move_and_change_size() -> None:
    x = np.arange(25.0).reshape(5, 5)
    result = pool_steps_for(nn.AdaptiveAvgPool2d(3), x)  # windows of 2, 3 and 2 rows
    player = pool_player(result)
    assert player.title == "Adaptive average pooling to 3 x 3: 5 x 5 → 3 x 3"
    # (top, left, height, width) in cells: rows 0–1, 1–3, 3–4, and the same for the columns.
    assert player.boxes[0] == (0, 0, 2, 2)
    assert player.boxes[4] == (1, 1, 3, 3)
    assert player.boxes[8] == (3, 3, 2, 2)
    assert pool_equation(result, 1, 1) == (
        "y[1, 1] = (6 + 7 + 8 + 11 + 12 + 13 + 16 + 17 + 18) / 9 = <b>12</b>"
    )


def test_marker_sits_on_the_kept_cell_of_a_padded_layer() -> None:
    x = np.random.default_rng(5).normal(size=(6, 6))
    result = pool_steps_for(nn.MaxPool2d(3, 2, 1), x)
    player = pool_player(result)
    assert player.title == "Max pooling 3 x 3, stride 2, padding 1: 6 x 6 → 3 x 3"
    assert player.panel("input").pad_text == "−∞"
    for (r, c), (i, j) in zip(player.kept, np.ndindex(3, 3), strict=True):  # padded coordinates
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
    assert pool_player(big).title.startswith("Global average pooling: 56 x 56 → 1 x 1")


def test_player_data_is_plain_json_with_nan_as_null() -> None:
    player = conv_player(worked(padding=1), activation="tanh")
    data = player.data()
    text = json.dumps(data, allow_nan=False)  # no NaN or numpy types reach the browser
    assert json.loads(text)["panels"][0]["values"][0][0] is None  # a padding cell
    assert len(data["equations"]) == len(data["boxes"]) == len(data["cells"]) == player.steps


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
