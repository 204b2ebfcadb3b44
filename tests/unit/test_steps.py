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

from cnnviz import InputError, load_sample, nets, probe
from cnnviz.models import Model, ModelSpec
from cnnviz.probe import Geometry, Layer, Probe, ReceptiveField
from cnnviz.steps import (
    KERNELS,
    WORKED_EXAMPLE,
    activate,
    activation_label,
    activation_names,
    compare_pooling,
    conv_layer_input,
    conv_layers,
    conv_steps,
    digit_grid,
    filter_image,
    first_conv,
    first_conv_name,
    fit_channels,
    grid_values,
    image_crop,
    layer_patch,
    output_size,
    output_size_formula,
    param_count,
    param_count_formula,
    pool_patch,
    pool_steps,
    pytorch_code,
)
from cnnviz.steps import (
    kernel as named_kernel,
)

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


def pools_model(*pools: nn.Module, flat: int) -> tuple[Model, Probe]:
    """Conv 2@2x2 (9x9 -> 8x8) followed by ``pools``, then a linear layer; and its probe."""
    module = nn.Sequential(nn.Conv2d(1, 2, 2), *pools, nn.Flatten(), nn.Linear(flat, 2)).eval()
    model = Model(module, POOL_SPEC, ("a", "b"), "random", "test", "pools:test")
    pixels = np.random.default_rng(0).integers(0, 256, (9, 9), dtype=np.uint8)
    return model, probe(model, Image.fromarray(pixels, "L"))


def pools_probe(*pools: nn.Module, flat: int) -> Probe:
    """The probe of :func:`pools_model`."""
    return pools_model(*pools, flat=flat)[1]


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


# --- pool_patch: a real pooling layer, step by step -----------------------------------------


def test_pool_patch_of_a_padded_ceil_mode_layer_is_what_the_layer_computed() -> None:
    model, p = pools_model(nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), flat=2 * 5 * 5)
    (layer,) = p.pooling_layers()
    patch = pool_patch(model, layer, size=None)
    assert patch.steps.settings.describe() == "max pooling 3 x 3, stride 2, padding 1, ceil mode"
    assert (patch.origin, patch.out_size, patch.region) == ((0, 0), (5, 5), "the whole map")
    # 8 rows padded to 10: windows start every 2 rows; the last one (8..10) is cut short.
    np.testing.assert_array_equal(patch.steps.rows, [[0, 3], [2, 5], [4, 7], [6, 9], [8, 10]])
    assert patch.steps.is_padding[0].all()
    assert patch.steps.is_padding[:, -1].all()
    torch.testing.assert_close(tensor(patch.steps.output).float(), tensor(layer.output))
    x = tensor(layer.input)[None]
    expected = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)[0]
    torch.testing.assert_close(tensor(patch.steps.output).float(), expected)
    assert patch.difference(layer.output) == 0.0


def test_pool_patch_of_uneven_adaptive_windows() -> None:
    model, p = pools_model(nn.AdaptiveAvgPool2d((3, 3)), flat=2 * 3 * 3)
    (layer,) = p.pooling_layers()
    patch = pool_patch(model, layer, [1])
    # 8 to 3: rows 0–2, 2–5 and 5–7, overlapping by one row.
    np.testing.assert_array_equal(patch.steps.rows, [[0, 3], [2, 6], [5, 8]])
    assert patch.channels == (1,)
    assert patch.steps.step(1, 1).divisor == 16
    expected = F.adaptive_avg_pool2d(tensor(layer.input)[None], 3)[0, 1:]
    torch.testing.assert_close(tensor(patch.steps.output).float(), expected)
    torch.testing.assert_close(tensor(patch.steps.output).float(), tensor(layer.output[1:]))


def test_pool_patch_block_in_the_middle_of_the_map() -> None:
    model, p = pools_model(nn.MaxPool2d(2), flat=2 * 4 * 4)
    (layer,) = p.pooling_layers()
    patch = pool_patch(model, layer, [0, 1], size=1)
    assert (patch.origin, patch.input_origin) == ((1, 1), (2, 2))
    assert patch.region == "rows 2–3, columns 2–3 of the 8 x 8 map"
    np.testing.assert_array_equal(patch.steps.padded, layer.input[:, 2:4, 2:4])
    assert (
        patch.steps.output[:, 0, 0].tolist() == layer.input[:, 2:4, 2:4].max(axis=(1, 2)).tolist()
    )
    assert patch.difference(layer.output) == 0.0
    with pytest.raises(InputError, match=r"2 channels; pick 0\.\.1"):
        pool_patch(model, layer, [2])


