"""Our own small architectures, written as plain ``nn.Module`` s for teaching.

Each layer has a short, stable name (``c1``, ``s2``, ...) so that pages, tests and checkpoints
can refer to it. ``SmallResNet`` and ``SmallMobileNet`` show the two ideas of ResNet and MobileNet
(residual blocks, depthwise separable convolutions) at digit size, quick to train on a laptop.
torchvision builds the large ImageNet models (see :mod:`cnnviz.models`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BasicBlock",
    "DeepNet",
    "DepthwiseSeparable",
    "LeNet5",
    "SmallMobileNet",
    "SmallResNet",
    "TinyVGG",
    "Variant",
    "ZFNet",
]

PoolKind = Literal["max", "avg"]


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation function: its name on screen, its layer, and the same as PyTorch code.

    The layer (:attr:`module`) is the one definition of the function: our nets build it, the
    Convolution page applies it to numbers (:meth:`apply`), the code snippets spell it.

    Attributes:
        label: Short name for the pages (``"leaky ReLU"``).
        formula: What it does to a number ``x``, as a student reads it (``"0.1·x below 0"``).
        module: Makes the layer, e.g. ``nn.LeakyReLU(0.1)``.
        code: The same function in a PyTorch snippet, ``{}`` standing for the tensor
            (``"F.leaky_relu({}, 0.1)"``).
    """

    label: str
    formula: str
    module: Callable[[], nn.Module]
    code: str

    def apply(self, values: np.ndarray | float) -> np.ndarray:
        """The function applied to every number of ``values`` (any shape), in float64."""
        x = torch.from_numpy(np.array(values, dtype=np.float64))  # a copy: writable
        with torch.no_grad():
            return self.module()(x).numpy()

    def derivative(self, values: np.ndarray | float) -> np.ndarray:
        """The slope ``f'(x)`` at every number of ``values``, by autograd through :attr:`module`.

        Where the function has a kink (ReLU at 0), this is PyTorch's choice (0 for ReLU): the
        gradient a network trains with.
        """
        x = torch.from_numpy(np.array(values, dtype=np.float64)).requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.module()(x).sum(), x)
        return grad.numpy()


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("ReLU", "max(0, x)", nn.ReLU, "F.relu({})"),
    "leaky_relu": Activation(
        "leaky ReLU", "0.1·x below 0", lambda: nn.LeakyReLU(0.1), "F.leaky_relu({}, 0.1)"
    ),
    "elu": Activation("ELU", "e^x − 1 below 0", nn.ELU, "F.elu({})"),
    "gelu": Activation("GELU", "x·Φ(x), a smooth ReLU", nn.GELU, "F.gelu({})"),
    "silu": Activation("SiLU", "x·sigmoid(x)", nn.SiLU, "F.silu({})"),
    "relu6": Activation("ReLU6", "min(max(0, x), 6)", nn.ReLU6, "F.relu6({})"),
    "tanh": Activation("tanh", "squashes to −1..1", nn.Tanh, "torch.tanh({})"),
    "sigmoid": Activation("sigmoid", "1 / (1 + e^−x): 0..1", nn.Sigmoid, "torch.sigmoid({})"),
}
"""The activation functions of cnnviz, by name: the one table our nets, the training options and
the Convolution page share (leaky ReLU with slope 0.1 below zero, larger than PyTorch's default
0.01, so the slope shows in the numbers)."""
# Batch-norm momentum of SmallMobileNet: a small data set gives few steps per epoch, and with
# PyTorch's default 0.1 the running statistics used at evaluation lag far behind the fast-changing
# depthwise weights (validation accuracy near chance after the first epochs).
MOBILE_BN_MOMENTUM = 0.3


