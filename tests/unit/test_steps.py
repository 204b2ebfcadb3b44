"""Tests for cnnviz.steps: output sizes against PyTorch, and max vs average pooling comparisons."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from cnnviz import InputError, load_sample, probe
from cnnviz.models import Model, ModelSpec
from cnnviz.probe import Geometry, Layer, Probe, ReceptiveField
from cnnviz.steps import compare_pooling, output_size, output_size_formula

ModelGetter = Callable[[str], Model]


def conv_side(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    x = torch.zeros(1, 1, size, size)
    w = torch.zeros(1, 1, kernel, kernel)
    return F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[-1]


def pool_side(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool) -> int:
    x = torch.zeros(1, 1, size, size)
    out = F.max_pool2d(x, kernel, stride, padding, dilation=dilation, ceil_mode=ceil)
    return out.shape[-1]


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


# --- output_size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((32, 5), 28),  # LeNet-5 C1
        ((28, 2, 2), 14),  # LeNet-5 S2
        ((224, 7, 2, 3), 112),  # ResNet-18 conv1
        ((112, 3, 2, 1), 56),  # ResNet-18 maxpool
        ((5, 3, 1, 0, 2), 1),  # dilated 3x3 spans 5 pixels
        ((6, 3, 2, 0, 1, False), 2),
        ((6, 3, 2, 0, 1, True), 3),  # ceil mode keeps the partial last window
        ((5, 2, 2, 1, 1, True), 3),  # a window starting in the right padding is dropped
    ],
)
def test_output_size_hand_computed(args: tuple, expected: int) -> None:
    assert output_size(*args) == expected


def test_output_size_matches_conv2d_on_a_grid() -> None:
    for size, kernel, stride, padding, dilation in itertools.product(
        range(1, 13), range(1, 6), range(1, 4), range(3), range(1, 3)
    ):
        if dilation * (kernel - 1) + 1 > size + 2 * padding:
            continue
        expected = conv_side(size, kernel, stride, padding, dilation)
        assert output_size(size, kernel, stride, padding, dilation) == expected, (
            size,
            kernel,
            stride,
            padding,
            dilation,
        )


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 64),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 5),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 4),
)
def test_output_size_property_conv2d(
    size: int, kernel: int, stride: int, padding: int, dilation: int
) -> None:
    fits = dilation * (kernel - 1) + 1 <= size + 2 * padding
    if fits:
        assert output_size(size, kernel, stride, padding, dilation) == conv_side(
            size, kernel, stride, padding, dilation
        )
    else:
        with pytest.raises(RuntimeError):
            conv_side(size, kernel, stride, padding, dilation)
        with pytest.raises(InputError, match=f"{kernel}x{kernel}"):
            output_size(size, kernel, stride, padding, dilation)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 64),
    kernel=st.integers(1, 8),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 3),
    ceil=st.booleans(),
    data=st.data(),
)
def test_output_size_property_max_pool2d(
    size: int, kernel: int, stride: int, dilation: int, ceil: bool, data: st.DataObject
) -> None:
    padding = data.draw(st.integers(0, kernel // 2), label="padding")  # PyTorch's own limit
    fits = dilation * (kernel - 1) + 1 <= size + 2 * padding
    if not fits:
        with pytest.raises(InputError, match="kernel"):
            output_size(size, kernel, stride, padding, dilation, ceil_mode=ceil)
        return
    expected = pool_side(size, kernel, stride, padding, dilation, ceil)
    assert output_size(size, kernel, stride, padding, dilation, ceil_mode=ceil) == expected


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    ceil=st.booleans(),
    data=st.data(),
)
def test_output_size_property_avg_pool2d(
    size: int, kernel: int, stride: int, ceil: bool, data: st.DataObject
) -> None:
    padding = data.draw(st.integers(0, kernel // 2), label="padding")
    if kernel > size + 2 * padding:
        return
    x = torch.zeros(1, 1, size, size)
    expected = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil).shape[-1]
    assert output_size(size, kernel, stride, padding, ceil_mode=ceil) == expected


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((3, 5), "5x5"),
        ((4, 3, 1, 0, 2), "3x3 window (dilation 2, so it spans 5 pixels)"),
        ((1, 4, 1, 1), "4x4"),
    ],
)
def test_window_that_does_not_fit_raises_with_the_kernel(args: tuple, fragment: str) -> None:
    with pytest.raises(InputError, match="kernel") as info:
        output_size(*args)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0, "kernel": 3},
        {"size": 8, "kernel": 0},
        {"size": 8, "kernel": 3, "stride": 0},
        {"size": 8, "kernel": 3, "padding": -1},
        {"size": 8, "kernel": 3, "dilation": 0},
    ],
)
def test_impossible_settings_raise_input_error(kwargs: dict) -> None:
    with pytest.raises(InputError, match="kernel"):
        output_size(**kwargs)


# --- compare_pooling ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lenet5_probe(random_model: ModelGetter) -> Probe:
    return probe(random_model("lenet5"), load_sample("digit_3"))


def test_compare_pooling_on_lenet5_s2(lenet5_probe: Probe) -> None:
    layer = lenet5_probe.layer("features.s2")
    compared = compare_pooling(layer)

    assert compared.layer == "features.s2"
    assert (compared.kernel, compared.stride) == (2, 2)
    assert compared.input.shape == (6, 28, 28)
    np.testing.assert_array_equal(compared.input, lenet5_probe.layer("features.act1").output)
    x = tensor(layer.input)[None]
    torch.testing.assert_close(tensor(compared.max), F.max_pool2d(x, 2, 2)[0])
    torch.testing.assert_close(tensor(compared.avg), F.avg_pool2d(x, 2, 2)[0])
    torch.testing.assert_close(tensor(compared.max), tensor(layer.output))  # LeNet-5 max-pools
    assert compared.max.shape == compared.avg.shape == (6, 14, 14)
    assert (compared.max >= compared.avg).all()


def test_compare_pooling_every_pool_of_tinyvgg(random_model: ModelGetter) -> None:
    p = probe(random_model("tinyvgg"), load_sample("chelsea"))
    pools = p.pooling_layers()
    assert [x.name for x in pools] == ["features.pool1", "features.pool2"]
    for layer in pools:
        compared = compare_pooling(layer)
        torch.testing.assert_close(tensor(compared.max), tensor(layer.output))


def test_compare_pooling_adaptive_avgpool_of_resnet18(random_model: ModelGetter) -> None:
    p = probe(random_model("resnet18"), load_sample("chelsea"))
    layer = p.layer("avgpool")
    assert layer.geometry is None
    compared = compare_pooling(layer)

    assert compared.kernel is None
    assert compared.stride is None
    assert compared.input.shape == (512, 7, 7)
    assert compared.max.shape == compared.avg.shape == (512, 1, 1)
    torch.testing.assert_close(tensor(compared.avg), tensor(layer.output))  # the net averages
    torch.testing.assert_close(
        tensor(compared.max)[:, 0, 0], tensor(compared.input).amax(dim=(1, 2))
    )


def test_compare_pooling_refuses_a_conv_layer(lenet5_probe: Probe) -> None:
    with pytest.raises(InputError, match=r"features\.c1 is not a pooling layer"):
        compare_pooling(lenet5_probe.layer("features.c1"))


def test_compare_pooling_refuses_a_pool_without_recorded_input(lenet5_probe: Probe) -> None:
    s2 = lenet5_probe.layer("features.s2")
    stripped = Layer(
        s2.index, s2.name, s2.kind, s2.type_name, s2.description, s2.shape, s2.params,
        ReceptiveField(6, 2), s2.output, None, geometry=s2.geometry,
    )  # fmt: skip
    with pytest.raises(InputError, match="not a pooling layer over feature maps"):
        compare_pooling(stripped)


POOL_SPEC = ModelSpec(
    name="pools", label="Pools", year=2024, summary="", input_size=9, channels=1,
    mean=(0.0,), std=(1.0,), resize=None,
)  # fmt: skip


def pools_probe(*pools: nn.Module, flat: int) -> Probe:
    """Probe conv 2@2x2 (9x9 -> 8x8) followed by ``pools``, then a linear layer."""
    module = nn.Sequential(nn.Conv2d(1, 2, 2), *pools, nn.Flatten(), nn.Linear(flat, 2)).eval()
    model = Model(module, POOL_SPEC, ("a", "b"), "random", "test", "pools:test")
    pixels = np.random.default_rng(0).integers(0, 256, (9, 9), dtype=np.uint8)
    return probe(model, Image.fromarray(pixels, "L"))


def test_compare_pooling_reuses_padding_and_ceil_mode() -> None:
    p = pools_probe(
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),  # 8 -> 5, last window partial
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),  # 5 -> 3
        flat=2 * 3 * 3,
    )
    max_layer, avg_layer = p.pooling_layers()
    assert max_layer.geometry == Geometry(3, 2, 1, ceil_mode=True)

    compared = compare_pooling(max_layer)
    assert compared.max.shape == compared.avg.shape == (2, 5, 5)
    torch.testing.assert_close(tensor(compared.max), tensor(max_layer.output))
    compared = compare_pooling(avg_layer)
    assert compared.max.shape == compared.avg.shape == (2, 3, 3)
    torch.testing.assert_close(tensor(compared.avg), tensor(avg_layer.output))


def test_compare_pooling_average_without_padding_in_the_count() -> None:
    p = pools_probe(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), flat=2 * 4 * 4)
    (layer,) = p.pooling_layers()
    compared = compare_pooling(layer)
    torch.testing.assert_close(tensor(compared.avg), tensor(layer.output))


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((28, 2, 2), "floor((28 + 2·0 − 1·(2 − 1) − 1) / 2) + 1 = 14"),
        ((112, 3, 2, 0, 1, True), "ceil((112 + 2·0 − 1·(3 − 1) − 1) / 2) + 1 = 56"),  # GoogLeNet
        ((112, 3, 2, 1), "floor((112 + 2·1 − 1·(3 − 1) − 1) / 2) + 1 = 56"),  # ResNet maxpool
        ((7, 3, 1, 0, 2), "floor((7 + 2·0 − 2·(3 − 1) − 1) / 1) + 1 = 3"),
    ],
)
def test_output_size_formula_fills_in_the_numbers(args: tuple, text: str) -> None:
    assert output_size_formula(*args) == text


def test_output_size_formula_refuses_a_window_that_does_not_fit() -> None:
    with pytest.raises(InputError, match="5x5"):
        output_size_formula(3, 5)
