"""Tests for cnnviz.probe: outputs vs torchvision's feature extractor, a hand-computed net,
receptive fields, predictions, statistics, invariants (hooks, modes) and thread safety."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from cnnviz.models import Model, ModelSpec, load_model, model_names
from cnnviz.probe import TOP_K, Layer, Probe, ReceptiveField, layer_kind, probe

ModelGetter = Callable[[str], Model]


def noise_image(seed: int, size: tuple[int, int] = (300, 260)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def fx_reference(module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every eval-mode node of torchvision's FX feature extractor, on a copy without in-place ops.

    FX traces ``out += identity`` as an out-of-place add, and the copy's activations are set
    out-of-place, so each node's value is the true output of that operation.
    """
    module = copy.deepcopy(module).eval()
    for m in module.modules():
        if getattr(m, "inplace", False):
            m.inplace = False
    _, nodes = get_graph_node_names(module)
    extractor = create_feature_extractor(module, return_nodes=nodes)
    with torch.no_grad():
        return {k: v for k, v in extractor(x).items() if isinstance(v, torch.Tensor)}


# --- oracle: torchvision's feature extractor ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "resnet18",
            {"conv1", "bn1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.bn1",
             "layer1.0.relu", "layer1.0.bn2", "layer1.0.relu_1", "layer2.0.downsample.0",
             "layer2.0.downsample.1", "layer4.1.bn2", "layer4.1.relu_1", "avgpool", "fc"},
        ),
        (
            "vgg11",
            {"features.0", "features.1", "features.2", "features.3", "features.18",
             "features.20", "avgpool", "classifier.0", "classifier.1", "classifier.6"},
        ),
        (
            "mobilenet_v2",
            # torchvision's tracer keeps its Conv2dNormActivation blocks whole.
            {"features.0", "features.1.conv.0", "features.1.conv.1", "features.2.conv.2",
             "features.2.conv.3", "features.18", "classifier.1"},
        ),
        (
            "lenet5",
            {"features.c1", "features.act1", "features.s2", "features.c3", "features.s4",
             "classifier.flatten", "classifier.c5", "classifier.f6", "classifier.output"},
        ),
    ],
)  # fmt: skip
def test_probe_outputs_equal_torchvision_feature_extractor(
    name: str, expected: set[str], random_model: ModelGetter
) -> None:
    model = random_model(name)
    image = noise_image(1)
    p = probe(model, image)
    reference = fx_reference(model.module, model.preprocess(image))
    common = [n for n in p.names if n in reference]
    assert expected <= set(common)
    # Every module call of the graph is a probe layer, so all of them are compared.
    modules = dict(model.module.named_modules())
    called = {n for n in reference if re.sub(r"_\d+$", "", n) in modules}
    assert called <= set(common)
    assert len(called) >= len(expected)
    for layer_name in common:
        torch.testing.assert_close(
            tensor(p.layer(layer_name).output), reference[layer_name][0], msg=layer_name
        )


def test_probe_gives_true_outputs_despite_in_place_ops() -> None:
    """ResNet's in-place ReLU and ``out += identity`` would overwrite recorded outputs."""
    model = load_model("resnet18", "random")  # fresh: its first probe learns what to clone
    image = noise_image(2)
    x = model.preprocess(image)
    net = model.module
    block = net.layer1[0]
    with torch.no_grad():
        stem_bn = net.bn1(net.conv1(x))
        h = F.max_pool2d(F.relu(stem_bn), 3, 2, 1)
        conv1 = block.conv1(h)
        bn1 = block.bn1(conv1)
        relu = F.relu(bn1)
        conv2 = block.conv2(relu)
        bn2 = block.bn2(conv2)
        out = F.relu(bn2 + h)
    expected = {
        "bn1": stem_bn, "maxpool": h, "layer1.0.conv1": conv1, "layer1.0.bn1": bn1,
        "layer1.0.relu": relu, "layer1.0.conv2": conv2, "layer1.0.bn2": bn2,
        "layer1.0.relu_1": out, "layer1.0": out,
    }  # fmt: skip
    assert (bn2 < 0).any()  # so a ReLU or the residual sum would visibly change it
    for attempt in range(2):
        p = probe(model, image)
        for layer_name, value in expected.items():
            torch.testing.assert_close(
                tensor(p.layer(layer_name).output), value[0], msg=f"{layer_name} #{attempt}"
            )
    assert all(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))


