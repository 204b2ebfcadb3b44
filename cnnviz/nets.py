"""Our own small architectures, written as plain ``nn.Module`` s for teaching.

Each layer has a short, stable name (``c1``, ``s2``, ...) so that pages, tests and checkpoints
can refer to it. torchvision builds the large ImageNet models (see :mod:`cnnviz.models`).
"""

from __future__ import annotations

from typing import Literal

from torch import nn

__all__ = ["LeNet5", "TinyVGG"]

PoolKind = Literal["max", "avg"]


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