def test_pool_patch_refuses_what_it_cannot_show(lenet5_probe: Probe, random_model) -> None:
    model, p = pools_model(nn.LPPool2d(2, 2), flat=2 * 4 * 4)
    (layer,) = p.pooling_layers()
    with pytest.raises(InputError, match="does not apply to LPPool2d"):
        pool_patch(model, layer)
    with pytest.raises(InputError, match=r"features\.c1 is not a pooling layer"):
        pool_patch(random_model("lenet5"), lenet5_probe.layer("features.c1"))


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


# --- conv_steps ------------------------------------------------------------------------------


VERTICAL_EDGE = [[1.0, 0.0, -1.0]] * 3


def torch_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, **kwargs: int) -> np.ndarray:
    with torch.no_grad():
        return F.conv2d(tensor(x)[None], tensor(w), tensor(b), **kwargs)[0].numpy()


def windows_by_loops(x: np.ndarray, k: int, s: int, p: int, d: int, out: tuple[int, int]):
    """Every window (H', W', C, K, K) gathered with plain loops, for comparison."""
    c, h, w = x.shape
    padded = np.zeros((c, h + 2 * p, w + 2 * p))
    padded[:, p : p + h, p : p + w] = x
    result = np.zeros((*out, c, k, k))
    for i, j, u, v in itertools.product(range(out[0]), range(out[1]), range(k), range(k)):
        result[i, j, :, u, v] = padded[:, i * s + u * d, j * s + v * d]
    return result


def test_worked_example_gives_the_textbook_output() -> None:
    x, w = np.array(WORKED_EXAMPLE), np.array(VERTICAL_EDGE)
    by_hand = [[6, -9, -8], [-3, -2, -3], [-3, 0, -2]]
    # The first cell by hand: left column minus right column of the top-left window.
    assert by_hand[0][0] == (7 + 4 + 3) - (3 + 3 + 2)
    np.testing.assert_array_equal(torch_conv(x[None], w[None, None], np.zeros(1))[0], by_hand)

    result = conv_steps(WORKED_EXAMPLE, named_kernel("vertical_edge"))
    np.testing.assert_array_equal(result.output[0], by_hand)
    np.testing.assert_array_equal(result.totals(0), by_hand)
    step = result.step(0, 0)
    np.testing.assert_array_equal(step.window[0], x[:3, :3])
    np.testing.assert_array_equal(step.products[0], x[:3, :3] * w)
    assert step.total == 6.0
    assert result.step(2, 1).total == 0.0