# --- a hand-computed case -------------------------------------------------------------------

# Pixels p give x = p / 255: 0, 51, 102, 153, 204, 255 -> 0, .2, .4, .6, .8, 1.
TINY_PIXELS = np.array(
    [[0, 51, 102, 153], [51, 102, 153, 204], [102, 153, 204, 255], [0, 0, 255, 255]],
    dtype=np.uint8,
)
TINY_X = [[0.0, 0.2, 0.4, 0.6], [0.2, 0.4, 0.6, 0.8], [0.4, 0.6, 0.8, 1.0], [0.0, 0.0, 1.0, 1.0]]
# Filter 0: x[i, j] - x[i+1, j+1].  Filter 1: half the 2x2 window sum, minus 1.
TINY_CONV = [
    [[-0.4, -0.4, -0.4], [-0.4, -0.4, -0.4], [0.4, -0.4, -0.2]],
    [[-0.6, -0.2, 0.2], [-0.2, 0.2, 0.6], [-0.5, 0.2, 0.9]],
]
TINY_RELU = [
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.4, 0.0, 0.0]],
    [[0.0, 0.0, 0.2], [0.0, 0.2, 0.6], [0.0, 0.2, 0.9]],
]
TINY_POOL = [[[0.0, 0.0], [0.4, 0.0]], [[0.2, 0.6], [0.2, 0.9]]]  # 2x2 max, stride 1
TINY_FLAT = [0.0, 0.0, 0.4, 0.0, 0.2, 0.6, 0.2, 0.9]
# fc: row 0 sums all (2.3); row 1 is f2 - f7 + 0.5 = 0.4 - 0.9 + 0.5 = 0; row 2 is -1.
TINY_LOGITS = [2.3, 0.0, -1.0]


@pytest.fixture
def tiny_probe(tiny_model: Model) -> Probe:
    return probe(tiny_model, Image.fromarray(TINY_PIXELS, mode="L"))


def test_hand_computed_outputs(tiny_probe: Probe) -> None:
    p = tiny_probe
    assert p.names == ("input", "conv", "relu", "pool", "flatten", "fc")
    expected = [TINY_X, TINY_CONV, TINY_RELU, TINY_POOL, TINY_FLAT, TINY_LOGITS]
    for layer, values in zip(p.layers, expected, strict=True):
        want = torch.tensor(values, dtype=torch.float32)
        if layer.name == "input":
            want = want[None]
        torch.testing.assert_close(tensor(layer.output), want, msg=layer.name)
        assert layer.shape == tuple(want.shape)
        assert layer.output.dtype == np.float32
    assert [x.index for x in p.layers] == [0, 1, 2, 3, 4, 5]


def test_hand_computed_layer_facts(tiny_probe: Probe) -> None:
    p = tiny_probe
    assert [x.kind for x in p.layers] == ["input", "conv", "activation", "pool", "other", "linear"]
    assert [x.type_name for x in p.layers] == [
        "Tensor", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear",
    ]  # fmt: skip
    # conv: 2 filters of 2x2 + 2 biases; fc: 8 * 3 weights + 3 biases.
    assert [x.params for x in p.layers] == [0, 10, 0, 0, 0, 27]
    assert p.layer("conv").description == "Conv2d(1, 2, kernel_size=(2, 2), stride=(1, 1))"
    assert p.layer("pool").description.startswith("MaxPool2d(kernel_size=2, stride=1")
    assert [x.is_main for x in p.layers] == [True, True, False, True, False, True]
    assert all(x.depth == 0 and x.is_leaf for x in p.layers)
    assert p.model_key == "tiny:test"
    assert p.model_label == "Tiny"
    assert p.weights_source == "test"
    assert not p.trained
    assert len(p) == 6
    assert [x.name for x in p] == list(p.names)
    np.testing.assert_array_equal(np.asarray(p.image), TINY_PIXELS)


def test_hand_computed_receptive_fields(tiny_probe: Probe) -> None:
    fields = {x.name: x.receptive_field for x in tiny_probe.layers}
    assert fields == {
        "input": ReceptiveField(1, 1),
        "conv": ReceptiveField(2, 1),  # 1 + (2 - 1) * 1
        "relu": ReceptiveField(2, 1),
        "pool": ReceptiveField(3, 1),  # 2 + (2 - 1) * 1
        "flatten": ReceptiveField(3, 1),
        "fc": ReceptiveField(None, 1),
    }
    assert fields["pool"].describe() == "3 px, stride 1"
    assert fields["fc"].describe() == "whole image"


