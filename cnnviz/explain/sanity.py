"""The sanity check of Adebayo et al. (2018), "Sanity Checks for Saliency Maps".

A map that explains what a model *learned* must change when the learned weights are destroyed.
Cascading randomization re-initializes the layers from the top (the classifier) down, one group
at a time, and recomputes the map after each step for the same class. Similarity to the original
map is measured with Spearman's rank correlation and SSIM: a method whose maps stay similar
(guided backpropagation, famously) shows the image's edges, not the model's reasons.

The randomization works on a deep copy of the module: the shared, cached model is never changed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.explain.core import Explanation, Method, as_input, explain
from cnnviz.explain.layers import cam_layers
from cnnviz.models import Model

__all__ = ["SanityCheck", "SanityStep", "randomization_steps", "sanity_check", "similarity"]

MAX_STEPS_BY_LAYER = 8  # nets with at most this many weighted layers randomize one at a time


@dataclass(frozen=True, slots=True)
class SanityStep:
    """The map after randomizing the layers from the top down to one more group.

    Attributes:
        randomized: Name of the group of layers randomized at this step (``"fc"``,
            ``"layer4"``); all groups of the earlier steps are random too.
        explanation: The map of the partly randomized model, for the same class.
        spearman: Spearman rank correlation with the original heatmap (-1..1; ``nan`` when
            either map is constant).
        ssim: Structural similarity with the original heatmap (-1..1).
    """

    randomized: str
    explanation: Explanation = field(repr=False)
    spearman: float
    ssim: float


@dataclass(frozen=True, slots=True)
class SanityCheck:
    """The original map and the maps under cascading randomization.

    Attributes:
        original: The map of the model as it is.
        steps: One per randomized group, top (output) first.
        elapsed_ms: Time of the whole check.
    """

    original: Explanation = field(repr=False)
    steps: tuple[SanityStep, ...]
    elapsed_ms: float


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Spearman rank correlation and SSIM of two heatmaps in [0, 1] of the same shape.

    Returns:
        (spearman, ssim); Spearman is ``nan`` when either map is constant.
    """
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        rho = math.nan
    else:
        rho = float(spearmanr(a.ravel(), b.ravel()).statistic)
    side = min(a.shape)
    win = min(7, side if side % 2 else side - 1)
    ssim = float(structural_similarity(a, b, data_range=1.0, win_size=max(3, win)))
    return rho, ssim


def randomization_steps(model: Model) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Groups of weighted layers in the order they are randomized: output first.

    Small nets randomize one weighted layer at a time; large ones one stage at a time (the
    stages of :func:`cnnviz.explain.cam_layers`), with everything after the last stage (the
    classifier) as the first group.

    Returns:
        (group name, module names) pairs.
    """
    names = [n for n, _ in model.module.named_modules()]
    weighted = [
        n
        for n, m in model.module.named_modules()
        if n and any(True for _ in m.parameters(recurse=False))
    ]
    if len(weighted) <= MAX_STEPS_BY_LAYER:
        return tuple((n, (n,)) for n in reversed(weighted))
    ends = [_last_descendant(names, s.name) for s in cam_layers(model)]
    groups: list[tuple[str, list[str]]] = []
    for stage, end in zip(cam_layers(model), ends, strict=True):
        groups.append((stage.name, [n for n in weighted if names.index(n) <= end]))
        weighted = [n for n in weighted if names.index(n) > end]
    if weighted:
        groups.append(("classifier", weighted))
    # Modules before the first stage end belong to it; a stage with no weights is skipped.
    return tuple((name, tuple(members)) for name, members in reversed(groups) if members)


def _last_descendant(names: list[str], name: str) -> int:
    index = names.index(name)
    last = index
    for i in range(index + 1, len(names)):
        if names[i].startswith(name + "."):
            last = i
        else:
            break
    return last


def _randomize(module: nn.Module, seed: int) -> None:
    """Re-initialize a module's own weights as PyTorch initializes a new one (seeded)."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        is_norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
        if is_norm and module.weight is not None:
            # A reset batch norm is the identity; random scales make it forget the data too.
            module.weight.normal_(1.0, 0.5)
        elif not hasattr(module, "reset_parameters"):
            for p in module.parameters(recurse=False):
                p.normal_(0.0, 0.05)


def sanity_check(
    model: Model,
    image: Image.Image | torch.Tensor,
    method: Method | str = "gradcam",
    target: int | str | None = None,
    layer: str | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    **options: Any,
) -> SanityCheck:
    """Recompute a map while the model's layers are randomized from the top down.

    Args:
        model: A :class:`cnnviz.Model`; it is copied, never changed.
        image: A PIL image or the input tensor (see :func:`cnnviz.explain.explain`).
        method: The method to check.
        target: The class (default: the original model's prediction; kept for every step).
        layer: The layer of a CAM method.
        progress: Called with the fraction done after each step.
        **options: The method's options.

    Returns:
        The :class:`SanityCheck`.

    Raises:
        InputError: As :func:`cnnviz.explain.explain`.
    """
    start = time.perf_counter()
    x = as_input(model, image)
    original = explain(model, x, method, target, layer, **options)
    with model.lock:
        module = copy.deepcopy(model.module)
    twin = dataclasses.replace(
        model, module=module, key=f"{model.key}:randomized", lock=threading.Lock()
    )
    steps = []
    groups = randomization_steps(model)
    for k, (name, members) in enumerate(groups):
        for member in members:
            _randomize(module.get_submodule(member), seed=k)
        result = explain(twin, x, method, original.target, layer, **options)
        rho, ssim = similarity(original.heatmap, result.heatmap)
        steps.append(SanityStep(name, result, rho, ssim))
        if progress is not None:
            progress((k + 1) / len(groups))
    elapsed = (time.perf_counter() - start) * 1000
    return SanityCheck(original, tuple(steps), elapsed)
