"""The registry of architectures: name -> :class:`ModelSpec`, their labels and builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torchvision
from torch import nn

from cnnviz.data import SHAPES
from cnnviz.errors import ModelError
from cnnviz.nets import DeepNet, LeNet5, SmallMobileNet, SmallResNet, TinyVGG, Variant, ZFNet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DIGIT_LABELS = tuple(str(d) for d in range(10))


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One architecture of the registry.

    Attributes:
        name: Registry name, torchvision style (``"resnet18"``).
        label: Human name (``"ResNet-18"``).
        year: Year of the paper.
        summary: One sentence on what the architecture introduced.
        input_size: Side of the square input in pixels.
        channels: 1 (grayscale) or 3 (RGB).
        mean: Per-channel normalization mean.
        std: Per-channel normalization standard deviation.
        resize: Shorter side before the center crop; ``None`` resizes the whole image to the
            input size (for small digit/icon nets, where cropping would cut the object).
        torchvision_name: Builder name in torchvision, or ``None`` for our own nets.
        asset: File in ``cnnviz/assets`` holding bundled trained weights, if any.
    """

    name: str
    label: str
    year: int
    summary: str
    input_size: int = 224
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize: int | None = 256
    torchvision_name: str | None = None
    asset: str | None = None

    @property
    def is_torchvision(self) -> bool:
        """Whether torchvision builds this architecture."""
        return self.torchvision_name is not None


def _tv(name: str, label: str, year: int, summary: str) -> ModelSpec:
    return ModelSpec(name, label, year, summary, torchvision_name=name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "lenet5", "LeNet-5", 1998,
            "Two convolutions and two poolings read handwritten digits: the first CNN in use.",
            input_size=32, channels=1, mean=(0.5,), std=(0.5,), resize=None,
            asset="lenet5_digits.pt",
        ),
        ModelSpec(
            "tinyvgg", "TinyVGG", 2020,
            "The small VGG-style network of the CNN Explainer (3x3 convolutions, two blocks), "
            "trained by cnnviz on its procedural shapes.",
            input_size=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), resize=None,
            asset="tinyvgg.pt",
        ),
        ModelSpec(
            "resnet_small", "Small ResNet", 2015,
            "Residual blocks (a shortcut around two convs) at digit size.",
            input_size=32, channels=1, mean=(0.5,), std=(0.5,), resize=None, asset=None,
        ),
        ModelSpec(
            "mobilenet_small", "Small MobileNet", 2017,
            "Depthwise separable convolutions at digit size.",
            input_size=32, channels=1, mean=(0.5,), std=(0.5,), resize=None, asset=None,
        ),
        ModelSpec(
            "deepnet", "Deep plain CNN", 2015,
            "ResNet-20's 20 layers without the shortcuts: its gradient vanishes on the way back "
            "(train it with residual connections or batch norm to see the cure).",
            input_size=32, channels=1, mean=(0.5,), std=(0.5,), resize=None, asset=None,
        ),
        _tv("alexnet", "AlexNet", 2012, "Deep CNN with ReLU and dropout that won ImageNet 2012."),
        ModelSpec(
            "zfnet", "ZFNet", 2013,
            "AlexNet with a 7x7 stride-2 first layer, tuned by looking inside (deconvnet); "
            "cnnviz's own build of the 2013 layout, no published weights.",
        ),
        _tv("vgg11", "VGG-11", 2014, "Only 3x3 convolutions, stacked deep."),
        _tv("vgg16", "VGG-16", 2014, "Only 3x3 convolutions, stacked 16 layers deep."),
        _tv("googlenet", "GoogLeNet", 2014, "Inception blocks: 1x1, 3x3, 5x5 convs side by side."),
        _tv("resnet18", "ResNet-18", 2015, "Residual connections let very deep nets train."),
        _tv("resnet50", "ResNet-50", 2015, "Deeper ResNet with 1x1 bottleneck blocks."),
        _tv("densenet121", "DenseNet-121", 2016, "Each layer sees all maps before it."),
        _tv("mobilenet_v2", "MobileNetV2", 2018, "Depthwise separable convolutions for phones."),
        _tv("mobilenet_v3_small", "MobileNetV3-Small", 2019, "Searched, with squeeze-excitation."),
        _tv("efficientnet_b0", "EfficientNet-B0", 2019, "Depth, width, input size scaled as one."),
    )
}  # fmt: skip


def model_names() -> tuple[str, ...]:
    """Registry names in teaching order (small nets first, then by year)."""
    return tuple(MODELS)


def spec_of(name: str) -> ModelSpec:
    """The registry entry of ``name``.

    Raises:
        ModelError: No such model (the message lists the known ones).
    """
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelError(f"There is no model called '{name}'. Choose one of: {known}.") from None


def tv_weights(spec: ModelSpec) -> Any:
    """torchvision's default weights enum member of a torchvision architecture."""
    return torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT


def default_labels(spec: ModelSpec) -> tuple[str, ...]:
    """The class names of an architecture as published (or as cnnviz trains it)."""
    if spec.name in ("lenet5", "resnet_small", "mobilenet_small", "deepnet"):
        return DIGIT_LABELS
    if spec.name == "tinyvgg":  # trained on the procedural shapes (cnnviz.data)
        return SHAPES
    if spec.name == "zfnet":  # ImageNet's classes, as torchvision lists them for AlexNet
        return tuple(torchvision.models.AlexNet_Weights.DEFAULT.meta["categories"])
    return tuple(tv_weights(spec).meta["categories"])


def build_module(
    name: str, num_classes: int | None = None, seed: int = 0, variant: Variant | None = None
) -> nn.Module:
    """A new, untrained module of a registry architecture (for training).

    Args:
        name: A registry name.
        num_classes: Outputs of the last layer (default: the architecture's own).
        seed: Seed of the initial weights: the same seed builds the same network.
        variant: Another activation, batch norm on/off or dropout (our own nets only).

    Raises:
        ModelError: Unknown name, or a variant of a torchvision architecture.
    """
    return build(spec_of(name), num_classes, seed, variant)


def build(
    spec: ModelSpec, num_classes: int | None = None, seed: int = 0, variant: Variant | None = None
) -> nn.Module:
    """Build an untrained module, seeded so that 'random' is the same network every time."""
    changes = variant.kwargs() if variant is not None else {}
    if changes and spec.is_torchvision:
        raise ModelError(
            f"{spec.label} is built by torchvision as published: its activation, batch norm "
            "and dropout cannot be changed here (they can in our own nets)."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.name == "lenet5":
            return LeNet5(num_classes=num_classes or 10, **changes)
        if spec.name == "tinyvgg":
            return TinyVGG(num_classes=num_classes or len(SHAPES), **changes)
        if spec.name == "zfnet":
            return ZFNet(num_classes=num_classes or 1000, **changes)
        if spec.name == "resnet_small":
            return SmallResNet(num_classes=num_classes or 10, in_channels=spec.channels, **changes)
        if spec.name == "deepnet":
            return DeepNet(
                num_classes=num_classes or 10, in_channels=spec.channels, width=8, **changes
            )
        if spec.name == "mobilenet_small":
            # Wider than the class default: it learns fast enough to show in a short run.
            return SmallMobileNet(
                num_classes=num_classes or 10, in_channels=spec.channels, width=32, **changes
            )
        kwargs: dict[str, Any] = {"weights": None}
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        if spec.name == "googlenet":
            kwargs |= {"aux_logits": False, "init_weights": True}
        return torchvision.models.get_model(spec.torchvision_name, **kwargs)
