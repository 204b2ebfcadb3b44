"""The :class:`Model`: a module with its spec, labels and weights, and how it sees an image."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.models.registry import ModelSpec


@dataclass(frozen=True, slots=True, eq=False)
class Model:
    """A network ready to look at.

    Attributes:
        module: The ``nn.Module``, in eval mode. Shared: never leave hooks on it, and hold
            :attr:`lock` for any work that registers hooks or needs gradients.
        spec: The registry entry (input size, channels, normalization).
        labels: One name per output class.
        weights: ``"pretrained"``, ``"random"`` or ``"checkpoint"``.
        weights_source: A sentence saying where the weights came from, for the page.
        key: A stable id of this model and its weights, for cache keys.
        labels_source: Where the class names came from when that is worth saying (a labels
            file, the checkpoint, or numbered because nobody named them); ``""`` otherwise.
        lock: Serializes hook and gradient work on :attr:`module` across sessions.
    """

    module: nn.Module
    spec: ModelSpec
    labels: tuple[str, ...]
    weights: str
    weights_source: str
    key: str
    labels_source: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def from_module(module: nn.Module, input_size=(3, 224, 224), **options) -> Model:
        """Any image classifier ``nn.Module`` as a Model: see :func:`cnnviz.models.own.from_module`
        (``mean``, ``std``, ``labels``, ``label``, ``resize``)."""
        from cnnviz.models.own import from_module

        return from_module(module, input_size, **options)

    @property
    def name(self) -> str:
        """Registry name of the architecture."""
        return self.spec.name

    @property
    def input_size(self) -> tuple[int, int, int]:
        """Input shape (C, H, W)."""
        return (self.spec.channels, self.spec.input_size, self.spec.input_size)

    @property
    def trained(self) -> bool:
        """False for random weights: predictions then mean nothing."""
        return self.weights != "random"

    def view(self, image: Image.Image) -> Image.Image:
        """The image as the network sees it: its mode, resized and center-cropped, unnormalized.

        Args:
            image: Any PIL image (``cnnviz.load_image`` output).

        Returns:
            A PIL image of size ``input_size`` in mode ``"L"`` or ``"RGB"``.
        """
        mode = "L" if self.spec.channels == 1 else "RGB"
        image = image.convert(mode)
        size = self.spec.input_size
        if self.spec.resize is None:
            return image.resize((size, size), Image.Resampling.BILINEAR)
        # Crop and resize in one step (PIL's ``box``): resizing the shorter side first would
        # build a huge intermediate for extreme aspect ratios (a 100000 x 1 image).
        w, h = image.size
        crop = size * min(w, h) / self.spec.resize
        left, top = (w - crop) / 2, (h - crop) / 2
        return image.resize(
            (size, size), Image.Resampling.BILINEAR, box=(left, top, left + crop, top + crop)
        )

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """Turn an image into the network's input batch.

        ``x = (pixel / 255 - mean) / std`` per channel, after :meth:`view`.

        Returns:
            A float tensor of shape (1, C, H, W).
        """
        pixels = np.asarray(self.view(image), dtype=np.float32) / 255.0
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        mean = np.asarray(self.spec.mean, dtype=np.float32)
        std = np.asarray(self.spec.std, dtype=np.float32)
        x = (pixels - mean) / std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