def test_hand_computed_stats(tiny_probe: Probe) -> None:
    conv = tiny_probe.layer("conv").stats
    assert conv.min == pytest.approx(-0.6)
    assert conv.max == pytest.approx(0.9)
    # Filter 0 sums to -2.6, filter 1 to 0.6: mean -2 / 18.
    assert conv.mean == pytest.approx(-2.0 / 18, abs=1e-6)
    assert conv.zero_fraction == 0.0
    relu = tiny_probe.layer("relu").stats
    assert relu.min == 0.0
    assert relu.max == pytest.approx(0.9)
    # ReLU keeps 0.4 of filter 0 and 0.2 + 0.2 + 0.6 + 0.2 + 0.9 = 2.1 of filter 1.
    assert relu.mean == pytest.approx(2.5 / 18, abs=1e-6)
    assert relu.zero_fraction == pytest.approx(12 / 18)
    assert tiny_probe.layer("relu").stats is relu  # computed once


def test_hand_computed_predictions(tiny_probe: Probe) -> None:
    exps = [math.exp(v) for v in TINY_LOGITS]
    probs = [e / sum(exps) for e in exps]  # e^2.3 / (e^2.3 + 1 + e^-1) = 9.9742 / 11.3421
    assert [(x.index, x.label) for x in tiny_probe.predictions] == [(0, "a"), (1, "b"), (2, "c")]
    assert [x.probability for x in tiny_probe.predictions] == pytest.approx(probs, abs=1e-6)
    assert tiny_probe.predictions[0].probability == pytest.approx(0.879398, abs=1e-6)


def test_hand_computed_pooling_inputs_and_pooled_vector(tiny_probe: Probe) -> None:
    (pool,) = tiny_probe.pooling_layers()
    assert pool.name == "pool"
    assert pool.input is not None
    torch.testing.assert_close(tensor(pool.input), torch.tensor(TINY_RELU))
    # No global pooling: fc reads the whole flattened map (8 values from 2 channels).
    assert tiny_probe.pooled_vector() is None
    assert tiny_probe.layer("conv").input is None


def test_outputs_are_read_only(tiny_probe: Probe) -> None:
    output = tiny_probe.layer("conv").output
    with pytest.raises(ValueError, match="read-only"):
        output[0, 0, 0] = 1.0
    assert tiny_probe.layer("pool").input is not None
    assert not tiny_probe.layer("pool").input.flags.writeable


def test_unknown_layer_name_lists_the_known_ones(tiny_probe: Probe) -> None:
    with pytest.raises(KeyError, match=r"no layer 'conv2'.*'conv', 'relu'"):
        tiny_probe.layer("conv2")


# --- receptive fields -----------------------------------------------------------------------


def test_receptive_fields_of_lenet5(random_model: ModelGetter) -> None:
    p = probe(random_model("lenet5"), Image.new("L", (32, 32), 128))
    fields = {x.name: x.receptive_field for x in p.layers}
    # c1: 1 + 4 = 5; s2: 5 + 1 = 6, stride 2; c3: 6 + 4 * 2 = 14; s4: 14 + 1 * 2 = 16, stride 4.
    assert fields["features.c1"] == ReceptiveField(5, 1)
    assert fields["features.act1"] == ReceptiveField(5, 1)
    assert fields["features.s2"] == ReceptiveField(6, 2)
    assert fields["features.c3"] == ReceptiveField(14, 2)
    assert fields["features.s4"] == ReceptiveField(16, 4)
    assert fields["features"] == ReceptiveField(16, 4)
    assert fields["features.c3"].describe() == "14 px, stride 2"
    for name in ("classifier.c5", "classifier.f6", "classifier.output", "classifier"):
        assert fields[name].size is None, name
        assert fields[name].describe() == "whole image"


def test_receptive_fields_of_vgg16(random_model: ModelGetter) -> None:
    p = probe(random_model("vgg16"), noise_image(3))
    # Three 3x3 convs per block add 2 * jump each; each pool adds 1 * jump and doubles it.
    assert p.layer("features.0").receptive_field == ReceptiveField(3, 1)
    assert p.layer("features.4").receptive_field == ReceptiveField(6, 2)
    assert p.layer("features.28").receptive_field == ReceptiveField(196, 16)
    assert p.layer("features.30").receptive_field == ReceptiveField(212, 32)
    assert p.layer("avgpool").receptive_field == ReceptiveField(212, 32)  # 7x7 -> 7x7
    assert p.layer("classifier.0").receptive_field.size is None


