"""Tests for the pooling windows of cnnviz.steps: a layer's settings, fixed and adaptive windows.

The step-by-step output is computed from the windows (their maximum, or their sum over the
divisor); PyTorch's functional pooling is the oracle, and a few cases are written out by hand.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz import InputError
from cnnviz.steps import PoolSettings, PoolSteps, pool_settings, pool_steps_for


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def assert_steps_are_the_output(result: PoolSteps, expected: torch.Tensor) -> None:
    """Every frame's value (from its own window) is the oracle's, and so is the output grid."""
    torch.testing.assert_close(tensor(result.output), expected, rtol=1e-12, atol=1e-12)
    channels = range(result.output.shape[0])
    for c, i, j in itertools.product(channels, *map(range, result.out_shape)):
        value = result.step(i, j, c).value
        assert value == pytest.approx(float(expected[c, i, j]), rel=1e-12, abs=1e-12)


# --- hand-computed cases ---------------------------------------------------------------------

GRID_5 = np.arange(25.0).reshape(5, 5)  # x[r, c] = 5r + c


def test_adaptive_windows_5_to_3_by_hand() -> None:
    # start = floor(i·5/3), stop = ceil((i+1)·5/3): rows 0–1, 1–3, 3–4 (uneven, overlapping).
    rows, cols = PoolSettings("avg", output_size=(3, 3)).windows(5, 5)
    np.testing.assert_array_equal(rows, [[0, 2], [1, 4], [3, 5]])
    np.testing.assert_array_equal(cols, rows)

    average = pool_steps_for(nn.AdaptiveAvgPool2d(3), GRID_5)
    # The mean of a window is 5·(mean row) + (mean column); the means are 0.5, 2 and 3.5.
    by_hand = [[3.0, 4.5, 6.0], [10.5, 12.0, 13.5], [18.0, 19.5, 21.0]]
    np.testing.assert_allclose(average.output[0], by_hand)
    middle = average.step(1, 1)
    np.testing.assert_array_equal(middle.window, GRID_5[1:4, 1:4])
    assert middle.divisor == 9
    assert average.window_box(2, 0) == (3, 0, 2, 2)

    largest = pool_steps_for(nn.AdaptiveMaxPool2d(3), GRID_5)
    # The largest of a window is 5·(last row) + (last column): rows 1, 3, 4.
    np.testing.assert_array_equal(largest.output[0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    assert largest.step(0, 2).kept == (1, 4)
    torch.testing.assert_close(
        tensor(average.output), F.adaptive_avg_pool2d(tensor(GRID_5)[None], 3)
    )
    torch.testing.assert_close(
        tensor(largest.output), F.adaptive_max_pool2d(tensor(GRID_5)[None], 3)
    )


def test_ceil_mode_keeps_a_partial_last_window_by_hand() -> None:
    x = np.array([[3.0, 1.0, 4.0, 1.0, 5.0]])
    max_pool = nn.MaxPool2d((1, 2), ceil_mode=True)  # 5 columns -> ceil(3 / 2) + 1 = 3
    result = pool_steps_for(max_pool, x)
    np.testing.assert_array_equal(result.cols, [[0, 2], [2, 4], [4, 5]])
    np.testing.assert_array_equal(result.output[0], [[3, 4, 5]])
    average = pool_steps_for(nn.AvgPool2d((1, 2), ceil_mode=True), x)
    np.testing.assert_array_equal(average.output[0], [[2.0, 2.5, 5.0]])  # the last: 5 / 1
    assert average.step(0, 2).divisor == 1
    torch.testing.assert_close(tensor(result.output), max_pool(tensor(x)[None]))
    torch.testing.assert_close(
        tensor(average.output), F.avg_pool2d(tensor(x)[None], (1, 2), ceil_mode=True)
    )


def test_padding_in_the_divisor_or_not_by_hand() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])  # every 3 x 3 window holds all four cells
    counted = pool_steps_for(nn.AvgPool2d(3, 1, 1), x)
    np.testing.assert_allclose(counted.output[0], np.full((2, 2), 10 / 9))
    assert counted.step(0, 0).divisor == 9
    not_counted = pool_steps_for(nn.AvgPool2d(3, 1, 1, count_include_pad=False), x)
    np.testing.assert_allclose(not_counted.output[0], np.full((2, 2), 10 / 4))
    step = not_counted.step(1, 1)
    assert step.divisor == 4
    assert step.counted.sum() == 4
    assert not step.counted[step.is_padding].any()
    override = pool_steps_for(nn.AvgPool2d(2, divisor_override=3), x)
    np.testing.assert_allclose(override.output[0], [[10 / 3]])


def test_max_pooling_never_keeps_padding() -> None:
    x = -np.ones((1, 3, 3))  # every value below the padding's zero
    result = pool_steps_for(nn.MaxPool2d(3, 2, 1), x)
    np.testing.assert_array_equal(result.output, -np.ones((1, 2, 2)))
    step = result.step(0, 0)
    assert step.is_padding[0].all()
    assert not step.is_padding[step.chosen]
    assert result.padded[0, 0, 0] == -np.inf


# --- settings read from modules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected", "words"),
    [
        (
            nn.MaxPool2d(2),
            PoolSettings("max", (2, 2), (2, 2)),
            "max pooling 2 x 2, stride 2, padding 0",
        ),
        (
            nn.MaxPool2d(3, 2, ceil_mode=True),  # GoogLeNet
            PoolSettings("max", (3, 3), (2, 2), ceil_mode=True),
            "max pooling 3 x 3, stride 2, padding 0, ceil mode",
        ),
        (
            nn.MaxPool2d((2, 3), (1, 2), (1, 1), dilation=2),
            PoolSettings("max", (2, 3), (1, 2), (1, 1), (2, 2)),
            "max pooling 2 x 3, stride 1 x 2, padding 1, dilation 2",
        ),
        (
            nn.AvgPool2d(3, 2, 1, count_include_pad=False),
            PoolSettings("avg", (3, 3), (2, 2), (1, 1), count_include_pad=False),
            "average pooling 3 x 3, stride 2, padding 1, padding not counted",
        ),
        (
            nn.AdaptiveAvgPool2d(1),
            PoolSettings("avg", output_size=(1, 1)),
            "global average pooling",
        ),
        (
            nn.AdaptiveAvgPool2d((6, 6)),  # AlexNet
            PoolSettings("avg", output_size=(6, 6)),
            "adaptive average pooling to 6 x 6",
        ),
        (
            nn.AdaptiveMaxPool2d((None, 2)),
            PoolSettings("max", output_size=(None, 2)),
            "adaptive max pooling to same x 2",
        ),
    ],
)
def test_settings_are_read_from_the_module(
    module: nn.Module, expected: PoolSettings, words: str
) -> None:
    assert pool_settings(module) == expected
    assert expected.describe() == words
    x = np.random.default_rng(0).normal(size=(2, 7, 9))
    with torch.no_grad():
        out = module(tensor(x)[None])[0]
    assert_steps_are_the_output(pool_steps_for(module, x), out)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.LPPool2d(2, 2), "does not apply to LPPool2d"),
        (nn.FractionalMaxPool2d(2, output_size=3), "does not apply to FractionalMaxPool2d"),
        (nn.ReLU(), "does not apply to ReLU"),
    ],
)
def test_poolings_the_steps_cannot_show_are_refused(module: nn.Module, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pool_settings(module)


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(InputError, match="more than half the 3x3 window"):
        PoolSettings("max", (3, 3), (1, 1), (2, 2)).windows(6, 6)
    with pytest.raises(InputError, match="at least 1 x 1"):
        PoolSettings("avg", output_size=(0, 2)).windows(6, 6)
    with pytest.raises(InputError, match="'max' or 'avg'"):
        PoolSettings("min", (2, 2), (2, 2)).windows(6, 6)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="does not fit"):
        pool_steps_for(nn.MaxPool2d(5), np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"\(C, H, W\) or \(H, W\)"):
        pool_steps_for(nn.MaxPool2d(2), np.zeros((1, 1, 3, 3)))


# --- PyTorch as the oracle -------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    kind=st.sampled_from(["max", "avg"]),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_fixed_windows_match_torch(
    h: int,
    w: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    kind: str,
    ceil_mode: bool,
    count_include_pad: bool,
    seed: int,
    data: st.DataObject,
) -> None:
    dilation = (1, 1) if kind == "avg" else data.draw(st.tuples(*[st.integers(1, 2)] * 2))
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)  # PyTorch's limit
    module = (
        nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        if kind == "max"
        else nn.AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad)
    )
    x = np.random.default_rng(seed).normal(size=(2, h, w))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if any(span > side + 2 * p for span, side, p in zip(spans, (h, w), padding, strict=True)):
        # A window larger than the padded map is refused (PyTorch clips it in ceil mode).
        with pytest.raises(InputError, match="does not fit"):
            pool_steps_for(module, x)
        return
    with torch.no_grad():
        expected = module(tensor(x)[None])[0]
    result = pool_steps_for(module, x)
    assert_steps_are_the_output(result, expected)
    if kind == "max":
        _, indices = F.max_pool2d(
            tensor(x)[None], kernel, stride, padding, dilation, ceil_mode, return_indices=True
        )
        for c, i, j in itertools.product(range(2), *map(range, result.out_shape)):
            step = result.step(i, j, c)
            if step.kept is None:  # dilated taps all on padding: nothing to keep
                assert step.value == float(expected[c, i, j]) == -np.inf
                continue
            r, col = step.kept
            assert (r - padding[0]) * w + (col - padding[1]) == int(indices[0, c, i, j])


@settings(max_examples=120, deadline=None)
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    out_h=st.integers(1, 14),
    out_w=st.integers(1, 14),
    kind=st.sampled_from(["max", "avg"]),
    seed=st.integers(0, 2**16),
)
def test_adaptive_windows_match_torch(
    h: int, w: int, out_h: int, out_w: int, kind: str, seed: int
) -> None:
    x = np.random.default_rng(seed).normal(size=(2, h, w))
    module = (nn.AdaptiveMaxPool2d if kind == "max" else nn.AdaptiveAvgPool2d)((out_h, out_w))
    result = pool_steps_for(module, x)
    t = tensor(x)[None]
    if kind == "max":
        expected, indices = F.adaptive_max_pool2d(t, (out_h, out_w), return_indices=True)
        for c, i, j in itertools.product(range(2), range(out_h), range(out_w)):
            r, col = result.step(i, j, c).kept
            assert r * w + col == int(indices[0, c, i, j])
    else:
        expected = F.adaptive_avg_pool2d(t, (out_h, out_w))
    assert_steps_are_the_output(result, expected[0])
    # PyTorch's windows, written out: start = floor(i·H / H'), stop = ceil((i + 1)·H / H').
    starts = [i * h // out_h for i in range(out_h)]
    stops = [-(-(i + 1) * h // out_h) for i in range(out_h)]
    np.testing.assert_array_equal(result.rows, np.stack([starts, stops], axis=1))
