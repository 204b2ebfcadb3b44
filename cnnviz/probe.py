"""One forward pass that records what every layer of a network computes.

:func:`probe` runs the model once on an image with a forward hook on every module, and returns a
:class:`Probe`: the layers in the order they finished computing, each with its output, shape,
parameter count, receptive field and statistics, plus the top-5 predictions.

Receptive field of a unit, on the input image (Araujo et al., 2019, "Computing receptive fields
of convolutional neural networks"): a layer with kernel ``k``, stride ``s`` and dilation ``d``
grows the field by ``(k - 1) * d * jump`` pixels, where ``jump`` is the product of the strides
before it, and multiplies the jump by ``s``::

    size_out = size_in + (k - 1) * d * jump_in        jump_out = jump_in * s

Where branches merge (residual additions, concatenations) the field is that of the widest branch.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.images import image_digest
from cnnviz.models import Model

__all__ = [
    "Geometry",
    "Layer",
    "LayerStats",
    "Prediction",
    "Probe",
    "ReceptiveField",
    "inplace_modules",
    "probe",
    "retain_freed_memory",
]

LayerKind = Literal[
    "input", "conv", "activation", "pool", "norm", "linear", "dropout", "block", "other"
]
TOP_K = 5

_KINDS: tuple[tuple[LayerKind, tuple[type[nn.Module], ...]], ...] = (
    ("conv", (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)),
    ("pool", (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)),
    ("norm", (nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
              nn.InstanceNorm2d)),
    ("activation", (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish,
                    nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.PReLU, nn.Mish, nn.Softmax)),
    ("linear", (nn.Linear,)),
    ("dropout", (nn.Dropout, nn.Dropout2d, nn.AlphaDropout)),
)  # fmt: skip
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# Module instances whose outputs a later in-place operation overwrites (learned on first probe).
_MUTATED: weakref.WeakKeyDictionary[nn.Module, frozenset[str]] = weakref.WeakKeyDictionary()
_ANATOMY: weakref.WeakKeyDictionary[nn.Module, _Anatomy] = weakref.WeakKeyDictionary()
_MUTATED_LOCK = threading.Lock()


def layer_kind(module: nn.Module) -> LayerKind:
    """Classify a module: conv, activation, pool, norm, linear, dropout, block or other."""
    for kind, types in _KINDS:
        if isinstance(module, types):
            return kind
    if type(module).__name__ == "StochasticDepth":
        return "dropout"
    return "block" if any(True for _ in module.children()) else "other"


@dataclass(frozen=True, slots=True)
class ReceptiveField:
    """The input region one unit of a layer depends on.

    Attributes:
        size: Side in input pixels of the square region (it may exceed the image: the padded
            border counts too). ``None`` means the whole image (after global pooling or a
            fully connected layer).
        stride: Input pixels between neighbouring units of this layer (the "jump").
        start: Input pixel (row or column, possibly fractional or outside the image) at the
            centre of the first unit's field; unit ``i`` is centred on ``start + i * stride``.
            Not part of equality (two fields of one size and jump compare equal).
    """

    size: int | None
    stride: int
    start: float = field(default=0.0, compare=False)

    def box(self, row: int, col: int, height: int, width: int) -> tuple[int, int, int, int]:
        """Unit ``(row, col)``'s field on an input of ``height`` x ``width`` pixels, clipped
        to it: ``(top, left, bottom, right)`` with bottom and right exclusive.

        The theoretical receptive field (Araujo et al., 2019): the square of ``size`` pixels
        centred on ``start + row * stride``, ``start + col * stride``; the whole input when
        ``size`` is ``None``.
        """
        if self.size is None:
            return 0, 0, height, width
        half = (self.size - 1) / 2
        top = math.ceil(self.start + row * self.stride - half - 1e-9)
        left = math.ceil(self.start + col * self.stride - half - 1e-9)
        return (
            max(0, top),
            max(0, left),
            min(height, top + self.size),
            min(width, left + self.size),
        )

    def describe(self) -> str:
        """Short text, e.g. ``"14 px, stride 4"`` or ``"whole image"``."""
        if self.size is None:
            return "whole image"
        return f"{self.size} px, stride {self.stride}"


@dataclass(frozen=True, slots=True)
class Geometry:
    """How a convolution or pooling layer slides its window (square settings, in pixels)."""

    kernel: int
    stride: int
    padding: int
    dilation: int = 1
    groups: int = 1
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    @classmethod
    def of(cls, module: nn.Module) -> Geometry | None:
        """The geometry of a Conv2d, MaxPool2d or AvgPool2d module; ``None`` for others."""
        if not isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            return None
        padding = module.padding if not isinstance(module.padding, str) else 0
        return cls(
            kernel=_pair(module.kernel_size),
            stride=_pair(module.stride if module.stride is not None else module.kernel_size),
            padding=_pair(padding),
            dilation=_pair(getattr(module, "dilation", 1)),
            groups=int(getattr(module, "groups", 1)),
            ceil_mode=bool(getattr(module, "ceil_mode", False)),
            count_include_pad=bool(getattr(module, "count_include_pad", True)),
            divisor_override=getattr(module, "divisor_override", None),
        )


@dataclass(frozen=True, slots=True)
class LayerStats:
    """Summary of one layer's output (all channels and positions)."""

    min: float
    max: float
    mean: float
    zero_fraction: float