def test_receptive_fields_of_resnet18(random_model: ModelGetter) -> None:
    p = probe(random_model("resnet18"), noise_image(4))
    assert p.layer("conv1").receptive_field == ReceptiveField(7, 2)
    assert p.layer("maxpool").receptive_field == ReceptiveField(11, 4)
    assert p.layer("layer1").receptive_field == ReceptiveField(43, 4)
    assert p.layer("layer2").receptive_field == ReceptiveField(99, 8)
    assert p.layer("layer3").receptive_field == ReceptiveField(211, 16)
    assert p.layer("layer4").receptive_field == ReceptiveField(435, 32)
    assert p.layer("layer4").receptive_field.describe() == "435 px, stride 32"
    assert p.layer("avgpool").receptive_field == ReceptiveField(None, 32)
    assert p.layer("fc").receptive_field.size is None


# --- predictions, input, statistics ---------------------------------------------------------


def test_predictions_are_the_top5_of_the_softmax(random_model: ModelGetter) -> None:
    model = random_model("resnet18")
    image = noise_image(5)
    p = probe(model, image)
    with torch.no_grad():
        probs = torch.softmax(model.module(model.preprocess(image))[0], dim=0)
    top = torch.topk(probs, TOP_K)
    assert len(p.predictions) == TOP_K == 5
    assert [x.index for x in p.predictions] == top.indices.tolist()
    assert [x.label for x in p.predictions] == [model.labels[i] for i in top.indices.tolist()]
    torch.testing.assert_close(
        torch.tensor([x.probability for x in p.predictions]), top.values, rtol=1e-5, atol=1e-7
    )
    values = [x.probability for x in p.predictions]
    assert values == sorted(values, reverse=True)
    assert 0 < sum(values) <= 1
    torch.testing.assert_close(tensor(p.layer("fc").output).softmax(0), probs)


def test_input_layer_is_the_preprocessed_image(random_model: ModelGetter) -> None:
    model = random_model("resnet18")
    image = noise_image(6, size=(500, 333))
    p = probe(model, image)
    first = p.layers[0]
    assert (first.name, first.kind, first.index, first.params) == ("input", "input", 0, 0)
    assert first.shape == (3, 224, 224)
    torch.testing.assert_close(tensor(first.output), model.preprocess(image)[0], rtol=0, atol=0)
    np.testing.assert_array_equal(np.asarray(p.image), np.asarray(model.view(image)))


@pytest.mark.parametrize("layer_name", ["conv1", "relu", "layer2.1.bn2", "layer4", "fc"])
def test_stats_equal_numpy(layer_name: str, random_model: ModelGetter) -> None:
    layer = probe(random_model("resnet18"), noise_image(7)).layer(layer_name)
    array = layer.output.astype(np.float64)
    stats = layer.stats
    assert stats.min == array.min()
    assert stats.max == array.max()
    assert stats.mean == pytest.approx(array.mean(), rel=1e-5, abs=1e-6)
    assert stats.zero_fraction == pytest.approx(np.mean(array == 0), abs=1e-12)
    if layer_name == "relu":
        assert stats.min == 0.0
        assert 0.2 < stats.zero_fraction < 0.8


# --- names, pooling layers, pooled vectors --------------------------------------------------


def test_reused_module_gets_numbered_names(random_model: ModelGetter) -> None:
    p = probe(random_model("resnet18"), noise_image(8))
    names = p.names
    assert "layer1.0.relu" in names
    assert "layer1.0.relu_1" in names
    assert "layer1.0.relu_2" not in names
    order = [names.index(n) for n in ("layer1.0.relu", "layer1.0.conv2", "layer1.0.relu_1")]
    assert order == sorted(order)
    assert len(set(names)) == len(names)
    block = p.layer("layer1.0")
    assert (block.kind, block.type_name, block.description) == (
        "block", "BasicBlock", "BasicBlock(...)",
    )  # fmt: skip
    assert not block.is_leaf
    assert block.is_main
    assert block.depth == 1
    torch.testing.assert_close(tensor(block.output), tensor(p.layer("layer1.0.relu_1").output))
    conv = p.layer("layer1.0.conv1")
    assert conv.depth == 2
    assert conv.is_leaf
    assert conv.description == repr(random_model("resnet18").module.layer1[0].conv1)
    assert conv.params == 64 * 64 * 9


