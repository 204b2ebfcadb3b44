"""Which layer to explain: the stages of a network, from sharp and local to coarse and semantic.

Choosing the target layer is what users of CAM libraries struggle with most. cnnviz offers one
layer per *stage*: the network's trunk (``model.features`` when it has one, else its top-level
children) traced once, split where the map size changes, keeping the last module of each size
that is not a pooling layer. The last stage is the default, which gives the usual picks:
``layer4`` for ResNet, ``inception5b`` for GoogLeNet, the last ReLU of ``features`` for VGG and
AlexNet (relu5_3 for VGG-16, as in the Grad-CAM paper), ``features.norm5`` for DenseNet and the
last block of ``features`` for MobileNet and EfficientNet.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import torch
from torch import nn

from cnnviz.errors import InputError
from cnnviz.models import Model
from cnnviz.probe import layer_kind

__all__ = ["CamLayer", "cam_layers", "default_cam_layer", "map_layers"]


@dataclass(frozen=True, slots=True)
class CamLayer:
    """A layer whose output is a stack of maps, a candidate for Grad-CAM.

    Attributes:
        name: Module name (``"layer4"``, ``"features.29"``).
        type_name: Class of the module (``"Sequential"``, ``"ReLU"``).
        shape: Output shape (C, H, W) for the model's own input size.
        stage: Whether it ends a stage (one of the picks offered first).
    """

    name: str
    type_name: str
    shape: tuple[int, int, int]
    stage: bool

    def describe(self) -> str:
        """Short text for a picker, e.g. ``"layer4 · 512 x 7 x 7"``."""
        return f"{self.name} · {' x '.join(map(str, self.shape))}"


_TRACES: weakref.WeakKeyDictionary[nn.Module, tuple[CamLayer, ...]] = weakref.WeakKeyDictionary()
_TRACES_LOCK = threading.Lock()


def _trunk(module: nn.Module) -> tuple[str, dict[str, nn.Module]]:
    features = getattr(module, "features", None)
    if isinstance(features, nn.Sequential):
        return "features.", dict(features.named_children())
    return "", dict(module.named_children())


def _trace(model: Model) -> tuple[CamLayer, ...]:
    """Every module with a 4-D output, in the order it finished, and which of them end a stage."""
    module = model.module
    names = {m: n for n, m in module.named_modules() if n}
    shapes: dict[str, tuple[int, int, int]] = {}
    order: list[str] = []

    def hook(m: nn.Module, args: tuple, output: object) -> None:
        name = names[m]
        if isinstance(output, torch.Tensor) and output.dim() == 4 and name not in shapes:
            shapes[name] = tuple(output.shape[1:])  # type: ignore[assignment]
            order.append(name)

    x = torch.zeros(1, *model.input_size)
    training = [(m, m.training) for m in module.modules()]
    with model.lock:
        handles = [m.register_forward_hook(hook) for m in names]
        try:
            module.eval()
            with torch.inference_mode():
                module(x)
        finally:
            for handle in handles:
                handle.remove()
            for m, mode in training:
                m.training = mode
    prefix, trunk = _trunk(module)
    by_name = {f"{prefix}{n}": m for n, m in trunk.items()}
    stages: list[str] = []
    stage_size: tuple[int, ...] | None = None
    for name in (n for n in order if n in by_name and shapes[n][1] > 1):
        if layer_kind(by_name[name]) == "pool":
            continue  # a pooling layer only shrinks the maps of the stage before it
        size = shapes[name][1:]
        if stages and size == stage_size:
            stages[-1] = name
        else:
            stages.append(name)
            stage_size = size
    picks = set(stages)
    modules = dict(module.named_modules())
    return tuple(CamLayer(n, type(modules[n]).__name__, shapes[n], n in picks) for n in order)


def map_layers(model: Model) -> tuple[CamLayer, ...]:
    """Every module of ``model`` whose output is a stack of maps, in the order they run.

    Traced once per module with a zero image (under the model's lock, hooks removed after).

    Args:
        model: A :class:`cnnviz.Model`.

    Returns:
        The layers; those with ``stage=True`` are the per-stage picks.
    """
    with _TRACES_LOCK:
        found = _TRACES.get(model.module)
    if found is None:
        found = _trace(model)
        with _TRACES_LOCK:
            _TRACES[model.module] = found
    return found


def cam_layers(model: Model) -> tuple[CamLayer, ...]:
    """The per-stage picks for Grad-CAM, early (sharp, local) to late (coarse, semantic)."""
    stages = tuple(x for x in map_layers(model) if x.stage)
    if stages:
        return stages
    # No trunk of maps (a vision transformer, a graph converted from ONNX): the last output
    # made by a convolution, not a 4-D tensor inside attention (heads x tokens x features).
    layers = map_layers(model)
    modules = dict(model.module.named_modules())
    convs = [x for x in layers if any(isinstance(m, nn.Conv2d) for m in modules[x.name].modules())]
    return (convs or list(layers))[-1:]


def default_cam_layer(model: Model) -> str:
    """The layer Grad-CAM uses when none is given: the last stage (see the module docstring).

    Raises:
        InputError: The model has no layer whose output is a map.
    """
    picks = cam_layers(model)
    if not picks:
        raise InputError(f"{model.spec.label} has no convolutional maps for Grad-CAM to use.")
    return picks[-1].name


def find_layer(model: Model, name: str | None) -> tuple[str, nn.Module]:
    """The module called ``name`` (default: :func:`default_cam_layer`), checked to output maps.

    Raises:
        InputError: No such module, or its output is not a stack of maps.
    """
    name = name or default_cam_layer(model)
    known = {x.name for x in map_layers(model)}
    if name not in known:
        picks = ", ".join(x.name for x in cam_layers(model))
        raise InputError(
            f"'{name}' is not a layer of {model.spec.label} with maps to explain; "
            f"choose one such as {picks}."
        )
    return name, model.module.get_submodule(name)
