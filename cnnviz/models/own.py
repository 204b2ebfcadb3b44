"""Your own network: any ``nn.Module`` that classifies images, as a :class:`Model`.

:func:`from_module` wraps a module (from a notebook, a factory, an ONNX file, timm) with what the
pages need: its input size and normalization, its class names, and a check that it is a CNN on
images (a trial forward pass on a blank image, and at least one 2-D convolution).
:func:`from_factory` builds one from ``package.module:factory`` (the operator's installed code,
never an upload), as ``cnnviz run --model`` does.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.models.checkpoints import read_checkpoint
from cnnviz.models.labels import Labels, numbered_labels, read_labels
from cnnviz.models.model import Model
from cnnviz.models.registry import IMAGENET_MEAN, IMAGENET_STD, ModelSpec

IMAGENET_CLASSES = 1000
MODELS_ENV = "CNNVIZ_MODELS"
"""The operator's own models for every session of a server (``cnnviz run --model`` sets it): a
JSON list of ``{"target": ..., "weights": ..., "labels": ...}``."""


@dataclass(frozen=True, slots=True)
class OperatorModel:
    """A model the operator added to the server with ``cnnviz run --model``.

    Attributes:
        target: ``package.module:factory`` or ``timm:<name>``; also its name in the sidebar.
        weights: A state dict file to load into it, or ``None``.
        labels: A labels file, or ``None``.
    """

    target: str
    weights: str | None = None
    labels: str | None = None

    def build(self) -> Model:
        """The model (see :func:`from_factory`)."""
        return from_factory(self.target, self.weights, self.labels)


def operator_models() -> tuple[OperatorModel, ...]:
    """The operator's models named in :data:`MODELS_ENV` (none when it is unset or invalid)."""
    try:
        entries = json.loads(os.environ.get(MODELS_ENV) or "[]")
        return tuple(OperatorModel(**entry) for entry in entries)
    except (ValueError, TypeError):
        return ()


def operator_env(models: Sequence[OperatorModel]) -> str:
    """The value of :data:`MODELS_ENV` that hands ``models`` to a server process."""
    return json.dumps([{"target": m.target, "weights": m.weights, "labels": m.labels}
                       for m in models])  # fmt: skip


def _imagenet_labels() -> tuple[str, ...]:
    import torchvision  # its ImageNet class names ship inside it: no download

    return tuple(torchvision.models.ResNet18_Weights.DEFAULT.meta["categories"])


def _check_size(input_size: Sequence[int]) -> tuple[int, int]:
    """(channels, side) of an image input, or a sentence on why it is not one cnnviz shows."""
    if len(input_size) != 3 or not all(isinstance(v, int) and v > 0 for v in input_size):
        raise ModelError(
            f"input_size must be (C, H, W), three positive numbers; got {tuple(input_size)}."
        )
    channels, height, width = input_size
    if channels not in (1, 3):
        raise ModelError(
            f"This model takes {channels} input channels: cnnviz shows networks on grayscale (1) "
            "or colour (3) images."
        )
    if height != width or not 8 <= height <= 1024:
        raise ModelError(
            f"cnnviz shows square inputs of 8 to 1024 pixels; this model's is {height} x {width}. "
            "Give input_size=(C, S, S)."
        )
    return channels, height


def _class_count(module: nn.Module, shape: tuple[int, int, int], label: str) -> int:
    """Run a blank image through the module: it must give one score per class."""
    try:
        with torch.inference_mode():
            out = module(torch.zeros(1, *shape))
    except Exception as error:  # any module may raise anything on a wrong input
        raise ModelError(
            f"{label} does not run on an image of shape {(1, *shape)} ({type(error).__name__}): "
            "is its input an image of that size?"
        ) from error
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        what = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(
            f"{label} returns {what} for one image, not one score per class (1, K): cnnviz "
            "shows image classifiers."
        )
    return int(out.shape[1])


def _names(
    labels: Labels | Sequence[str] | None, count: int, label: str
) -> tuple[tuple[str, ...], str]:
    if labels is None:
        if count == IMAGENET_CLASSES:
            return _imagenet_labels(), "1000 outputs: ImageNet's class names assumed."
        return numbered_labels(count), (
            f"Class names unknown: numbered class 0 … class {count - 1} (give labels to name them)."
        )
    names, origin = (labels.names, labels.origin) if isinstance(labels, Labels) else (
        tuple(str(x) for x in labels), "the labels given")  # fmt: skip
    if len(names) != count:
        raise ModelError(f"{origin} names {len(names)} classes, but {label} has {count} outputs.")
    return names, f"Class names from {origin}."


def _digest(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:12]