@dataclass(frozen=True, slots=True)
class Layer:
    """What one layer computed for the probed image.

    Attributes:
        index: Position in execution order (0 is the input).
        name: Module path (``"layer2.0.conv1"``); a module called again gets ``_1``, ``_2``.
        kind: See :func:`layer_kind`.
        type_name: The module class (``"Conv2d"``).
        description: The module's own repr, e.g. ``Conv2d(3, 64, kernel_size=(7, 7), ...)``.
        shape: Output shape without the batch: (C, H, W) for maps, (N,) for vectors.
        params: Learnable parameters of the module (counted once per module).
        receptive_field: Of one output unit on the input image.
        output: The output, read-only, float32, same shape as :attr:`shape`.
        input: The input (read-only), kept for pooling layers only, else ``None``.
        depth: Nesting depth of the module (0 for a child of the model).
        is_leaf: Whether the module has no submodules.
        geometry: Kernel, stride, padding, dilation and groups of conv and pooling layers.
    """

    index: int
    name: str
    kind: LayerKind
    type_name: str
    description: str
    shape: tuple[int, ...]
    params: int
    receptive_field: ReceptiveField
    output: np.ndarray = field(repr=False)
    input: np.ndarray | None = field(default=None, repr=False)
    depth: int = 0
    is_leaf: bool = True
    geometry: Geometry | None = None
    _stats: list[LayerStats] = field(default_factory=list, repr=False, compare=False)

    @property
    def stats(self) -> LayerStats:
        """Min, max, mean and fraction of zeros of the output (computed once, when first asked)."""
        if not self._stats:
            self._stats.append(_stats(self.output))
        return self._stats[0]

    @property
    def is_map(self) -> bool:
        """Whether the output is a stack of 2-D maps (C, H, W)."""
        return len(self.shape) == 3

    @property
    def is_main(self) -> bool:
        """Convolutions, poolings, linear layers and named blocks: the layers worth listing."""
        return self.kind in ("input", "conv", "pool", "linear") or (
            self.kind == "block" and self.type_name not in {"Sequential", "ModuleList"}
        )


@dataclass(frozen=True, slots=True)
class Prediction:
    """One class and its softmax probability."""

    index: int
    label: str
    probability: float