@dataclass(frozen=True, slots=True)
class Variant:
    """Changes to one of our nets' own layers, for training experiments.

    ``None`` keeps the architecture's choice. A variant changes the layers (and so the weight
    names), so a checkpoint stores it and loading rebuilds the same variant.

    Attributes:
        activation: A name from :data:`ACTIVATIONS` for every activation of the net.
        batch_norm: ``True`` adds batch norm after every convolution (LeNet-5, TinyVGG);
            ``False`` removes it (small ResNet and MobileNet, which have it).
        dropout: Probability of zeroing each input of the fully connected layers while training
            (0 turns it off).
        residual: ``True`` adds a shortcut around every pair of convolutions of the deep plain
            net (:class:`DeepNet`), which makes it a ResNet of the same depth.
    """

    activation: str | None = None
    batch_norm: bool | None = None
    dropout: float = 0.0
    residual: bool | None = None

    @property
    def is_default(self) -> bool:
        return self == Variant()

    def kwargs(self) -> dict[str, object]:
        """Constructor arguments of our nets for this variant (only what it changes)."""
        out: dict[str, object] = {"dropout": self.dropout} if self.dropout else {}
        if self.activation is not None:
            out["activation"] = self.activation
        if self.batch_norm is not None:
            out["batch_norm"] = self.batch_norm
        if self.residual is not None:
            out["residual"] = self.residual
        return out

    def describe(self) -> str:
        """``"GELU, batch norm, dropout 0.3"``, or ``""`` for the default."""
        parts = [] if self.activation is None else [self.activation]
        if self.batch_norm is not None:
            parts.append("batch norm" if self.batch_norm else "no batch norm")
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        if self.residual is not None:
            parts.append("residual connections" if self.residual else "no shortcuts")
        return ", ".join(parts)


def _pool(kind: PoolKind) -> nn.Module:
    return nn.MaxPool2d(2, 2) if kind == "max" else nn.AvgPool2d(2, 2)


def _norm(channels: int, enabled: bool, momentum: float = 0.1) -> nn.Module:
    """Batch norm over ``channels``, or an identity (no weights) when ``enabled`` is off."""
    return nn.BatchNorm2d(channels, momentum=momentum) if enabled else nn.Identity()


def _dropout(sequential: nn.Sequential, name: str, p: float) -> None:
    if p > 0:
        sequential.add_module(name, nn.Dropout(p))


def _stem(
    in_channels: int, width: int, activation: str, batch_norm: bool, momentum: float = 0.1
) -> nn.Sequential:
    """conv 3x3 (padding 1) -> batch norm -> activation: the first layers of our small nets."""
    stem = nn.Sequential()
    stem.add_module("conv", nn.Conv2d(in_channels, width, 3, padding=1, bias=not batch_norm))
    stem.add_module("bn", _norm(width, batch_norm, momentum))
    stem.add_module("relu", ACTIVATIONS[activation].module())
    return stem


