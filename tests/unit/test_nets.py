"""Tests for cnnviz.nets: shapes, parameter counts and variants of our small architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn

import cnnviz
from cnnviz.nets import (
    ACTIVATIONS,
    BasicBlock,
    DepthwiseSeparable,
    LeNet5,
    SmallMobileNet,
    SmallResNet,
    TinyVGG,
)
from cnnviz.training import DoneEvent


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


LAYERS = {
    "relu": (nn.ReLU, F.relu),
    "leaky_relu": (nn.LeakyReLU, lambda t: F.leaky_relu(t, 0.1)),
    "elu": (nn.ELU, F.elu),
    "gelu": (nn.GELU, F.gelu),
    "silu": (nn.SiLU, F.silu),
    "relu6": (nn.ReLU6, F.relu6),
    "tanh": (nn.Tanh, torch.tanh),
    "sigmoid": (nn.Sigmoid, torch.sigmoid),
}


def test_one_table_of_activations_keeps_the_training_names() -> None:
    assert list(ACTIVATIONS) == list(LAYERS)  # the Training page and the CLI offer these


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_activation_is_its_layer_its_function_and_its_code(name: str) -> None:
    layer_type, function = LAYERS[name]
    activation = ACTIVATIONS[name]
    assert type(activation.module()) is layer_type
    assert activation.label
    assert activation.formula
    t = torch.linspace(-7, 7, 29, dtype=torch.float64)
    torch.testing.assert_close(torch.from_numpy(activation.apply(t.numpy())), function(t))
    snippet = eval(activation.code.format("t"), {"F": F, "torch": torch, "t": t})
    torch.testing.assert_close(snippet, function(t))
    net = LeNet5(activation=name).eval()
    assert type(net.features.act1) is layer_type


def test_leaky_relu_slope_is_one_tenth() -> None:
    assert ACTIVATIONS["leaky_relu"].module().negative_slope == 0.1
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"].apply([-2.0, 3.0]), [-0.2, 3.0])


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


# --- SmallResNet and SmallMobileNet ---------------------------------------------------------


def test_small_resnet_shapes_at_each_stage() -> None:
    net = SmallResNet().eval()
    x = torch.zeros(2, 1, 32, 32)
    assert shapes_after(net.features, x) == {
        "stem": (2, 16, 32, 32),
        "stage1": (2, 16, 32, 32),
        "stage2": (2, 32, 16, 16),
        "stage3": (2, 64, 8, 8),
    }
    assert shapes_after(net.classifier, torch.zeros(2, 64, 8, 8)) == {
        "avgpool": (2, 64, 1, 1),
        "flatten": (2, 64),
        "fc": (2, 10),
    }
    assert net(x).shape == (2, 10)


def test_small_mobilenet_shapes_at_each_stage() -> None:
    net = SmallMobileNet().eval()
    x = torch.zeros(2, 1, 32, 32)
    assert shapes_after(net.features, x) == {
        "stem": (2, 16, 32, 32),
        "block1": (2, 32, 32, 32),
        "block2": (2, 64, 16, 16),
        "block3": (2, 128, 8, 8),
    }
    assert shapes_after(net.classifier, torch.zeros(2, 128, 8, 8)) == {
        "avgpool": (2, 128, 1, 1),
        "flatten": (2, 128),
        "fc": (2, 10),
    }
    assert net(x).shape == (2, 10)
    rgb = SmallMobileNet(num_classes=4, in_channels=3, width=8).eval()
    assert rgb(torch.zeros(1, 3, 32, 32)).shape == (1, 4)


def test_basic_block_parameter_count_by_hand() -> None:
    # Two 3x3 convs without bias (the BN has one): 9*C*C' + 9*C'*C'; each BN 2*C'.
    same = BasicBlock(16, 16)
    assert n_params(same) == 9 * 16 * 16 + 9 * 16 * 16 + 2 * (2 * 16)
    # Shape changes: plus a 1x1 conv shortcut C*C' and its BN 2*C'.
    down = BasicBlock(16, 32, stride=2)
    assert n_params(down) == 9 * 16 * 32 + 9 * 32 * 32 + 2 * (2 * 32) + 16 * 32 + 2 * 32


def test_depthwise_separable_parameter_count_by_hand() -> None:
    k, c, c_out = 3, 32, 64
    block = DepthwiseSeparable(c, c_out)
    assert block.depthwise.groups == c
    assert n_params(block.depthwise) == k * k * c
    assert n_params(block.pointwise) == c * c_out
    assert n_params(block) == k * k * c + c * c_out + 2 * c + 2 * c_out
    full = nn.Conv2d(c, c_out, k, bias=False)
    assert n_params(full) == k * k * c * c_out
    assert n_params(block.depthwise) + n_params(block.pointwise) < n_params(full) / 7


def test_residual_shortcut_is_a_1x1_conv_only_when_the_shape_changes() -> None:
    assert isinstance(BasicBlock(16, 16).shortcut, nn.Identity)
    for block in (BasicBlock(16, 32), BasicBlock(16, 16, stride=2), BasicBlock(16, 32, 2)):
        conv, bn = block.shortcut.conv, block.shortcut.bn
        assert conv.kernel_size == (1, 1)
        assert isinstance(bn, nn.BatchNorm2d)
    net = SmallResNet()
    assert isinstance(net.features.stage1.shortcut, nn.Identity)
    assert net.features.stage2.shortcut.conv.stride == (2, 2)
    assert net.features.stage3.shortcut.conv.stride == (2, 2)


def test_basic_block_adds_the_shortcut_before_the_last_relu() -> None:
    block = BasicBlock(4, 4).eval()
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        branch = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
        torch.testing.assert_close(block(x), torch.relu(branch + x))
        # Zero the second BN: the block passes relu(x) straight through.
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        torch.testing.assert_close(block(x), torch.relu(x))


@pytest.mark.parametrize(
    ("name", "blocks"),
    [
        ("resnet_small", ("stage1", "stage2", "stage3")),
        ("mobilenet_small", ("block1", "block2", "block3")),
    ],
)
def test_small_nets_load_and_probe(name: str, blocks: tuple[str, ...]) -> None:
    model = cnnviz.load_model(name, "random")
    assert model.input_size == (1, 32, 32)
    assert model.labels == tuple("0123456789")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8))
    p = cnnviz.probe(model, image)
    assert {f"features.{b}" for b in blocks} <= set(p.names)
    fields = [p.layer(f"features.{b}").receptive_field.size for b in ("stem", *blocks)]
    assert fields == sorted(fields)
    assert fields[-1] > fields[0]
    assert p.layers[-1].shape == (10,)
    assert len(p.predictions) == 5


@pytest.mark.parametrize("arch", ["resnet_small", "mobilenet_small"])
def test_small_nets_learn_digits_in_two_epochs(arch: str) -> None:
    done = list(cnnviz.train(arch=arch, dataset="digits", epochs=2))[-1]
    assert isinstance(done, DoneEvent)
    assert done.status == "done"
    assert done.history[-1].val_accuracy > 0.5