def pool_out_side(module: nn.Module, side: int) -> int:
    """floor((in + 2p - d(k - 1) - 1) / s) + 1 for plain pools; the target size for adaptive."""
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        target = module.output_size
        return target if isinstance(target, int) else target[0]
    k, s, p = module.kernel_size, module.stride, module.padding
    k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
    d = getattr(module, "dilation", 1)
    d = d if isinstance(d, int) else d[0]
    return (side + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("resnet18", ["maxpool", "avgpool"]),
        ("vgg11", ["features.2", "features.5", "features.10", "features.15", "features.20",
                   "avgpool"]),
        ("lenet5", ["features.s2", "features.s4"]),
    ],
)  # fmt: skip
def test_pooling_layers_follow_the_output_size_formula(
    name: str, expected: list[str], random_model: ModelGetter
) -> None:
    model = random_model(name)
    p = probe(model, noise_image(9))
    pools = p.pooling_layers()
    assert [x.name for x in pools] == expected
    for layer in pools:
        module = model.module.get_submodule(layer.name)
        assert layer.input is not None
        c, h, w = layer.input.shape
        assert layer.shape == (c, pool_out_side(module, h), pool_out_side(module, w))
        with torch.no_grad():
            again = module(tensor(layer.input)[None])[0]
        torch.testing.assert_close(tensor(layer.output), again, rtol=0, atol=0)


def test_pooled_vector_of_resnet18_is_avgpool(random_model: ModelGetter) -> None:
    p = probe(random_model("resnet18"), noise_image(10))
    found = p.pooled_vector()
    assert found is not None
    layer, vector = found
    assert layer.name == "avgpool"
    assert vector.shape == (512,)
    torch.testing.assert_close(tensor(vector), tensor(p.layer("layer4").output).mean(dim=(1, 2)))
    assert p.layer("fc").input is not None
    torch.testing.assert_close(tensor(vector), tensor(p.layer("fc").input))


def test_pooled_vector_of_densenet121_is_the_classifier_input(
    random_model: ModelGetter,
) -> None:
    # DenseNet pools with F.relu(inplace=True) and F.adaptive_avg_pool2d, not with modules.
    p = probe(random_model("densenet121"), noise_image(11))
    found = p.pooled_vector()
    assert found is not None
    layer, vector = found
    assert layer.name == "classifier"
    assert vector.shape == (1024,)
    norm5 = tensor(p.layer("features.norm5").output)
    assert (norm5 < 0).any()  # the true norm5 output, before the functional in-place ReLU
    torch.testing.assert_close(tensor(vector), norm5.relu().mean(dim=(1, 2)))


def test_pooled_vector_of_mobilenet_v2(random_model: ModelGetter) -> None:
    p = probe(random_model("mobilenet_v2"), noise_image(12))
    found = p.pooled_vector()
    assert found is not None
    layer, vector = found
    assert layer.name == "classifier.1"
    assert vector.shape == (1280,)
    torch.testing.assert_close(tensor(vector), tensor(p.layer("features").output).mean((1, 2)))


# --- every registry model -------------------------------------------------------------------


# Width of the global-average-pooling vector of the models that have one.
GAP_WIDTH = {
    "resnet_small": 64, "mobilenet_small": 256, "deepnet": 32,
    "googlenet": 1024, "resnet18": 512, "resnet50": 2048, "densenet121": 1024,
    "mobilenet_v2": 1280, "mobilenet_v3_small": 576, "efficientnet_b0": 1280,
}  # fmt: skip


@pytest.mark.parametrize("name", model_names())
def test_every_registry_model_probes(name: str, random_model: ModelGetter) -> None:
    model = random_model(name)
    p = probe(model, noise_image(13, size=(250, 190)))
    assert p.layers[0].shape == model.input_size
    assert [x.index for x in p.layers] == list(range(len(p)))
    assert len(set(p.names)) == len(p)
    assert len(p) > 10
    for layer in p.layers:
        assert layer.output.shape == layer.shape, layer.name
        assert np.isfinite(layer.output).all(), layer.name
        assert (layer.kind == "input") == (layer.index == 0), layer.name
    assert p.layers[-1].shape == (len(model.labels),)
    assert len(p.predictions) == 5
    probs = [x.probability for x in p.predictions]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) <= 1 + 1e-6
    # Every parameter is counted once, by the leaf module that holds it.
    total = sum(x.numel() for x in model.module.parameters())
    assert sum(x.params for x in p.layers if x.is_leaf) == total
    found = p.pooled_vector()
    if name in GAP_WIDTH:
        assert found is not None
        assert found[1].shape == (GAP_WIDTH[name],)
    else:
        assert found is None