def _pooled_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Global average pool -> flatten -> (dropout) -> linear: ResNet's and MobileNet's head."""
    head = nn.Sequential()
    head.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
    head.add_module("flatten", nn.Flatten())
    _dropout(head, "drop", dropout)
    head.add_module("fc", nn.Linear(channels, num_classes))
    return head


class LeNet5(nn.Module):
    """LeNet-5 in the 1998 layout (LeCun et al.), with a modern activation by default.

    Input (C, 32, 32) -> C1 conv 6@5x5 -> (6, 28, 28) -> S2 pool 2x2 -> (6, 14, 14)
    -> C3 conv 16@5x5 -> (16, 10, 10) -> S4 pool 2x2 -> (16, 5, 5) -> C5 FC 120 -> F6 FC 84
    -> output FC 10. Every convolution uses no padding, so each 5x5 kernel shrinks the map by 4:
    ``out = in - 5 + 1``.

    Args:
        num_classes: Size of the output layer.
        in_channels: 1 for grayscale digits, 3 for colour images.
        activation: ``"relu"`` (trains quickly), ``"tanh"`` (as in 1998), or any name in
            :data:`ACTIVATIONS`.
        pool: ``"max"`` or ``"avg"`` (the 1998 paper's subsampling is closest to average).
        batch_norm: Add batch norm after C1 and C3 (``bn1``, ``bn3``; not in the original).
        dropout: Dropout before F6 and the output layer (``drop5``, ``drop6``) when > 0.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "relu",
        pool: PoolKind = "max",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        act = ACTIVATIONS[activation].module
        self.features = nn.Sequential()
        self.features.add_module("c1", nn.Conv2d(in_channels, 6, kernel_size=5))
        if batch_norm:
            self.features.add_module("bn1", nn.BatchNorm2d(6))
        self.features.add_module("act1", act())
        self.features.add_module("s2", _pool(pool))
        self.features.add_module("c3", nn.Conv2d(6, 16, kernel_size=5))
        if batch_norm:
            self.features.add_module("bn3", nn.BatchNorm2d(16))
        self.features.add_module("act3", act())
        self.features.add_module("s4", _pool(pool))
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("c5", nn.Linear(16 * 5 * 5, 120))
        self.classifier.add_module("act5", act())
        _dropout(self.classifier, "drop5", dropout)
        self.classifier.add_module("f6", nn.Linear(120, 84))
        self.classifier.add_module("act6", act())
        _dropout(self.classifier, "drop6", dropout)
        self.classifier.add_module("output", nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class TinyVGG(nn.Module):
    """The small VGG-style network of the CNN Explainer (Wang et al., 2020), for 64x64 RGB input.

    Two blocks of (conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> max pool 2x2), no padding, then one
    linear layer: (3, 64, 64) -> (10, 62, 62) -> (10, 60, 60) -> (10, 30, 30) -> (10, 28, 28)
    -> (10, 26, 26) -> (10, 13, 13) -> 10 classes.

    Args:
        num_classes: Size of the output layer.
        in_channels: Input channels (3 for RGB).
        width: Channels of every convolution (10 in the CNN Explainer).
        activation: Any name in :data:`ACTIVATIONS` (the layers keep the names ``relu1_1``...).
        batch_norm: Add batch norm after every convolution (``bn1_1``, ...).
        dropout: Dropout before the output layer (``drop``) when > 0.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 10,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        channels = in_channels
        for block in (1, 2):
            for conv in (1, 2):
                self.features.add_module(
                    f"conv{block}_{conv}", nn.Conv2d(channels, width, kernel_size=3)
                )
                if batch_norm:
                    self.features.add_module(f"bn{block}_{conv}", nn.BatchNorm2d(width))
                self.features.add_module(f"relu{block}_{conv}", ACTIVATIONS[activation].module())
                channels = width
            self.features.add_module(f"pool{block}", nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        _dropout(self.classifier, "drop", dropout)
        self.classifier.add_module("fc", nn.Linear(width * 13 * 13, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class ZFNet(nn.Module):
    """ZFNet in the 2013 layout (Zeiler & Fergus, "Visualizing and Understanding Convolutional
    Networks", Fig. 3): AlexNet with a finer first layer, found by looking at its filters.

    (3, 224, 224) -> conv1 96@7x7 stride 2 (padding 1) -> (96, 110, 110) -> pool 3x3/2
    -> (96, 55, 55) -> contrast norm -> conv2 256@5x5 stride 2 -> (256, 26, 26) -> pool 3x3/2
    -> (256, 13, 13) -> norm -> conv3 384@3x3 -> conv4 384@3x3 -> conv5 256@3x3 (padding 1,
    13 x 13) -> pool 3x3/2 -> (256, 6, 6) -> fc6 4096 -> fc7 4096 -> output 1000.
    AlexNet's first layer is 11x11 with stride 4 (55 x 55 maps): its filters showed dead
    filters and aliasing, which the smaller, denser 7x7 stride-2 filters remove. The poolings
    round up (``ceil_mode``, as Caffe did), which gives the paper's 55, 13 and 6.

    Args:
        num_classes: Size of the output layer (1000 ImageNet classes).
        in_channels: Input channels (3 for RGB).
        activation: Any name in :data:`ACTIVATIONS` (ReLU in the paper).
        batch_norm: Batch norm instead of the contrast normalization (``norm1``, ``norm2``).
        dropout: Dropout before fc6 and fc7 (0.5 in the paper).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        act = ACTIVATIONS[activation].module
        f = self.features = nn.Sequential()
        f.add_module("conv1", nn.Conv2d(in_channels, 96, kernel_size=7, stride=2, padding=1))
        f.add_module("relu1", act())
        f.add_module("pool1", nn.MaxPool2d(3, 2, ceil_mode=True))
        f.add_module("norm1", nn.BatchNorm2d(96) if batch_norm else nn.LocalResponseNorm(5))
        f.add_module("conv2", nn.Conv2d(96, 256, kernel_size=5, stride=2))
        f.add_module("relu2", act())
        f.add_module("pool2", nn.MaxPool2d(3, 2, ceil_mode=True))
        f.add_module("norm2", nn.BatchNorm2d(256) if batch_norm else nn.LocalResponseNorm(5))
        for index, (cin, cout) in enumerate(((256, 384), (384, 384), (384, 256)), 3):
            f.add_module(f"conv{index}", nn.Conv2d(cin, cout, kernel_size=3, padding=1))
            f.add_module(f"relu{index}", act())
        f.add_module("pool5", nn.MaxPool2d(3, 2, ceil_mode=True))
        c = self.classifier = nn.Sequential()
        c.add_module("flatten", nn.Flatten())
        _dropout(c, "drop6", dropout)
        c.add_module("fc6", nn.Linear(256 * 6 * 6, 4096))
        c.add_module("relu6", act())
        _dropout(c, "drop7", dropout)
        c.add_module("fc7", nn.Linear(4096, 4096))
        c.add_module("relu7", act())
        c.add_module("output", nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """The residual block of ResNet (He et al., 2015): two 3x3 convolutions plus a shortcut.

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``. The block only has to learn
    the *change* to its input; the shortcut carries the input (and its gradient) straight
    through, which is why very deep ResNets still train. The shortcut is the identity when the
    shape stays the same, and a 1x1 convolution + batch norm (with the block's stride) when the
    channels or the map size change, so that the two can be added.

    (C, H, W) -> (C', H / stride, W / stride).

    Args:
        in_channels: Channels C of the input.
        out_channels: Channels C' of the output.
        stride: Stride of the first convolution (2 halves the map).
        activation: Any name in :data:`ACTIVATIONS`.
        batch_norm: Off replaces every batch norm by an identity (the convolutions then get a
            bias).
        residual: Off leaves the shortcut out: two plain convolutions, as in the "plain"
            networks ResNet was compared with.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        activation: str = "relu",
        batch_norm: bool = True,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.residual = residual
        bias = not batch_norm
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)
        self.bn1 = _norm(out_channels, batch_norm)
        self.relu = ACTIVATIONS[activation].module()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)
        self.bn2 = _norm(out_channels, batch_norm)
        if residual and (stride != 1 or in_channels != out_channels):
            self.shortcut: nn.Module = nn.Sequential()
            self.shortcut.add_module(
                "conv", nn.Conv2d(in_channels, out_channels, 1, stride, bias=bias)
            )
            self.shortcut.add_module("bn", _norm(out_channels, batch_norm))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)  # out of place: probe records the pre-addition output
        return self.relu(out)


class SmallResNet(nn.Module):
    """A small ResNet for 32x32 input: a stem and three residual stages, then global pooling.

    With the defaults (width w = 16, grayscale):
    (1, 32, 32) -> stem conv 3x3 -> (16, 32, 32) -> stage1 -> (16, 32, 32)
    -> stage2 (stride 2) -> (32, 16, 16) -> stage3 (stride 2) -> (64, 8, 8)
    -> global average pool -> (64, 1, 1) -> flatten 64 -> linear 10.
    Each stage is one :class:`BasicBlock`; stage2 and stage3 need a 1x1 convolution shortcut
    because they change the shape.

    Args:
        num_classes: Size of the output layer.
        in_channels: 1 for grayscale digits, 3 for colour images.
        width: Channels w of the first stage; the others have 2w and 4w.
        activation: Any name in :data:`ACTIVATIONS`.
        batch_norm: Off removes every batch norm (see :class:`BasicBlock`).
        dropout: Dropout before the output layer (``drop``) when > 0.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 16,
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("stem", _stem(in_channels, width, activation, batch_norm))
        channels = width
        for stage, (out, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2)), 1):
            block = BasicBlock(channels, out, stride, activation, batch_norm)
            self.features.add_module(f"stage{stage}", block)
            channels = out
        self.classifier = _pooled_head(channels, num_classes, dropout)

    def forward(self, x):
        return self.classifier(self.features(x))


class DeepNet(nn.Module):
    """A deep plain CNN: ResNet-20's layout (He et al., 2015) with the shortcuts left out.

    A stem convolution, three stages of ``blocks`` pairs of 3x3 convolutions, global pooling and
    one linear layer: ``6 * blocks + 2`` layers with weights (20 for the default 3). With the
    defaults (width w = 16, grayscale): (1, 32, 32) -> stem -> (16, 32, 32) -> stage1 ->
    (16, 32, 32) -> stage2 -> (32, 16, 16) -> stage3 -> (64, 8, 8) -> pool -> linear 10.

    It is built to show why ResNet exists. Without shortcuts or batch norm, each layer scales
    the gradient on its way back by roughly the same factor, so at the first layers it has
    faded by orders of magnitude (the *vanishing gradient*) and they barely learn.
    ``residual=True`` adds ResNet's shortcuts (the same depth: ResNet-20), which carry the
    gradient straight back; ``batch_norm=True`` rescales every layer's output instead.

    Args:
        num_classes: Size of the output layer.
        in_channels: 1 for grayscale digits, 3 for colour images.
        width: Channels w of the first stage; the others have 2w and 4w.
        blocks: Pairs of convolutions per stage.
        activation: Any name in :data:`ACTIVATIONS`.
        batch_norm: Batch norm after every convolution (off by default).
        residual: ResNet's shortcut around every pair of convolutions (off by default).
        dropout: Dropout before the output layer (``drop``) when > 0.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 16,
        blocks: int = 3,
        activation: str = "relu",
        batch_norm: bool = False,
        residual: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("stem", _stem(in_channels, width, activation, batch_norm))
        channels = width
        for stage, (out, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2)), 1):
            for index in range(1, blocks + 1):
                block = BasicBlock(
                    channels, out, stride if index == 1 else 1, activation, batch_norm, residual
                )
                self.features.add_module(f"stage{stage}_{index}", block)
                channels = out
        self.classifier = _pooled_head(channels, num_classes, dropout)

    def forward(self, x):
        return self.classifier(self.features(x))


class DepthwiseSeparable(nn.Module):
    """The building block of MobileNet (Howard et al., 2017): a 3x3 convolution in two steps.

    ``depthwise`` filters each channel alone (a 3x3 kernel per channel, ``groups=C``), then
    ``pointwise`` (1x1) mixes the channels; each is followed by batch norm and ReLU6. It does
    nearly what one K x K convolution from C to C' channels does, with far fewer weights:
    ``K*K*C + C*C'`` instead of ``K*K*C*C'`` (for K = 3, C = 32, C' = 64: 2,336 vs 18,432).

    (C, H, W) -> (C', H / stride, W / stride).

    Args:
        in_channels: Channels C of the input.
        out_channels: Channels C' of the output.
        stride: Stride of the depthwise convolution (2 halves the map).
        activation: Any name in :data:`ACTIVATIONS` (MobileNet uses ReLU6).
        batch_norm: Off replaces both batch norms by identities (the convolutions get a bias).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        activation: str = "relu6",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        bias = not batch_norm
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride, padding=1, groups=in_channels, bias=bias
        )
        self.bn1 = _norm(in_channels, batch_norm, MOBILE_BN_MOMENTUM)
        self.relu1 = ACTIVATIONS[activation].module()
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
        self.bn2 = _norm(out_channels, batch_norm, MOBILE_BN_MOMENTUM)
        self.relu2 = ACTIVATIONS[activation].module()

    def forward(self, x):
        x = self.relu1(self.bn1(self.depthwise(x)))
        return self.relu2(self.bn2(self.pointwise(x)))


class SmallMobileNet(nn.Module):
    """A small MobileNet for 32x32 input: a stem and three depthwise separable blocks.

    With the defaults (width w = 16, grayscale):
    (1, 32, 32) -> stem conv 3x3 -> (16, 32, 32) -> block1 -> (32, 32, 32)
    -> block2 (stride 2) -> (64, 16, 16) -> block3 (stride 2) -> (128, 8, 8)
    -> global average pool -> (128, 1, 1) -> flatten 128 -> linear 10. The registry's
    ``mobilenet_small`` uses w = 32 (up to 256 channels): depthwise blocks learn more slowly than
    full convolutions, and the wider net reaches ~75% on ``digits`` in two epochs.

    Args:
        num_classes: Size of the output layer.
        in_channels: 1 for grayscale digits, 3 for colour images.
        width: Channels w of the stem; the blocks have 2w, 4w and 8w.
        activation: Any name in :data:`ACTIVATIONS` (MobileNet uses ReLU6).
        batch_norm: Off removes every batch norm (see :class:`DepthwiseSeparable`).
        dropout: Dropout before the output layer (``drop``) when > 0.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 16,
        activation: str = "relu6",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        stem = _stem(in_channels, width, activation, batch_norm, MOBILE_BN_MOMENTUM)
        self.features.add_module("stem", stem)
        channels = width
        for block, (out, stride) in enumerate(((2 * width, 1), (4 * width, 2), (8 * width, 2)), 1):
            unit = DepthwiseSeparable(channels, out, stride, activation, batch_norm)
            self.features.add_module(f"block{block}", unit)
            channels = out
        self.classifier = _pooled_head(channels, num_classes, dropout)

    def forward(self, x):
        return self.classifier(self.features(x))
