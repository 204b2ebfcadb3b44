"""The model registry: name -> :class:`ModelSpec`, and :func:`load_model` -> :class:`Model`.

A :class:`Model` carries everything a page needs to use a network honestly: the module (in eval
mode), how to turn an image into its input (size, channels, normalization), its class labels, and
a sentence that says where its weights came from.

Weights (the ``weights`` argument of :func:`load_model`):

* ``"pretrained"``: torchvision's ImageNet weights from the local torch hub cache, downloaded with
  progress when they are missing and the network allows; otherwise a :class:`ModelError` that says
  how to get them. For our small nets, the weights bundled in ``cnnviz/assets``.
* ``"random"``: untrained (seeded, so the same every time).
* a path or the bytes of a checkpoint (a state dict, loaded with ``weights_only=True``).
* ``"auto"`` (default): pretrained when already on this computer (never downloads), else random.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.nets import ACTIVATIONS, LeNet5, SmallMobileNet, SmallResNet, TinyVGG, Variant

__all__ = [
    "MODELS",
    "Model",
    "ModelSpec",
    "ProgressCallback",
    "build_module",
    "download_weights",
    "load_model",
    "model_names",
    "pretrained_available",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DIGIT_LABELS = tuple(str(d) for d in range(10))
# The ten Tiny ImageNet classes of the CNN Explainer's TinyVGG.
TINYVGG_LABELS = (
    "lifeboat", "ladybug", "pizza", "bell pepper", "school bus",
    "koala", "espresso", "red panda", "orange", "sports car",
)  # fmt: skip
DOWNLOAD_TIMEOUT_S = 20.0
ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while weights download."""


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
            "The small VGG-style network of the CNN Explainer: 3x3 convolutions, two blocks.",
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
        _tv("alexnet", "AlexNet", 2012, "Deep CNN with ReLU and dropout that won ImageNet 2012."),
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
        lock: Serializes hook and gradient work on :attr:`module` across sessions.
    """

    module: nn.Module
    spec: ModelSpec
    labels: tuple[str, ...]
    weights: str
    weights_source: str
    key: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelError(f"There is no model called '{name}'. Choose one of: {known}.") from None


def _tv_weights(spec: ModelSpec) -> Any:
    return torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT


def _labels(spec: ModelSpec) -> tuple[str, ...]:
    if spec.name in ("lenet5", "resnet_small", "mobilenet_small"):
        return DIGIT_LABELS
    if spec.name == "tinyvgg":
        return TINYVGG_LABELS
    return tuple(_tv_weights(spec).meta["categories"])


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
    return _build(_spec(name), num_classes, seed, variant)


def _build(
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
            return TinyVGG(num_classes=num_classes or 10, **changes)
        if spec.name == "resnet_small":
            return SmallResNet(num_classes=num_classes or 10, in_channels=spec.channels, **changes)
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


def _hub_file(spec: ModelSpec) -> Path:
    url = _tv_weights(spec).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _asset(spec: ModelSpec) -> Path | None:
    if spec.asset is None:
        return None
    path = Path(str(resources.files("cnnviz") / "assets" / spec.asset))
    return path if path.is_file() else None


def pretrained_available(name: str) -> bool:
    """Whether pretrained weights for ``name`` are on this computer (no network needed)."""
    spec = _spec(name)
    if spec.is_torchvision:
        return _hub_file(spec).is_file()
    return _asset(spec) is not None


def download_weights(name: str, progress: ProgressCallback | None = None) -> Path:
    """Put torchvision's pretrained weights for ``name`` into the torch hub cache.

    Streams to a temporary file beside the target, checks the sha256 prefix that torchvision
    writes into the file name, then renames, so an interrupted download never leaves a broken
    file behind.

    Args:
        name: A torchvision architecture of the registry (``"resnet18"``).
        progress: Called with (bytes done, total bytes or None) as data arrives.

    Returns:
        The path of the cached weights file.

    Raises:
        ModelError: Unknown or non-torchvision name, no network, or a corrupt download.
    """
    spec = _spec(name)
    if not spec.is_torchvision:
        raise ModelError(f"{spec.label} has no weights to download: they ship with cnnviz.")
    target = _hub_file(spec)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = _tv_weights(spec).url
    try:
        _fetch(url, target, progress)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        log.info("download of %s failed: %s", url, error)
        raise ModelError(
            f"Pretrained weights for {spec.label} are not on this computer and could not be "
            f"downloaded (no network?). On a connected machine run "
            f"`cnnviz download-weights {name}` and copy {target.name} into {target.parent}, "
            f"or choose random weights or a checkpoint file."
        ) from error
    return target


def _fetch(url: str, target: Path, progress: ProgressCallback | None) -> None:
    expected = re.search(r"-([a-f0-9]{6,})\.", target.name)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        total = response.headers.get("Content-Length")
        total_bytes = int(total) if total else None
        done = 0
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            try:
                while chunk := response.read(1 << 16):
                    tmp.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total_bytes)
                tmp.close()
                if expected and not digest.hexdigest().startswith(expected.group(1)):
                    raise ModelError(
                        f"The download of {target.name} is corrupt (checksum mismatch). Try again."
                    )
                os.replace(tmp.name, target)
            finally:
                if os.path.exists(tmp.name):
                    os.unlink(tmp.name)


def _read_checkpoint(source: str | os.PathLike[str] | bytes) -> tuple[dict, dict]:
    """Read a state dict (and optional metadata) without ever unpickling code."""
    try:
        if isinstance(source, bytes):
            data = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
        else:
            data = torch.load(Path(source), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"The checkpoint file {source} does not exist.") from None
    except Exception as error:  # torch raises many types for untrusted or broken files
        log.info("checkpoint refused: %r", error)
        raise ModelError(
            "This file is not a plain PyTorch weights file that cnnviz can load safely (it may be "
            "corrupt, or need to run code to load, which cnnviz refuses). Save the model with "
            "torch.save(model.state_dict(), path)."
        ) from error
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        data = data["state_dict"]
    else:
        meta = {}
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelError(
            "This checkpoint does not hold a state dict (a mapping of weight tensors)."
        )
    return data, meta


def _checkpoint_classes(spec: ModelSpec, state: dict, meta: dict) -> tuple[int, tuple[str, ...]]:
    default = _labels(spec)
    labels = meta.get("classes")
    if isinstance(labels, list | tuple) and all(isinstance(c, str) for c in labels):
        return len(labels), tuple(labels)
    return len(default), default


def _checkpoint_variant(meta: dict) -> Variant | None:
    """The variant a checkpoint was trained with (its metadata), or ``None``."""
    saved = meta.get("variant")
    if not isinstance(saved, dict):
        return None
    activation = saved.get("activation")
    batch_norm = saved.get("batch_norm")
    dropout = saved.get("dropout", 0.0)
    if (
        (activation is not None and activation not in ACTIVATIONS)
        or (batch_norm is not None and not isinstance(batch_norm, bool))
        or not isinstance(dropout, int | float)
        or not 0 <= dropout < 1
    ):
        raise ModelError("This checkpoint's metadata names a network variant cnnviz does not know.")
    return Variant(activation, batch_norm, float(dropout))


def _load_checkpoint(spec: ModelSpec, source: str | os.PathLike[str] | bytes) -> Model:
    state, meta = _read_checkpoint(source)
    num_classes, labels = _checkpoint_classes(spec, state, meta)
    module = _build(spec, num_classes=num_classes, variant=_checkpoint_variant(meta))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        missing = [k for k in module.state_dict() if k not in state]
        extra = [k for k in state if k not in module.state_dict()]
        detail = (
            f"missing {len(missing)} weights (e.g. '{missing[0]}')"
            if missing
            else f"{len(extra)} weights it does not have (e.g. '{extra[0]}')"
            if extra
            else "weights of the wrong shape"
        )
        raise ModelError(
            f"This checkpoint does not fit {spec.label}: {detail}. Was it saved from another "
            "architecture?"
        ) from error
    digest = hashlib.sha256(
        b"".join(
            t.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes() for t in state.values()
        )
    ).hexdigest()[:12]
    where = (
        f"Weights from the checkpoint {source}."
        if isinstance(source, str | os.PathLike)
        else "Weights from an uploaded checkpoint file."
    )
    return Model(module.eval(), spec, labels, "checkpoint", where, f"{spec.name}:ckpt:{digest}")


def _load_pretrained(spec: ModelSpec, progress: ProgressCallback | None) -> Model:
    if not spec.is_torchvision:
        asset = _asset(spec)
        if asset is None:
            raise ModelError(
                f"No trained weights for {spec.label} ship with this version of cnnviz. "
                "Choose random weights, or train it on the Training page."
            )
        model = _load_checkpoint(spec, asset)
        _, meta = _read_checkpoint(asset)
        history = meta.get("history") or [{}]
        accuracy = history[-1].get("val_accuracy")
        dataset = meta.get("config", {}).get("dataset", "its data set")
        score = f", {accuracy:.1%} validation accuracy" if isinstance(accuracy, float) else ""
        return Model(
            model.module, spec, model.labels, "pretrained",
            f"Trained on {dataset} by cnnviz{score} (bundled: {asset.name}).",
            f"{spec.name}:bundled",
        )  # fmt: skip
    download_weights(spec.name, progress)
    weights = _tv_weights(spec)
    try:
        module = torchvision.models.get_model(spec.torchvision_name, weights=weights)
    except Exception as error:  # a truncated or foreign file in the cache
        raise ModelError(
            f"The cached weights file {_hub_file(spec)} for {spec.label} is damaged. Delete it "
            "and download it again."
        ) from error
    return Model(
        module.eval(), spec, _labels(spec), "pretrained",
        f"Pretrained on ImageNet ({weights.name}, torchvision).", f"{spec.name}:{weights.name}",
    )  # fmt: skip


def _load_random(spec: ModelSpec, reason: str = "") -> Model:
    sentence = "Random, untrained weights: the predictions mean nothing."
    return Model(
        _build(spec).eval(), spec, _labels(spec), "random",
        f"{sentence} {reason}".strip(), f"{spec.name}:random",
    )  # fmt: skip


def load_model(
    name: str,
    weights: str | os.PathLike[str] | bytes = "auto",
    progress: ProgressCallback | None = None,
) -> Model:
    """Build a registry model with the chosen weights, in eval mode.

    Args:
        name: A registry name (see :func:`model_names`).
        weights: ``"auto"``, ``"pretrained"``, ``"random"``, a checkpoint path, or its bytes.
        progress: Download progress callback for ``"pretrained"`` (see :data:`ProgressCallback`).

    Returns:
        The :class:`Model`.

    Raises:
        ModelError: Unknown name, weights unavailable, or a checkpoint that is unsafe, corrupt or
            made for another architecture.
    """
    spec = _spec(name)
    if isinstance(weights, bytes) or (
        isinstance(weights, os.PathLike | str) and weights not in ("auto", "pretrained", "random")
    ):
        return _load_checkpoint(spec, weights)
    if weights == "random":
        return _load_random(spec)
    if weights == "pretrained":
        return _load_pretrained(spec, progress)
    if pretrained_available(name):
        return _load_pretrained(spec, progress)
    hint = (
        "Pretrained weights are not on this computer: choose 'pretrained' to download them."
        if spec.is_torchvision
        else ""
    )
    return _load_random(spec, hint)