def test_worked_example_with_padding_marks_the_padding() -> None:
    result = conv_steps(WORKED_EXAMPLE, named_kernel("vertical_edge"), padding=1)
    assert result.out_shape == (5, 5)
    corner = result.step(0, 0)
    np.testing.assert_array_equal(corner.is_padding[0], [True, True, True])
    np.testing.assert_array_equal(corner.is_padding[:, 0], [True, True, True])
    assert not corner.is_padding[1:, 1:].any()
    assert corner.total == 0 * 1 + (2 + 5) * -1 == -7  # only the right column holds pixels
    assert result.is_padding.sum() == 7 * 7 - 5 * 5


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
    groups=st.sampled_from([1, 2, 3]),
    per_group=st.integers(1, 2),
    out_per_group=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_conv_steps_matches_conv2d(
    h: int, w: int, k: int, stride: int, padding: int, dilation: int,
    groups: int, per_group: int, out_per_group: int, seed: int,
) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    c, c_out = groups * per_group, groups * out_per_group
    x = rng.normal(size=(c, h, w))
    weight = rng.normal(size=(c_out, per_group, k, k))
    bias = rng.normal(size=c_out)
    span = dilation * (k - 1) + 1
    if span > min(h, w) + 2 * padding:
        with pytest.raises(RuntimeError):
            torch_conv(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
        with pytest.raises(InputError, match="does not fit"):
            conv_steps(x, weight, bias, stride, padding, dilation, groups)
        return
    expected = torch_conv(
        x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    result = conv_steps(x, weight, bias, stride, padding, dilation, groups)

    # result.output is F.conv2d's own: the checks are the step-by-step sums, window by window.
    loops = windows_by_loops(x, k, stride, padding, dilation, expected.shape[1:])
    for o in range(c_out):
        torch.testing.assert_close(tensor(result.totals(o)), tensor(expected[o]))
        channels = result.group_channels(o)
        assert channels == tuple(
            range((o // out_per_group) * per_group, (o // out_per_group + 1) * per_group)
        )
        i, j = rng.integers(expected.shape[1]), rng.integers(expected.shape[2])
        step = result.step(int(i), int(j), o)
        np.testing.assert_array_equal(step.window, loops[i, j][list(channels)])
        np.testing.assert_allclose(step.products, step.window * weight[o])
        np.testing.assert_allclose(step.channel_sums, step.products.sum(axis=(1, 2)))
        assert step.bias == bias[o]
        assert step.total == pytest.approx(expected[o, i, j], rel=1e-9, abs=1e-9)


def test_conv_steps_accepts_tensors_and_a_2d_kernel() -> None:
    x = torch.arange(16.0).reshape(4, 4)
    result = conv_steps(x, torch.ones(2, 2), bias=torch.tensor([1.0]))
    expected = F.conv2d(x[None, None].double(), torch.ones(1, 1, 2, 2).double())[0] + 1
    np.testing.assert_array_equal(result.totals(0), expected[0].numpy())
    assert result.step(0, 0).total == 0 + 1 + 4 + 5 + 1  # the top-left window plus the bias


def test_depthwise_and_pointwise_read_what_they_should() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 6))
    depthwise = conv_steps(x, rng.normal(size=(4, 1, 3, 3)), groups=4)
    assert [depthwise.group_channels(o) for o in range(4)] == [(0,), (1,), (2,), (3,)]
    np.testing.assert_array_equal(depthwise.step(1, 1, 2).window[0], x[2, 1:4, 1:4])
    pointwise = conv_steps(x, rng.normal(size=(8, 4, 1, 1)))
    step = pointwise.step(3, 5, 7)
    np.testing.assert_array_equal(step.window[:, 0, 0], x[:, 3, 5])
    assert step.channels == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros((5, 5)), np.zeros((7, 7))), {}, "7x7 window"),
        ((np.zeros((5, 5)), np.zeros((3, 3))), {"dilation": 3}, "spans 7 pixels"),
        ((np.zeros((5, 5)), np.zeros((3, 3))), {"stride": 0}, "at least 1"),
        ((np.zeros((5, 5)), np.zeros((3, 3))), {"padding": -1}, "padding >= 0"),
        ((np.zeros((3, 5, 5)), np.zeros((1, 2, 3, 3))), {}, "input has 3 channel"),
        ((np.zeros((3, 5, 5)), np.zeros((2, 1, 3, 3))), {"groups": 2}, "groups=2 must divide"),
        ((np.zeros((5, 5)), np.zeros((2, 3))), {}, "square"),
        ((np.zeros((2, 2, 5, 5)), np.zeros((3, 3))), {}, "(H, W) or (C, H, W)"),
        ((np.full((4, 4), np.nan), np.zeros((3, 3))), {}, "not finite"),
        ((np.zeros((5, 5)), np.zeros((2, 1, 3, 3))), {"bias": [1.0, 2.0, 3.0]}, "one per output"),
    ],
)
def test_conv_steps_refuses_impossible_settings(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        conv_steps(*args, **kwargs)
    assert message in str(info.value)
    assert str(info.value).endswith(".")


def test_step_outside_the_output_is_refused() -> None:
    result = conv_steps(WORKED_EXAMPLE, named_kernel("identity"))
    with pytest.raises(InputError, match=r"\(3, 0\).*outside the 1 x 3 x 3 output"):
        result.step(3, 0)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 7),
    groups=st.sampled_from([1, 2, 4]),
    per_in=st.integers(1, 3),
    per_out=st.integers(1, 3),
    bias=st.booleans(),
)
def test_param_count_matches_nn_conv2d(
    k: int, groups: int, per_in: int, per_out: int, bias: bool
) -> None:
    layer = nn.Conv2d(groups * per_in, groups * per_out, k, groups=groups, bias=bias)
    expected = sum(p.numel() for p in layer.parameters())
    assert param_count(k, groups * per_in, groups * per_out, groups, bias) == expected


def test_param_count_formula_fills_in_the_numbers() -> None:
    assert param_count_formula(3, 1, 1) == "(3·3·1 + 1)·1 = 10"
    assert param_count_formula(5, 6, 16) == "(5·5·6 + 1)·16 = 2,416"  # LeNet-5's C3
    assert param_count_formula(3, 32, 32, groups=32) == "(3·3·32/32 + 1)·32 = 320"
    with pytest.raises(InputError, match="groups=3 must divide"):
        param_count(3, 4, 6, groups=3)