@dataclass(frozen=True, slots=True)
class Probe:
    """Every layer's output for one image, and the predictions.

    Attributes:
        model_key: :attr:`cnnviz.Model.key` of the probed model.
        model_label: Human name of the architecture.
        trained: False when the weights are random (predictions mean nothing).
        weights_source: Where the weights came from, as a sentence.
        image: The image as the network saw it (resized, cropped, unnormalized).
        layers: Input first, then every module in the order it finished.
        predictions: Top-5 classes, most probable first.
        elapsed_ms: Time of the recorded forward pass.
        image_digest: :func:`cnnviz.image_digest` of ``image``.
    """

    model_key: str
    model_label: str
    trained: bool
    weights_source: str
    image: Image.Image = field(repr=False)
    layers: tuple[Layer, ...] = field(repr=False)
    predictions: tuple[Prediction, ...]
    elapsed_ms: float
    image_digest: str = ""

    @property
    def key(self) -> str:
        """An id of this probe (the model's weights and the image it saw), for cache keys."""
        return f"{self.model_key}@{self.image_digest}"

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; raises ``KeyError`` with the known names if absent."""
        for item in self.layers:
            if item.name == name:
                return item
        raise KeyError(f"no layer {name!r}; layers: {[x.name for x in self.layers]}")

    @property
    def names(self) -> tuple[str, ...]:
        """All layer names in order."""
        return tuple(x.name for x in self.layers)

    def pooling_layers(self) -> tuple[Layer, ...]:
        """The pooling layers whose input and output are maps."""
        return tuple(x for x in self.layers if x.kind == "pool" and x.input is not None)

    def pooled_vector(self) -> tuple[Layer, np.ndarray] | None:
        """The global-average-pooling vector and the layer that made it, if the model has one.

        Found as the last pooling output of spatial size 1x1; for models that pool with a
        function call instead of a module (DenseNet, MobileNetV2), the input of the first
        fully connected layer after the last map, when it has one value per channel of that
        map. Models whose classifier reads whole flattened maps (LeNet-5, VGG) have none.
        """
        for item in reversed(self.layers):
            if item.kind == "pool" and item.is_map and item.shape[1:] == (1, 1):
                return item, item.output.reshape(-1)
        maps = [i for i, x in enumerate(self.layers) if x.is_map]
        if not maps:
            return None
        channels = self.layers[maps[-1]].shape[0]
        for item in self.layers[maps[-1] + 1 :]:
            if item.kind == "linear" and item.input is not None:
                vector = item.input.reshape(-1)
                return (item, vector) if vector.size == channels else None
        return None


@dataclass(frozen=True, slots=True)
class _Part:
    """What a probe reports about a module that does not depend on the image."""

    kind: LayerKind
    type_name: str
    description: str
    params: int
    is_leaf: bool
    geometry: Geometry | None


def inplace_modules(model: nn.Module) -> tuple[nn.Module, ...]:
    """The modules of ``model`` that work in place (``inplace=True``), found once per model.

    Code that hooks a model (probes, attribution maps) switches them off for the call, since a
    hook that keeps a tensor would see it change later, and restores them afterwards.
    """
    return _Anatomy.of(model).inplace


@dataclass(frozen=True, slots=True)
class _Anatomy:
    """A model's modules, named and described once (models are not edited after loading)."""

    names: dict[nn.Module, str]
    parts: dict[nn.Module, _Part]
    inplace: tuple[nn.Module, ...]

    @classmethod
    def of(cls, model: nn.Module) -> _Anatomy:
        with _MUTATED_LOCK:
            found = _ANATOMY.get(model)
        if found is not None:
            return found
        names = {m: n for n, m in model.named_modules() if n}
        parts = {}
        for m in names:
            leaf = not any(True for _ in m.children())
            parts[m] = _Part(
                kind=layer_kind(m),
                type_name=type(m).__name__,
                description=repr(m) if leaf else f"{type(m).__name__}(...)",
                params=sum(p.numel() for p in m.parameters()),
                is_leaf=leaf,
                geometry=Geometry.of(m),
            )
        inplace = tuple(m for m in model.modules() if getattr(m, "inplace", None) is True)
        anatomy = cls(names, parts, inplace)
        with _MUTATED_LOCK:
            _ANATOMY[model] = anatomy
        return anatomy


