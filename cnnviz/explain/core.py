"""Attribution maps: which pixels made the network say this class?

:func:`explain` computes one map for one image and one class and returns an :class:`Explanation`
with a heatmap at the network's input resolution in [0, 1] and, where the method has one, the
signed map before it was made positive and scaled.

Grad-CAM (Selvaraju et al., 2017) weighs each channel k of a layer's maps A by the average
gradient of the class score y_c over the map, then keeps the positive part of the weighted sum::

    alpha_k = 1/Z * sum_ij dy_c / dA_k[i, j]            L = ReLU(sum_k alpha_k * A_k)

Grad-CAM and the vanilla gradient are computed here directly, with no weight gradients at all:
parameters stop asking for gradients during the call, and for Grad-CAM the graph starts at the
chosen layer (the forward before it runs as in inference). Guided Grad-CAM, SmoothGrad,
Integrated Gradients, guided backpropagation and occlusion are captum's.

Every call holds the model's lock, puts the model in eval mode, switches in-place activations
off (hooks on them would otherwise see tensors that change later), and restores modes,
``requires_grad`` and the in-place flags in ``finally``; no hook outlives a call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.errors import InputError
from cnnviz.explain.layers import find_layer
from cnnviz.explain.maps import (
    MapResult,
    Progress,
    cam_heatmap,
    captum_map,
    gradcam_maps,
    pixel_heatmap,
    saliency_maps,
)
from cnnviz.explain.methods import METHODS, Method
from cnnviz.models import Model
from cnnviz.probe import inplace_modules

__all__ = ["Explanation", "explain", "explain_classes"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """One attribution map for one image and one class.

    Attributes:
        method: The method's key (``"gradcam"``, ...).
        heatmap: float32 (H, W) at the network's input resolution, in [0, 1] (1 = most
            important); read-only.
        raw: The signed map before it was made positive and scaled: (h, w) at the layer's
            resolution for Grad-CAM (the weighted sum before the ReLU), (C, H, W) for the
            pixel methods; read-only.
        target: Index of the explained class.
        label: Name of the explained class.
        probability: Softmax probability of the class for the image.
        layer: The layer of a CAM method, else ``None``.
        elapsed_ms: Time the map took, in milliseconds.
        note: Caveats worth showing (a flat map, an approximation), or ``""``.
        options: The method's options as used, as (name, value) pairs.
        convergence_delta: Integrated Gradients only: sum of attributions minus
            (score(image) - score(baseline)); near 0 when the steps suffice.
    """

    method: str
    heatmap: np.ndarray = field(repr=False)
    raw: np.ndarray = field(repr=False)
    target: int
    label: str
    probability: float
    layer: str | None
    elapsed_ms: float
    note: str = ""
    options: tuple[tuple[str, Any], ...] = ()
    convergence_delta: float | None = None

    @property
    def flat(self) -> bool:
        """Whether the map is zero everywhere (nothing to show)."""
        return not bool(self.heatmap.any())


# --- preparing the model and the input ---------------------------------------------------------


@contextlib.contextmanager
def prepared(module: nn.Module) -> Iterator[None]:
    """Eval mode, no parameter gradients, no in-place activations; all restored on exit.

    The caller holds the model's lock.
    """
    params = [(p, p.requires_grad) for p in module.parameters()]
    modes = [(m, m.training) for m in module.modules()]
    inplace = inplace_modules(module)
    try:
        for p, _ in params:
            p.requires_grad_(False)
        for m in inplace:
            m.inplace = False
        module.eval()
        with torch.enable_grad():
            yield
    finally:
        for p, flag in params:
            p.requires_grad_(flag)
        for m in inplace:
            m.inplace = True
        for m, training in modes:
            m.training = training


def as_input(model: Model, image: Image.Image | torch.Tensor) -> torch.Tensor:
    """The network's input batch (1, C, H, W): preprocessed from an image, or checked as given.

    Raises:
        InputError: A tensor of the wrong shape or with values that are not finite.
    """
    if isinstance(image, Image.Image):
        return model.preprocess(image)
    x = image.detach().float()
    if x.dim() == 3:
        x = x[None]
    channels = model.spec.channels
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != channels:
        raise InputError(
            f"{model.spec.label} takes one image of {channels} channel(s), shape "
            f"(1, {channels}, H, W); this tensor has shape {tuple(image.shape)}."
        )
    if not torch.isfinite(x).all():
        raise InputError("The input holds values that are not finite numbers (NaN or inf).")
    return x


def resolve_target(model: Model, logits: torch.Tensor, target: int | str | None) -> int:
    """The class index to explain: the predicted one, an index, or a class name.

    Raises:
        InputError: An index out of range or a name the model does not know.
    """
    count = logits.shape[-1]
    if target is None:
        return int(logits[0].argmax())
    if isinstance(target, str):
        wanted = target.strip().lower()
        for index, label in enumerate(model.labels):
            if label.lower() == wanted:
                return index
        near = [x for x in model.labels if wanted and wanted in x.lower()][:5]
        hint = f" Did you mean: {', '.join(near)}?" if near else ""
        raise InputError(f"{model.spec.label} has no class called '{target}'.{hint}")
    if isinstance(target, bool) or not 0 <= int(target) < count:
        raise InputError(f"Class {target} does not exist: choose 0 to {count - 1}.")
    return int(target)


def _label(model: Model, index: int) -> str:
    return model.labels[index] if index < len(model.labels) else str(index)


# --- the public calls --------------------------------------------------------------------------


def _options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    if method not in METHODS:
        raise InputError(f"There is no method '{method}'; choose one of: {', '.join(METHODS)}.")
    defaults = dict(METHODS[method].options)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise InputError(
            f"{METHODS[method].label} has no option {', '.join(unknown)} (options: {allowed})."
        )
    merged = defaults | options
    for name in ("samples", "steps", "batch"):
        if name in merged and not 1 <= int(merged[name]) <= 1024:
            raise InputError(f"The number of {name} must be between 1 and 1024.")
    if "noise" in merged and not 0.0 <= float(merged["noise"]) <= 1.0:
        raise InputError("The noise level must be between 0 and 1 (a fraction of the range).")
    return merged


def explain(
    model: Model,
    image: Image.Image | torch.Tensor,
    method: Method | str = "gradcam",
    target: int | str | None = None,
    layer: str | None = None,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> Explanation:
    """Which parts of ``image`` made ``model`` give class ``target``?

    Args:
        model: A :class:`cnnviz.Model`; shared models are safe (the call holds its lock).
        image: A PIL image (preprocessed as the model says), or the input tensor
            (1, C, H, W) or (C, H, W), already normalized.
        method: One of :data:`METHODS`: ``"gradcam"``, ``"guided_gradcam"``, ``"saliency"``,
            ``"smoothgrad"``, ``"integrated_gradients"``, ``"guided_backprop"``, ``"deconvnet"``,
            ``"occlusion"``.
        target: Class to explain: ``None`` for the predicted class, an index, or a class name.
        layer: Module name for the CAM methods (default: the last stage, see
            :func:`cnnviz.explain.cam_layers`); ignored by the others.
        progress: Called with the fraction done while a slow method runs.
        **options: ``samples`` (16) and ``noise`` (0.15, sigma as a fraction of the input's
            range) for SmoothGrad; ``steps`` (32), ``baseline`` (``"black"``, ``"blurred"``,
            ``"noise"``) and ``batch`` (16 steps per pass) for Integrated Gradients;
            ``window`` and ``stride`` in pixels for occlusion (default: a seventh of the side,
            half of that).

    Returns:
        The :class:`Explanation`.

    Raises:
        InputError: Unknown method, option, class or layer, or an unusable input.
    """
    opts = _options(method, options)
    x = as_input(model, image)
    info = METHODS[method]
    layer_name, layer_module = find_layer(model, layer) if info.uses_layer else (None, None)
    size = (x.shape[-2], x.shape[-1])
    start = time.perf_counter()
    with model.lock, prepared(model.module):
        if method in ("gradcam", "saliency"):
            wanted = None if target is None else resolve_target(model, _no_logits(model), target)
            if method == "gradcam":
                logits, [(index, cam)] = gradcam_maps(model.module, x, layer_module, [wanted])
                heat, note = cam_heatmap(cam, size)
                result = MapResult(cam, heat, note)
            else:
                logits, [(index, grads)] = saliency_maps(model.module, x, [wanted])
                result = MapResult(grads, pixel_heatmap(grads))
        else:
            with torch.no_grad():
                logits = model.module(x)
            index = resolve_target(model, logits, target)
            result = captum_map(method, model, x, index, layer_module, opts, progress)
    elapsed = (time.perf_counter() - start) * 1000
    return _explanation(model, method, logits, index, layer_name, result, elapsed, opts)


def _no_logits(model: Model) -> torch.Tensor:
    """A stand-in for the logits, to check a class index or name before the forward pass."""
    return torch.zeros(1, len(model.labels))


def _frozen(t: torch.Tensor) -> np.ndarray:
    array = t.detach().float().numpy().copy()
    array.flags.writeable = False
    return array


def _explanation(model, method, logits, index, layer, result: MapResult, elapsed, opts):
    probability = float(torch.softmax(logits[0].float(), dim=0)[index])
    return Explanation(
        method=method,
        heatmap=_frozen(result.heatmap),
        raw=_frozen(result.raw),
        target=index,
        label=_label(model, index),
        probability=probability,
        layer=layer,
        elapsed_ms=elapsed,
        note=result.note,
        options=tuple(sorted(opts.items())),
        convergence_delta=result.delta,
    )


def explain_classes(
    model: Model,
    image: Image.Image | torch.Tensor,
    targets: Sequence[int],
    method: Literal["gradcam", "saliency"] = "gradcam",
    layer: str | None = None,
) -> tuple[Explanation, ...]:
    """Grad-CAM (or the gradient) for several classes at once: one forward, one short backward
    per class (for the page's row of maps for the top-5 classes).

    Args:
        model: A :class:`cnnviz.Model`.
        image: A PIL image or the input tensor (see :func:`explain`).
        targets: Class indices.
        method: ``"gradcam"`` or ``"saliency"``.
        layer: Layer for Grad-CAM (default: the last stage).

    Raises:
        InputError: Unknown method, class or layer.
    """
    if method not in ("gradcam", "saliency"):
        raise InputError("Only Grad-CAM and saliency are computed for several classes at once.")
    x = as_input(model, image)
    wanted = [resolve_target(model, _no_logits(model), t) for t in targets]
    layer_name, layer_module = find_layer(model, layer) if method == "gradcam" else (None, None)
    size = (x.shape[-2], x.shape[-1])
    start = time.perf_counter()
    with model.lock, prepared(model.module):
        if method == "gradcam":
            logits, maps = gradcam_maps(model.module, x, layer_module, wanted)
            results = [(i, MapResult(cam, *cam_heatmap(cam, size))) for i, cam in maps]
        else:
            logits, maps = saliency_maps(model.module, x, wanted)
            results = [(i, MapResult(g, pixel_heatmap(g))) for i, g in maps]
    each = (time.perf_counter() - start) * 1000 / max(1, len(results))
    return tuple(
        _explanation(model, method, logits, i, layer_name, r, each, {}) for i, r in results
    )