# PyTorch's own functions, written out here: the oracle for the names of the one table.
TORCH_ACTIVATIONS = {
    "none": lambda t: t,
    "relu": F.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "relu6": F.relu6,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def test_the_convolution_page_offers_none_and_the_nets_activations() -> None:
    assert activation_names() == tuple(TORCH_ACTIVATIONS)
    assert activation_names()[1:] == tuple(nets.ACTIVATIONS)
    assert activation_label("none") == "none"
    assert activation_label("leaky_relu") == nets.ACTIVATIONS["leaky_relu"].label == "leaky ReLU"


@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_activate_matches_torch(name: str) -> None:
    values = np.linspace(-7, 7, 29)
    expected = TORCH_ACTIVATIONS[name](tensor(values))
    torch.testing.assert_close(tensor(activate(values, name)), expected)


def test_activate_by_hand() -> None:
    np.testing.assert_array_equal(activate([-2.0, 3.0], "relu"), [0.0, 3.0])
    np.testing.assert_allclose(activate([-2.0, 3.0], "leaky_relu"), [-0.2, 3.0])  # slope 0.1
    np.testing.assert_array_equal(activate([-1.0, 7.0], "relu6"), [0.0, 6.0])
    assert float(activate(0.0, "sigmoid")) == 0.5


def test_activate_refuses_an_unknown_name() -> None:
    with pytest.raises(InputError, match="Unknown activation 'swish'; choose one of none, relu"):
        activate(1.0, "swish")
    with pytest.raises(InputError, match="Unknown activation"):
        activation_label("swish")


# --- pool_steps ------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    size=st.integers(1, 4),
    stride=st.integers(1, 3),
    kind=st.sampled_from(["max", "avg"]),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_pool_steps_matches_torch(
    c: int, h: int, w: int, size: int, stride: int, kind: str, seed: int, data: st.DataObject
) -> None:
    padding = data.draw(st.integers(0, size // 2), label="padding")
    x = np.random.default_rng(seed).normal(size=(c, h, w))
    if size > min(h, w) + 2 * padding:
        with pytest.raises(InputError, match="does not fit"):
            pool_steps(x, kind, size, stride, padding)
        return
    t = tensor(x)[None]
    result = pool_steps(x, kind, size, stride, padding)
    if kind == "max":
        expected, indices = F.max_pool2d(t, size, stride, padding, return_indices=True)
    else:
        expected = F.avg_pool2d(t, size, stride, padding)
    # The output is computed from the windows, not by PyTorch: PyTorch is the oracle.
    torch.testing.assert_close(tensor(result.output), expected[0], rtol=1e-12, atol=1e-12)
    for channel, i, j in itertools.product(range(c), *map(range, result.out_shape)):
        step = result.step(i, j, channel)
        assert step.value == pytest.approx(float(expected[0, channel, i, j]), rel=1e-12, abs=1e-12)
        if kind == "max":
            r, col = step.origin[0] + step.chosen[0], step.origin[1] + step.chosen[1]
            assert step.kept == (r, col)
            flat = (r - padding) * w + (col - padding)  # torch's index into the unpadded map
            assert flat == int(indices[0, channel, i, j])
            assert step.window[step.chosen] == step.value
        else:
            assert step.value == pytest.approx(step.window.sum() / size**2)


def test_global_average_pooling_is_one_window() -> None:
    x = np.arange(2 * 5 * 7, dtype=float).reshape(2, 5, 7)
    result = pool_steps(x, "avg", None)
    assert result.is_global
    assert result.out_shape == (1, 1)
    torch.testing.assert_close(tensor(result.output), F.adaptive_avg_pool2d(tensor(x)[None], 1)[0])
    assert result.step(0, 0, 1).window.shape == (5, 7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "min"}, "'max' or 'avg'"),
        ({"size": 3, "padding": 2}, "more than half the 3x3 window"),
        ({"size": 9}, "9x9 window"),
    ],
)
def test_pool_steps_refuses_impossible_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pool_steps(np.zeros((4, 4)), **kwargs)


# --- inputs, kernels, code -------------------------------------------------------------------