class _Recorder:
    """Forward hooks that record outputs and receptive fields; used under the model's lock."""

    def __init__(self, anatomy: _Anatomy, x: torch.Tensor, clone: frozenset[str]) -> None:
        self.names = anatomy.names
        self.parts = anatomy.parts
        self.calls: dict[str, int] = {}
        self.clone = clone
        self.records: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor | None, int]] = []
        self.fields: dict[int, ReceptiveField] = {x.data_ptr(): ReceptiveField(1, 1)}
        self.largest = ReceptiveField(1, 1)
        self.rf: dict[str, ReceptiveField] = {}
        self.input_side = max(x.shape[-2:])

    def hook(self, module: nn.Module, args: tuple, output: object) -> None:
        if (
            not isinstance(output, torch.Tensor)
            or not args
            or not isinstance(args[0], torch.Tensor)
        ):
            return
        base = self.names[module]
        count = self.calls.get(base, 0)
        self.calls[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        kind = self.parts[module].kind
        rf_in = self.fields.get(args[0].data_ptr(), self.largest)
        if kind == "block":
            rf_out = self.fields.get(output.data_ptr(), self.largest)
        else:
            rf_out = _grow(module, rf_in, args[0], output)
        self._remember(output, rf_out)
        self.rf[name] = rf_out
        kept = output.detach()
        if name in self.clone:
            kept = kept.clone()
        keep_input = kind in ("pool", "linear")
        self.records.append(
            (name, module, kept, args[0].detach() if keep_input else None, kept._version)
        )

    def _remember(self, output: torch.Tensor, rf: ReceptiveField) -> None:
        self.fields[output.data_ptr()] = rf
        # Global context paths (squeeze-and-excitation gates) are left out of the fallback, so
        # a merge after them reports the convolutional field, not "whole image".
        if rf.size is not None and rf.size >= (self.largest.size or 0):
            self.largest = rf

    def mutated(self) -> frozenset[str]:
        """Names whose recorded output an in-place operation changed after the hook ran."""
        return frozenset(n for n, _, out, _, v in self.records if out._version != v)


def _pair(value: int | tuple[int, ...] | list[int]) -> int:
    return int(value[0] if isinstance(value, tuple | list) else value)


def _grow(
    module: nn.Module, rf: ReceptiveField, x: torch.Tensor, out: torch.Tensor
) -> ReceptiveField:
    """Receptive field after one leaf module (see the module docstring for the formula)."""
    if rf.size is None or isinstance(module, nn.Linear):
        return ReceptiveField(None, rf.stride)
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d | nn.LPPool2d):
        k = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        d = _pair(getattr(module, "dilation", 1))
        p = _padding(getattr(module, "padding", 0), k, d)
        # The first unit's window starts p pixels (of the previous jump) before the input.
        start = rf.start + ((k - 1) * d / 2 - p) * rf.stride
        return ReceptiveField(rf.size + (k - 1) * d * rf.stride, rf.stride * s, start)
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and x.dim() == 4:
        h_in, h_out = x.shape[-2], out.shape[-2]
        if h_out == 1:
            return ReceptiveField(None, rf.stride, rf.start)
        if h_out >= h_in:
            return rf
        k, s = math.ceil(h_in / h_out), h_in // h_out
        start = rf.start + (k - 1) / 2 * rf.stride
        return ReceptiveField(rf.size + (k - 1) * rf.stride, rf.stride * s, start)
    return rf


def _padding(padding: object, k: int, d: int) -> int:
    """A layer's padding in pixels (``"same"``: what keeps the size, ``"valid"``: none)."""
    if padding == "same":
        return (k - 1) * d // 2
    if padding == "valid":
        return 0
    return _pair(padding)


def _stats(array: np.ndarray) -> LayerStats:
    zeros = 1.0 - np.count_nonzero(array) / max(1, array.size)
    return LayerStats(float(array.min()), float(array.max()), float(array.mean()), float(zeros))


def _frozen(t: torch.Tensor) -> np.ndarray:
    array = t.float().numpy()
    array.flags.writeable = False
    return array


def _forward(
    model: Model, x: torch.Tensor, clone: frozenset[str]
) -> tuple[_Recorder, torch.Tensor]:
    module = model.module
    anatomy = _Anatomy.of(module)
    recorder = _Recorder(anatomy, x, clone)
    modes = [(m, m.training) for m in (module, *anatomy.names)]
    # Out-of-place activations leave the recorded conv/norm outputs intact at no extra cost
    # (an in-place ReLU would overwrite them, and cloning would copy every map once more).
    inplace = anatomy.inplace
    handles = [m.register_forward_hook(recorder.hook) for m in anatomy.names]
    try:
        for m in inplace:
            m.inplace = False
        module.eval()
        with torch.no_grad():
            logits = module(x)
    finally:
        for handle in handles:
            handle.remove()
        for m in inplace:
            m.inplace = True
        for m, training in modes:
            m.training = training
    return recorder, logits


