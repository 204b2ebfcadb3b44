"""Compare: multiply-adds against the layer formula and torchvision's published count, the
published accuracy, the stages shown, the models parameter and the shared shape chart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import torch
from torch import nn

import cnnviz
from cnnviz import compare, figures

Models = Callable[[str], cnnviz.Model]


def _macs_by_formula(model: cnnviz.Model) -> int:
    """Multiply-adds from each layer's geometry: a convolution makes every output value from
    (C_in / groups) * kH * kW products; a linear layer in_features per output."""
    total = 0

    def hook(module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * (module.in_channels // module.groups) * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.module.modules()]
    try:
        with torch.inference_mode():
            model.module(torch.zeros(1, *model.input_size))
    finally:
        for handle in handles:
            handle.remove()
    return total


@pytest.mark.parametrize("name", ["lenet5", "tinyvgg", "resnet18", "mobilenet_v3_small"])
def test_macs_match_the_layer_formula(random_model: Models, name: str) -> None:
    model = random_model(name)
    x = torch.zeros(1, *model.input_size)
    assert compare.count_macs(model.module, x) == _macs_by_formula(model)


def test_lenet5_macs_by_hand(random_model: Models) -> None:
    # c1: 6 maps of 28x28, 25 products each; c3: 16 of 10x10 from 6x25; then 400-120-84-10.
    by_hand = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    model = random_model("lenet5")
    assert compare.count_macs(model.module, torch.zeros(1, 1, 32, 32)) == by_hand == 416_520


def test_resnet18_macs_match_torchvisions_published_count(random_model: Models) -> None:
    model = random_model("resnet18")
    published = cnnviz.models.registry.tv_weights(model.spec).meta["_ops"]  # GFLOPS as MACs
    macs = compare.count_macs(model.module, torch.zeros(1, 3, 224, 224))
    assert macs / 1e9 == pytest.approx(published, abs=0.01)


def test_weight_layers_and_params(random_model: Models) -> None:
    resnet = random_model("resnet18")
    facts = compare.facts(resnet, repeats=1)
    assert facts.weight_layers == 17 + 3 + 1  # 17 convs, 3 shortcut projections, the fc
    assert facts.params == 11_689_512  # torchvision's meta["num_params"] for ResNet-18
    assert facts.input_size == (3, 224, 224)
    assert facts.latency_ms > 0
    assert compare.facts(random_model("lenet5"), repeats=1).weight_layers == 5


def test_published_accuracy_only_for_torchvisions_pretrained_weights(random_model: Models) -> None:
    resnet = random_model("resnet18")
    assert compare.published_accuracy(resnet) is None  # random weights earned nothing
    pretrained = dataclasses.replace(resnet, weights="pretrained")
    # torchvision's documented ResNet18_Weights.IMAGENET1K_V1: acc@1 69.758, acc@5 89.078.
    assert compare.published_accuracy(pretrained) == (69.758, 89.078)
    lenet = dataclasses.replace(random_model("lenet5"), weights="pretrained")
    assert compare.published_accuracy(lenet) is None


def test_parse_models() -> None:
    assert compare.parse_models(" lenet5, tinyvgg ,resnet18,lenet5") == (
        "lenet5", "tinyvgg", "resnet18",
    )  # fmt: skip
    with pytest.raises(cnnviz.InputError, match="Compare 2 to 4 models \\(you chose 1\\)"):
        compare.parse_models("lenet5")
    with pytest.raises(cnnviz.InputError, match="you chose 5"):
        compare.parse_models("lenet5,tinyvgg,resnet18,vgg11,alexnet")
    with pytest.raises(cnnviz.ModelError, match="no model called 'lenet'"):
        compare.parse_models("lenet,tinyvgg")


def test_stages_are_first_conv_middle_and_last(random_model: Models) -> None:
    model = random_model("resnet18")
    probe = cnnviz.probe(model, cnnviz.load_sample("chelsea"))
    assert [x.name for x in compare.stages(model, probe)] == ["conv1", "layer2", "layer4"]
    lenet = random_model("lenet5")
    probe = cnnviz.probe(lenet, cnnviz.load_sample("digit_3"))
    names = [x.name for x in compare.stages(lenet, probe)]
    assert names == ["features.c1", "features.act1", "features.act3"]


def test_preprocessing_says_how_each_network_sees() -> None:
    assert compare.preprocessing(cnnviz.MODELS["resnet18"]) == (
        "shorter side to 256, centre 224 x 224 crop, colour; normalized with ImageNet mean and std."
    )
    assert compare.preprocessing(cnnviz.MODELS["lenet5"]).startswith(
        "the whole image squeezed to 32 x 32 grey"
    )


def test_shapes_compare_figure_shares_one_axis(random_model: Models) -> None:
    image = cnnviz.load_sample("chelsea")
    probes = [cnnviz.probe(random_model(n), image) for n in ("lenet5", "resnet18")]
    fig = figures.shapes_compare_figure(probes)
    assert len(fig.data) == 4  # side and channels per model
    lenet_side, lenet_channels, resnet_side, _ = fig.data
    assert lenet_side.name == "LeNet-5"
    assert resnet_side.name == "ResNet-18"
    assert lenet_side.x[0] == 0
    assert lenet_side.x[-1] == resnet_side.x[-1] == 100
    layers = [x for x in probes[0].layers if x.is_main and x.is_map]
    assert list(lenet_side.y) == [x.shape[1] for x in layers]
    assert list(lenet_channels.y) == [x.shape[0] for x in layers]


def test_architecture_line_counts_and_results() -> None:
    import torchvision

    from cnnviz.nets import LeNet5

    line = compare.architecture_line()
    names = [m.name for m in line]
    assert names[0] == "lenet5"
    assert {"alexnet", "zfnet", "vgg16", "googlenet", "resnet18", "densenet121"} <= set(names)
    assert [m.year for m in line] == sorted(m.year for m in line)
    by_name = {m.name: m for m in line}
    lenet = by_name["lenet5"]
    real = LeNet5()
    assert lenet.params == sum(p.numel() for p in real.parameters()) == 61_706
    assert lenet.weight_layers == 5  # C1, C3, C5, F6, output
    assert "99.2% on MNIST" in lenet.result
    resnet = by_name["resnet18"]
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    assert resnet.params == weights.meta["num_params"]
    assert f"{weights.meta['_metrics']['ImageNet-1K']['acc@1']:.1f}%" in resnet.result
    assert by_name["zfnet"].result.startswith("—")
    assert compare.milestone_row(resnet)["Parameters"] == "11.7 M"
