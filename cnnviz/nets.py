"""Our own small architectures, written as plain ``nn.Module`` s for teaching.

Each layer has a short, stable name (``c1``, ``s2``, ...) so that pages, tests and checkpoints
can refer to it. ``SmallResNet`` and ``SmallMobileNet`` show the two ideas of ResNet and MobileNet
(residual blocks, depthwise separable convolutions) at digit size, quick to train on a laptop.
torchvision builds the large ImageNet models (see :mod:`cnnviz.models`).
"""

from __future__ import annotations

from typing import Literal

from torch import nn

__all__ = ["BasicBlock", "DepthwiseSeparable", "LeNet5", "SmallMobileNet", "SmallResNet", "TinyVGG"]

PoolKind = Literal["max", "avg"]
# Batch-norm momentum of SmallMobileNet: a small data set gives few steps per epoch, and with
# PyTorch's default 0.1 the running statistics used at evaluation lag far behind the fast-changing
# depthwise weights (validation accuracy near chance after the first epochs).
MOBILE_BN_MOMENTUM = 0.3


def _pool(kind: PoolKind) -> nn.Module:
    return nn.MaxPool2d(2, 2) if kind == "max" else nn.AvgPool2d(2, 2)


class LeNet5(nn.Module):
    """LeNet-5 in the 1998 layout (LeCun et al.), with a modern activation by default.

    Input (C, 32, 32) -> C1 conv 6@5x5 -> (6, 28, 28) -> S2 pool 2x2 -> (6, 14, 14)
    -> C3 conv 16@5x5 -> (16, 10, 10) -> S4 pool 2x2 -> (16, 5, 5) -> C5 FC 120 -> F6 FC 84
    -> output FC 10. Every convolution uses no padding, so each 5x5 kernel shrinks the map by 4:
    ``out = in - 5 + 1``.

    Args:
        num_classes: Size of the output layer.
        in_channels: 1 for grayscale digits, 3 for colour images.
        activation: ``"relu"`` (trains quickly) or ``"tanh"`` (as in 1998).
        pool: ``"max"`` or ``"avg"`` (the 1998 paper's subsampling is closest to average).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: Literal["relu", "tanh"] = "relu",
        pool: PoolKind = "max",
    ) -> None:
        super().__init__()
        act = nn.ReLU if activation == "relu" else nn.Tanh
        self.features = nn.Sequential()
        self.features.add_module("c1", nn.Conv2d(in_channels, 6, kernel_size=5))
        self.features.add_module("act1", act())
        self.features.add_module("s2", _pool(pool))
        self.features.add_module("c3", nn.Conv2d(6, 16, kernel_size=5))
        self.features.add_module("act3", act())
        self.features.add_module("s4", _pool(pool))
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("c5", nn.Linear(16 * 5 * 5, 120))
        self.classifier.add_module("act5", act())
        self.classifier.add_module("f6", nn.Linear(120, 84))
        self.classifier.add_module("act6", act())
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
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential()
        channels = in_channels
        for block in (1, 2):
            for conv in (1, 2):
                self.features.add_module(
                    f"conv{block}_{conv}", nn.Conv2d(channels, width, kernel_size=3)
                )
                self.features.add_module(f"relu{block}_{conv}", nn.ReLU())
                channels = width
            self.features.add_module(f"pool{block}", nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("fc", nn.Linear(width * 13 * 13, num_classes))

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
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential()
            self.shortcut.add_module(
                "conv", nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
            )
            self.shortcut.add_module("bn", nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
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
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        stem = nn.Sequential()
        stem.add_module("conv", nn.Conv2d(in_channels, width, 3, padding=1, bias=False))
        stem.add_module("bn", nn.BatchNorm2d(width))
        stem.add_module("relu", nn.ReLU())
        self.features = nn.Sequential()
        self.features.add_module("stem", stem)
        channels = width
        for stage, (out, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2)), 1):
            self.features.add_module(f"stage{stage}", BasicBlock(channels, out, stride))
            channels = out
        self.classifier = nn.Sequential()
        self.classifier.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("fc", nn.Linear(channels, num_classes))

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
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride, padding=1, groups=in_channels, bias=False
        )
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=MOBILE_BN_MOMENTUM)
        self.relu1 = nn.ReLU6()
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=MOBILE_BN_MOMENTUM)
        self.relu2 = nn.ReLU6()

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
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        stem = nn.Sequential()
        stem.add_module("conv", nn.Conv2d(in_channels, width, 3, padding=1, bias=False))
        stem.add_module("bn", nn.BatchNorm2d(width, momentum=MOBILE_BN_MOMENTUM))
        stem.add_module("relu", nn.ReLU6())
        self.features = nn.Sequential()
        self.features.add_module("stem", stem)
        channels = width
        for block, (out, stride) in enumerate(((2 * width, 1), (4 * width, 2), (8 * width, 2)), 1):
            self.features.add_module(f"block{block}", DepthwiseSeparable(channels, out, stride))
            channels = out
        self.classifier = nn.Sequential()
        self.classifier.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("fc", nn.Linear(channels, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