def _layers(model: Model, x: torch.Tensor, recorder: _Recorder) -> tuple[Layer, ...]:
    parts = _Anatomy.of(model.module).parts
    seen: set[nn.Module] = set()
    first = Layer(
        0, "input", "input", "Tensor", "the preprocessed image", tuple(x.shape[1:]), 0,
        ReceptiveField(1, 1), _frozen(x[0]),
    )  # fmt: skip
    layers = [first]
    for index, (name, module, out, inp, _) in enumerate(recorder.records, start=1):
        part = parts[module]
        layers.append(
            Layer(
                index=index,
                name=name,
                kind=part.kind,
                type_name=part.type_name,
                description=part.description,
                shape=tuple(out.shape[1:]),
                params=0 if module in seen else part.params,  # a reused module counts once
                receptive_field=recorder.rf[name],
                output=_frozen(out[0]),
                input=_frozen(inp[0]) if inp is not None else None,
                depth=name.count("."),
                is_leaf=part.is_leaf,
                geometry=part.geometry,
            )
        )
        seen.add(module)
    return tuple(layers)


def _predictions(model: Model, logits: torch.Tensor) -> tuple[Prediction, ...]:
    probs = torch.softmax(logits[0].float(), dim=0)
    top = torch.topk(probs, k=min(TOP_K, probs.numel()))
    return tuple(
        Prediction(int(i), model.labels[int(i)] if int(i) < len(model.labels) else str(int(i)),
                   float(p))
        for p, i in zip(top.values, top.indices, strict=True)
    )  # fmt: skip


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    A probe keeps every layer's output alive, so each probe needs tens to hundreds of MB of
    fresh memory; by default glibc hands large blocks back to the kernel when they are freed,
    and the next probe pays a page fault for every 4 KiB again (measured: ResNet-18's probe
    went from 1.5x to 1.2x a bare forward with this setting). It is a process-wide setting
    for long-running servers (the app calls it once at start); the price is that the
    process keeps its peak memory.

    Returns:
        True if the setting was applied (Linux with glibc), else False.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(
        mallopt(m_trim_threshold, (1 << 31) - 1)
    )


def probe(model: Model, image: Image.Image) -> Probe:
    """Run ``model`` once on ``image`` and record every layer.

    The hooks live only inside this call and are removed in ``finally``; train/eval modes are
    restored; the model's lock serializes concurrent probes of one shared model, since hooks on a
    shared module would otherwise fire in other sessions' forwards.

    Args:
        model: A :class:`cnnviz.Model` (``cnnviz.load_model``).
        image: A PIL image (``cnnviz.load_image``); resized as :meth:`Model.view` says.

    Returns:
        The :class:`Probe`.
    """
    view = model.view(image)
    x = model.preprocess(image)
    with model.lock:
        with _MUTATED_LOCK:
            clone = _MUTATED.get(model.module, frozenset())
        start = time.perf_counter()
        recorder, logits = _forward(model, x, clone)
        elapsed = (time.perf_counter() - start) * 1000
        mutated = recorder.mutated()
        if mutated:
            # An in-place op (ReLU(inplace=True), `out += identity`) overwrote a recorded output
            # after its hook ran; clone those from now on and record this image again.
            clone = clone | mutated
            with _MUTATED_LOCK:
                _MUTATED[model.module] = clone
            recorder, logits = _forward(model, x, clone)
    return Probe(
        model_key=model.key,
        model_label=model.spec.label,
        trained=model.trained,
        weights_source=model.weights_source,
        image=view,
        layers=_layers(model, x, recorder),
        predictions=_predictions(model, logits),
        elapsed_ms=elapsed,
        image_digest=image_digest(view),
    )
