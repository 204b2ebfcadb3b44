"""Every registry model: its pooling layers step by step, and its first convolution.

Random weights are enough (the windows do not depend on them). Each model is built and probed
once, on one small image, by a module-scoped fixture that pytest runs model by model, so only one
probe is held at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn

from cnnviz import MODELS, Model, Probe, figures, load_model, probe
from cnnviz.steps import first_conv, first_conv_name, pool_patch

IMAGE = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8))

# What the step view says each notable layer does (all of them are checked against PyTorch).
DESCRIBED = {
    "lenet5": {"features.s2": "max pooling 2 x 2, stride 2, padding 0"},
    "resnet_small": {"classifier.avgpool": "global average pooling"},
    "alexnet": {
        "features.2": "max pooling 3 x 3, stride 2, padding 0",
        "avgpool": "adaptive average pooling to 6 x 6",
    },
    "vgg16": {"avgpool": "adaptive average pooling to 7 x 7"},
    "googlenet": {
        "maxpool1": "max pooling 3 x 3, stride 2, padding 0, ceil mode",
        "inception3a.branch4.0": "max pooling 3 x 3, stride 1, padding 1, ceil mode",
        "avgpool": "global average pooling",
    },
    "resnet18": {
        "maxpool": "max pooling 3 x 3, stride 2, padding 1",
        "avgpool": "global average pooling",
    },
    "densenet121": {
        "features.pool0": "max pooling 3 x 3, stride 2, padding 1",
        "features.transition1.pool": "average pooling 2 x 2, stride 2, padding 0",
    },
    "mobilenet_v3_small": {"features.1.block.1.avgpool": "global average pooling"},
    "efficientnet_b0": {"features.1.0.block.1.avgpool": "global average pooling"},
}
# These pool in forward() with F.adaptive_avg_pool2d: no module, so no layer to animate.
FUNCTIONAL_ONLY = {"mobilenet_v2"}


@pytest.fixture(scope="module", params=list(MODELS))
def probed(request: pytest.FixtureRequest) -> tuple[Model, Probe]:
    model = load_model(request.param, weights="random")
    return model, probe(model, IMAGE)


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def functional(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """PyTorch's functional pooling with the module's own attributes: the oracle."""
    if isinstance(module, nn.MaxPool2d):
        m = module
        return F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(module, nn.AvgPool2d):
        m = module
        return F.avg_pool2d(
            x, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
            m.divisor_override,
        )  # fmt: skip
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return F.adaptive_max_pool2d(x, module.output_size)
    assert isinstance(module, nn.AdaptiveAvgPool2d), type(module)
    return F.adaptive_avg_pool2d(x, module.output_size)


def close(actual: torch.Tensor, expected: torch.Tensor, layer: str) -> None:
    torch.testing.assert_close(actual, expected, msg=lambda message: f"{layer}: {message}")


def test_every_pooling_layer_animates_what_it_computed(probed: tuple[Model, Probe]) -> None:
    model, p = probed
    modules = dict(model.module.named_modules())
    layers = p.pooling_layers()
    assert (not layers) == (model.spec.name in FUNCTIONAL_ONLY)
    described = {}
    for layer in layers:
        recorded = tensor(layer.output)
        animated = tensor(pool_patch(model, layer, size=None).steps.output).float()
        close(animated, recorded, layer.name)
        close(animated, functional(modules[layer.name], tensor(layer.input)[None])[0], layer.name)
        # What the page shows: one channel, the middle block, every frame's own value.
        shown = pool_patch(model, layer, [3])
        (r0, c0), (n_h, n_w) = shown.origin, shown.steps.out_shape
        frames = [[shown.steps.step(i, j).value for j in range(n_w)] for i in range(n_h)]
        close(tensor(frames).float(), recorded[3, r0 : r0 + n_h, c0 : c0 + n_w], layer.name)
        described[layer.name] = shown.steps.settings.describe()
    assert DESCRIBED.get(model.spec.name, {}).items() <= described.items()


def test_identity_and_global_windows_are_recognised(probed: tuple[Model, Probe]) -> None:
    model, p = probed
    for layer in p.pooling_layers():
        steps = pool_patch(model, layer, [0]).steps
        assert steps.is_global == (layer.shape[1:] == (1, 1) and layer.input.shape[1:] != (1, 1))
        if layer.name == "avgpool" and model.spec.name in ("alexnet", "vgg11", "vgg16"):
            assert steps.is_identity  # at 224 x 224 the map is already 6 x 6 / 7 x 7


def test_first_convolution_is_one_layer_everywhere(probed: tuple[Model, Probe]) -> None:
    model, p = probed
    name = first_conv_name(model.module)
    assert name == first_conv_name(model.module.state_dict())
    assert name == next(x.name for x in p.layers if x.type_name == "Conv2d")  # the first it meets
    weight = dict(model.module.named_modules())[name].weight.detach()
    np.testing.assert_array_equal(figures.first_conv_weights(model.module), weight.mean(1).numpy())
    assert first_conv(model)[0] == name
