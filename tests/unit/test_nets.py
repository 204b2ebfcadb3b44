"""Tests for cnnviz.nets: LeNet-5 and TinyVGG shapes, parameter counts and variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.nets import LeNet5, TinyVGG


def shapes_after(module: nn.Sequential, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape of every child of a Sequential, by child name."""
    shapes = {}
    with torch.no_grad():
        for name, child in module.named_children():
            x = child(x)
            shapes[name] = tuple(x.shape)
    return shapes


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_lenet5_shapes_at_each_stage() -> None:
    net = LeNet5().eval()
    x = torch.zeros(2, 1, 32, 32)
    shapes = shapes_after(net.features, x)
    assert shapes == {
        "c1": (2, 6, 28, 28),
        "act1": (2, 6, 28, 28),
        "s2": (2, 6, 14, 14),
        "c3": (2, 16, 10, 10),
        "act3": (2, 16, 10, 10),
        "s4": (2, 16, 5, 5),
    }
    head = shapes_after(net.classifier, torch.zeros(2, 16, 5, 5))
    assert head == {
        "flatten": (2, 400),
        "c5": (2, 120),
        "act5": (2, 120),
        "f6": (2, 84),
        "act6": (2, 84),
        "output": (2, 10),
    }
    assert net(x).shape == (2, 10)


def test_lenet5_parameter_count_by_hand() -> None:
    net = LeNet5()
    # c1 6*(25+1), c3 16*(6*25+1), c5 400*120+120, f6 120*84+84, output 84*10+10
    assert n_params(net.features.c1) == 156
    assert n_params(net.features.c3) == 2416
    assert n_params(net.classifier.c5) == 48120
    assert n_params(net.classifier.f6) == 10164
    assert n_params(net.classifier.output) == 850
    assert n_params(net) == 61706


def test_lenet5_options_change_classes_and_input_channels() -> None:
    net = LeNet5(num_classes=3, in_channels=3).eval()
    assert net.features.c1.weight.shape == (6, 3, 5, 5)
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
    assert n_params(net) == 61706 - 156 + 6 * (3 * 25 + 1) - 850 + (84 * 3 + 3)


@pytest.mark.parametrize(
    ("activation", "pool", "act_type", "pool_type"),
    [
        ("relu", "max", nn.ReLU, nn.MaxPool2d),
        ("tanh", "max", nn.Tanh, nn.MaxPool2d),
        ("relu", "avg", nn.ReLU, nn.AvgPool2d),
        ("tanh", "avg", nn.Tanh, nn.AvgPool2d),
    ],
)
def test_lenet5_activation_and_pool_variants(
    activation: str, pool: str, act_type: type, pool_type: type
) -> None:
    net = LeNet5(activation=activation, pool=pool).eval()
    acts = [net.features.act1, net.features.act3, net.classifier.act5, net.classifier.act6]
    assert all(type(a) is act_type for a in acts)
    assert type(net.features.s2) is pool_type
    assert type(net.features.s4) is pool_type
    assert net.features.s2.kernel_size == 2
    assert net.features.s2.stride == 2
    assert n_params(net) == 61706
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_lenet5_avg_pool_averages_and_tanh_bounds() -> None:
    net = LeNet5(activation="tanh", pool="avg").eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a1 = net.features.act1(net.features.c1(x))
        s2 = net.features.s2(a1)
    assert a1.abs().max() < 1
    expected = a1[..., 0::2, 0::2] + a1[..., 0::2, 1::2] + a1[..., 1::2, 0::2] + a1[..., 1::2, 1::2]
    torch.testing.assert_close(s2, expected / 4)


def test_tinyvgg_shape_progression() -> None:
    net = TinyVGG().eval()
    shapes = shapes_after(net.features, torch.zeros(1, 3, 64, 64))
    assert shapes == {
        "conv1_1": (1, 10, 62, 62),
        "relu1_1": (1, 10, 62, 62),
        "conv1_2": (1, 10, 60, 60),
        "relu1_2": (1, 10, 60, 60),
        "pool1": (1, 10, 30, 30),
        "conv2_1": (1, 10, 28, 28),
        "relu2_1": (1, 10, 28, 28),
        "conv2_2": (1, 10, 26, 26),
        "relu2_2": (1, 10, 26, 26),
        "pool2": (1, 10, 13, 13),
    }
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


def test_tinyvgg_parameter_count_and_width() -> None:
    net = TinyVGG()
    # conv1_1 10*(3*9+1), three more 10*(10*9+1), fc 1690*10+10
    assert n_params(net) == 280 + 3 * 910 + 16910
    wide = TinyVGG(num_classes=4, in_channels=1, width=8).eval()
    assert wide.features.conv1_1.weight.shape == (8, 1, 3, 3)
    assert wide.classifier.fc.in_features == 8 * 13 * 13
    assert wide(torch.zeros(2, 1, 64, 64)).shape == (2, 4)