# --- invariants: hooks, modes, in-place flags -----------------------------------------------


def all_hooks_empty(module: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())


def test_probe_leaves_no_hooks_and_restores_modes() -> None:
    model = load_model("resnet18", "random")
    net = model.module
    net.train()
    net.layer2.eval()  # mixed modes come back as they were
    running_mean = net.bn1.running_mean.clone()
    calls: list[str] = []
    user_hook = net.fc.register_forward_hook(lambda m, a, o: calls.append("fc"))
    p = probe(model, noise_image(14))
    assert calls  # the user's own hook still fired ...
    user_hook.remove()
    assert all_hooks_empty(net)  # ... and was the only hook left
    assert [net.training, net.layer1.training, net.fc.training] == [True, True, True]
    assert [net.layer2.training, net.layer2[0].bn1.training] == [False, False]
    assert all(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))
    # Probing ran in eval mode: batch-norm statistics did not move.
    torch.testing.assert_close(net.bn1.running_mean, running_mean, rtol=0, atol=0)
    assert net.bn1.num_batches_tracked.item() == 0
    net.eval()
    again = probe(model, noise_image(14))
    for a, b in zip(p.layers, again.layers, strict=True):
        torch.testing.assert_close(tensor(a.output), tensor(b.output), rtol=0, atol=0)


class Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom inside forward")


def test_probe_cleans_up_after_an_exception_in_forward() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2), nn.ReLU(inplace=True), Boom())
    net.train()
    spec = ModelSpec("boom", "Boom", 2024, "", input_size=4, channels=1, mean=(0.0,), std=(1.0,),
                     resize=None)  # fmt: skip
    model = Model(net, spec, ("a",), "random", "test", "boom:test")
    with pytest.raises(RuntimeError, match="boom inside forward"):
        probe(model, Image.new("L", (4, 4), 10))
    assert all_hooks_empty(net)
    assert all(m.training for m in net.modules())
    assert net[2].inplace is True
    assert net[1].num_batches_tracked.item() == 0
    assert model.lock.acquire(blocking=False)
    model.lock.release()


def test_layer_kind_classifies_modules() -> None:
    assert layer_kind(nn.Conv2d(1, 1, 1)) == "conv"
    assert layer_kind(nn.ReLU6()) == "activation"
    assert layer_kind(nn.AdaptiveAvgPool2d(1)) == "pool"
    assert layer_kind(nn.BatchNorm2d(1)) == "norm"
    assert layer_kind(nn.Linear(1, 1)) == "linear"
    assert layer_kind(nn.Dropout()) == "dropout"
    assert layer_kind(nn.Sequential(nn.ReLU())) == "block"
    assert layer_kind(nn.Flatten()) == "other"


# --- thread safety --------------------------------------------------------------------------


def outputs(p: Probe) -> list[tuple[str, np.ndarray]]:
    return [(x.name, x.output) for x in p.layers]


def test_concurrent_probes_of_one_model_equal_sequential_ones() -> None:
    images = [noise_image(20 + i) for i in range(4)]
    shared = load_model("resnet18", "random")  # fresh: the first probes also learn what to clone
    jobs = [i % len(images) for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: (i, probe(shared, images[i])), jobs))
    solo = load_model("resnet18", "random")
    with ThreadPoolExecutor(max_workers=1) as pool:
        expected = list(pool.map(lambda image: probe(solo, image), images))
    assert sorted(i for i, _ in results) == sorted(jobs)
    for i, p in results:
        reference = expected[i]
        assert p.names == reference.names
        assert p.predictions == reference.predictions
        for (name, got), (_, want) in zip(outputs(p), outputs(reference), strict=True):
            torch.testing.assert_close(tensor(got), tensor(want), rtol=0, atol=0, msg=name)
    assert all_hooks_empty(shared.module)


def test_layer_dataclass_is_frozen(tiny_probe: Probe) -> None:
    layer: Layer = tiny_probe.layer("conv")
    with pytest.raises(AttributeError):
        layer.name = "other"  # type: ignore[misc]