def test_named_kernels_are_3x3_and_blurs_sum_to_one() -> None:
    for name in KERNELS:
        assert named_kernel(name).shape == (3, 3)
    assert named_kernel("box_blur").sum() == pytest.approx(1.0)
    assert named_kernel("gaussian").sum() == pytest.approx(1.0)
    identity = conv_steps(WORKED_EXAMPLE, named_kernel("identity"), padding=1)
    np.testing.assert_array_equal(identity.output[0], WORKED_EXAMPLE)
    with pytest.raises(InputError, match="no kernel 'blurry'"):
        named_kernel("blurry")


def test_fit_channels_repeats_or_sums() -> None:
    k = named_kernel("sobel_x")
    assert fit_channels(k, 3).shape == (1, 3, 3, 3)
    rgb_filter = np.random.default_rng(0).normal(size=(3, 5, 5))
    gray = fit_channels(rgb_filter, 1)
    # On a gray image repeated as R = G = B, the summed filter computes the same thing.
    x = np.random.default_rng(1).normal(size=(1, 8, 8))
    same = conv_steps(np.repeat(x, 3, axis=0), rgb_filter[None]).output
    np.testing.assert_allclose(conv_steps(x, gray).output, same)
    with pytest.raises(InputError, match="3 channels cannot read 2"):
        fit_channels(rgb_filter, 2)


def test_digit_grid_and_image_crop() -> None:
    digit = digit_grid(3, 10)
    assert digit.shape == (10, 10)
    assert digit.min() >= 0.0
    assert digit.max() <= 1.0
    assert digit.max() > 0.5  # a white stroke on black
    np.testing.assert_array_equal(digit, np.round(digit, 2))
    cat = load_sample("chelsea")
    rgb = image_crop(cat, 16, 0.3, (0.5, 0.5), "RGB")
    gray = image_crop(cat, 16, 1.0, (0.0, 1.0), "L")
    assert rgb.shape == (3, 16, 16)
    assert gray.shape == (1, 16, 16)
    assert not np.array_equal(rgb[0], rgb[2])  # a colour photo
    with pytest.raises(InputError, match=r"3\.\.64 cells"):
        image_crop(cat, 100)


def test_filter_image_is_the_convolution_of_the_gray_photo() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30), np.uint8), "L")
    result = filter_image(image, named_kernel("sobel_x"))
    assert result.shape == (20, 30)
    x = np.asarray(image, dtype=np.float64) / 255
    expected = conv_steps(x, named_kernel("sobel_x"), padding=1).totals(0)
    np.testing.assert_allclose(result, expected, atol=1e-5)


@pytest.mark.parametrize("activation", list(TORCH_ACTIVATIONS))
def test_pytorch_code_runs_and_computes_the_same(activation: str) -> None:
    x = np.random.default_rng(0).integers(-5, 5, (2, 6, 6)).astype(float)
    w = np.random.default_rng(1).integers(-2, 3, (4, 1, 3, 3)).astype(float)
    result = conv_steps(x, w, [0.5, -1, 0, 2], stride=2, padding=1, dilation=1, groups=2)
    code = pytorch_code(result, activation)
    assert "nn.Conv2d(2, 4, kernel_size=3, stride=2, padding=1, dilation=1, groups=2)" in code
    scope: dict = {}
    exec(compile(code, "snippet", "exec"), scope)
    np.testing.assert_array_equal(scope["y"][0].detach().numpy(), result.output)
    if activation != "none":
        totals = np.stack([result.totals(o) for o in range(4)])
        torch.testing.assert_close(scope["a"][0], TORCH_ACTIVATIONS[activation](tensor(totals)))
    else:
        assert "a = " not in code


# --- real layers -----------------------------------------------------------------------------


def test_lenet5_c3_patch_reproduces_the_network(
    random_model: ModelGetter, lenet5_probe: Probe
) -> None:
    model = random_model("lenet5")
    assert conv_layers(model) == ("features.c1", "features.c3")
    x = conv_layer_input(model, load_sample("digit_3"), "features.c3")
    np.testing.assert_array_equal(x, lenet5_probe.layer("features.s2").output)
    patch = layer_patch(model, x, "features.c3", out_channel=7, origin=(3, 4), size=4)
    assert patch.kind == "standard"
    assert patch.channels == tuple(range(6))
    assert patch.out_size == (10, 10)
    real = lenet5_probe.layer("features.c3").output[7, 3:7, 4:8]
    torch.testing.assert_close(tensor(patch.steps.output[0]).float(), tensor(real))
    torch.testing.assert_close(tensor(patch.steps.totals(0)).float(), tensor(real))
    assert patch.difference(lenet5_probe.layer("features.c3").output) < 1e-5