def from_module(
    module: nn.Module,
    input_size: Sequence[int] = (3, 224, 224),
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    labels: Labels | Sequence[str] | None = None,
    **about: str | int | None,
) -> Model:
    """Any image classifier ``nn.Module`` as a :class:`Model`, on which every cnnviz call works.

    The input is ``x = (pixel / 255 - mean) / std`` per channel after resizing the image to the
    input size (or, with ``resize=R``, its shorter side to R and a centre crop, as ImageNet
    models are evaluated). The default Grad-CAM layer is found generically (the last stage of
    maps before the head, see :func:`cnnviz.cam_layers`).

    Args:
        module: The network; put in eval mode and shared (never left with hooks by cnnviz).
        input_size: (C, H, W) with C 1 or 3 and H == W.
        mean: Per-channel normalization mean (default: ImageNet's for 3 channels, 0.5 for 1).
        std: Per-channel standard deviation (default: ImageNet's, or 0.5).
        labels: One class name per output, or :func:`read_labels`' result (default: ImageNet's
            for 1000 outputs, else ``"class 0"`` ...).
        **about: Optional ``name`` (an id, default ``"custom"``), ``label`` (shown on the
            pages, default the module's class name), ``summary`` (one sentence), ``resize``
            (shorter side before the centre crop), ``source`` (where the weights came from).

    Returns:
        The :class:`Model` (``weights="own"``).

    Raises:
        ModelError: Not an image input (channels, size), a module that fails on a blank image
            or does not return one score per class, no 2-D convolution, or labels that do not
            fit the outputs.
    """
    if not isinstance(module, nn.Module):
        raise ModelError(f"from_module needs a torch.nn.Module, not {type(module).__name__}.")
    channels, side = _check_size(input_size)
    label = str(about.get("label") or type(module).__name__)
    grey = channels == 1
    mean = tuple(float(v) for v in (mean or ((0.5,) if grey else IMAGENET_MEAN)))
    std = tuple(float(v) for v in (std or ((0.5,) if grey else IMAGENET_STD)))
    if len(mean) != channels or len(std) != channels or min(std) <= 0:
        raise ModelError(f"mean and std need {channels} value(s) each, std above 0.")
    if not any(isinstance(m, nn.Conv2d) for m in module.modules()):
        raise ModelError(
            f"{label} has no 2-D convolution: cnnviz shows what convolutional networks see "
            "(feature maps, filters, Grad-CAM)."
        )
    module.eval()
    count = _class_count(module, (channels, side, side), label)
    names, note = _names(labels, count, label)
    resize = about.get("resize")
    spec = ModelSpec(
        str(about.get("name") or "custom"), label, 0,
        str(about.get("summary") or "Your own network."), input_size=side, channels=channels,
        mean=mean, std=std, resize=int(resize) if resize else None,
    )  # fmt: skip
    source = str(about.get("source") or f"Your own {label}, with the weights it was given.")
    names_digest = hashlib.sha256(repr(names).encode()).hexdigest()[:8]
    key = f"own:{spec.name}:{_digest(module)}:{names_digest}"
    return Model(module, spec, names, "own", source, key, labels_source=note)


def from_factory(
    target: str,
    weights: str | os.PathLike[str] | None = None,
    labels: str | os.PathLike[str] | None = None,
) -> Model:
    """Build the operator's own model from ``package.module:factory`` (``cnnviz run --model``).

    The factory is called without arguments and returns an ``nn.Module`` (taken to expect a
    3 x 224 x 224 ImageNet-normalized image) or a :class:`Model` (from :func:`from_module`,
    with its own input size and normalization). ``timm:<name>`` builds a timm model instead
    (see :func:`cnnviz.models.timm_models.load_timm`).

    Args:
        target: ``"package.module:factory"`` of installed code, or ``"timm:<name>"``.
        weights: A ``.pt``/``.safetensors`` state dict to load into it (strict).
        labels: A labels file (see :func:`read_labels`).

    Raises:
        ModelError: The factory cannot be imported or fails, or what it builds is no image
            CNN, or the weights do not fit it.
    """
    names = read_labels(labels) if labels is not None else None
    if target.startswith("timm:"):
        from cnnviz.models.timm_models import load_timm

        model = load_timm(target.removeprefix("timm:"), "auto" if weights is None else "random")
    else:
        model = _call_factory(target)
    if weights is None and names is None:
        return model
    module = model.module
    if weights is not None:
        state, _ = read_checkpoint(weights)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ModelError(
                f"The weights in {os.fspath(weights)} do not fit {model.spec.label} ({target})."
            ) from error
    spec = model.spec
    where = f"Weights from {os.fspath(weights)}." if weights is not None else model.weights_source
    return from_module(
        module, model.input_size, spec.mean, spec.std, names or model.labels,
        name=spec.name, label=spec.label, summary=spec.summary, resize=spec.resize, source=where,
    )  # fmt: skip


def _call_factory(target: str) -> Model:
    where, _, attribute = target.partition(":")
    if not where or not attribute.isidentifier():
        raise ModelError(
            f"'{target}' is not of the form package.module:factory (e.g. mynets.zoo:small_cnn)."
        )
    try:
        factory = getattr(importlib.import_module(where), attribute)
    except (ImportError, AttributeError) as error:
        raise ModelError(
            f"Cannot import {target} ({type(error).__name__}: {error}): is the package installed "
            "in the Python that runs cnnviz?"
        ) from error
    try:
        built = factory()
    except Exception as error:  # the operator's code may raise anything
        raise ModelError(
            f"The factory {target} failed to build a model ({type(error).__name__}: {error})."
        ) from error
    if isinstance(built, Model):
        return built
    return from_module(built, name=target, label=attribute, summary=f"Built by {target}.")