def test_patch_at_the_border_keeps_the_layers_padding(random_model: ModelGetter) -> None:
    model = random_model("resnet18")
    image = load_sample("chelsea")
    p = probe(model, image)
    x = conv_layer_input(model, image, "layer2.0.conv1")
    patch = layer_patch(model, x, "layer2.0.conv1", out_channel=5, origin=(99, 99), size=6)
    assert patch.origin == (22, 22)  # moved inside the 28 x 28 output
    assert (patch.steps.stride, patch.steps.padding) == (2, 1)
    real = p.layer("layer2.0.conv1").output[5, 22:28, 22:28]
    torch.testing.assert_close(tensor(patch.steps.output[0]).float(), tensor(real))
    corner = layer_patch(model, x, "layer2.0.conv1", out_channel=5, origin=(-3, 0), size=6)
    assert corner.origin == (0, 0)
    assert corner.steps.is_padding[0].all()  # the top row and left column are padding
    assert corner.steps.is_padding[:, 0].all()
    assert not corner.steps.is_padding[1:, 1:].any()
    real = p.layer("layer2.0.conv1").output[5, :6, :6]
    torch.testing.assert_close(tensor(corner.steps.output[0]).float(), tensor(real))
    assert not any(m._forward_pre_hooks for m in model.module.modules())  # hook removed
    assert not model.module.training


def test_mobilenet_depthwise_patch_reads_one_channel(random_model: ModelGetter) -> None:
    model = random_model("mobilenet_v2")
    image = load_sample("chelsea")
    name = "features.2.conv.1.0"  # a 3x3 depthwise conv, stride 2
    x = conv_layer_input(model, image, name)
    patch = layer_patch(model, x, name, out_channel=11, size=5)
    assert patch.kind == "depthwise"
    assert patch.channels == (11,)
    assert patch.groups == x.shape[0]
    p = probe(model, image)
    real = p.layer(name).output[11, :5, :5]
    torch.testing.assert_close(tensor(patch.steps.output[0]).float(), tensor(real))
    pointwise = layer_patch(model, x, "features.2.conv.2", out_channel=0, size=3)
    assert pointwise.kind == "pointwise"


def test_first_conv_and_unknown_layers(random_model: ModelGetter) -> None:
    model = random_model("lenet5")
    name, weight, bias = first_conv(model)
    assert name == "features.c1"
    assert weight.shape == (6, 1, 5, 5)
    assert bias.shape == (6,)
    with pytest.raises(InputError, match=r"features\.s2 is not a 2-D convolution"):
        conv_layer_input(model, load_sample("digit_3"), "features.s2")
    x = conv_layer_input(model, load_sample("digit_3"), "features.c1")
    with pytest.raises(InputError, match="6 output channels"):
        layer_patch(model, x, "features.c1", out_channel=6)


def test_first_conv_is_one_rule_for_modules_and_state_dicts() -> None:
    # The first convolution has a 1 x 3 kernel: a finder that skipped non-square kernels once
    # named the second one here, while the filters montage showed the first.
    module = nn.Sequential(nn.Conv2d(1, 4, (1, 3)), nn.BatchNorm2d(4), nn.Conv2d(4, 8, 3))
    model = Model(module, POOL_SPEC, ("a", "b"), "random", "test", "first:test")
    assert first_conv_name(module) == first_conv_name(module.state_dict()) == "0"
    name, weight, bias = first_conv(model)
    assert name == "0"
    np.testing.assert_array_equal(weight, module[0].weight.detach().double().numpy())
    np.testing.assert_array_equal(bias, module[0].bias.detach().double().numpy())
    assert first_conv_name(nn.Sequential(nn.Linear(3, 2))) is None
    with pytest.raises(InputError, match="Pools has no 2-D convolution"):
        first_conv(Model(nn.Sequential(nn.Linear(3, 2)), POOL_SPEC, ("a",), "random", "t", "t:t"))


def test_grid_values_reads_what_was_typed() -> None:
    np.testing.assert_array_equal(grid_values([[1, None], ["2.5", 3]]), [[1.0, 0.0], [2.5, 3.0]])
    with pytest.raises(InputError, match="rows of numbers"):
        grid_values([1, 2, 3])
    with pytest.raises(InputError, match="one number in every cell"):
        grid_values([["a", 1]])
