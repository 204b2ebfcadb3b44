"""The maps themselves: Grad-CAM and the gradient computed directly, the rest through captum,
and how a raw map becomes a heatmap in [0, 1]."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from cnnviz.errors import InputError
from cnnviz.models import Model

__all__ = [
    "CLIP_PERCENTILE",
    "MapResult",
    "Progress",
    "cam_heatmap",
    "captum_map",
    "gradcam_maps",
    "pixel_heatmap",
    "saliency_maps",
]

# captum announces on every call what cnnviz does on purpose (hooks on ReLUs, an input that
# gets requires_grad): noise in the server log. Filtered by message, once, process-wide.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU", category=UserWarning)
warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")

Progress = Callable[[float], None]
"""Called with the fraction done (0..1) while a slow method runs."""
CLIP_PERCENTILE = 99.5  # gradient maps have a few huge pixels; scale to this percentile


@dataclass(frozen=True, slots=True)
class MapResult:
    raw: torch.Tensor
    heatmap: torch.Tensor
    note: str = ""
    delta: float | None = None


# --- turning maps into heatmaps ------------------------------------------------------------------


def _upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def _minmax(m: torch.Tensor) -> torch.Tensor:
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)


def _clip_scale(m: torch.Tensor) -> torch.Tensor:
    """Scale a map of values >= 0 to [0, 1] at its 99.5th percentile (a few pixels saturate).

    The percentile is the next value up (numpy's ``method="higher"``): a selection, not a
    sort, so it costs little next to the backward pass.
    """
    flat = m.flatten()
    rank = math.ceil(CLIP_PERCENTILE / 100 * (flat.numel() - 1)) + 1
    top = flat.kthvalue(rank).values
    if top <= 0:
        top = m.max()
    return (m / top).clamp(0, 1) if top > 0 else torch.zeros_like(m)


def cam_heatmap(cam: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, str]:
    """ReLU, bilinear upsampling to the input size, min-max scaling; a note if flat."""
    positive = cam.clamp(min=0)
    if not bool((positive > 0).any()):
        return torch.zeros(size), (
            "The map is zero everywhere: every weighted sum of this layer's maps is negative for "
            "this class, so Grad-CAM is undefined here. Try another class or layer."
        )
    return _minmax(_upsample(positive, size)), ""


def pixel_heatmap(raw: torch.Tensor, reduce: Literal["max", "sum"] = "max") -> torch.Tensor:
    """(C, H, W) signed map -> (H, W) in [0, 1]: max |value| over channels (Simonyan et al.),
    or |sum over channels| (keeps Integrated Gradients' completeness), clipped at 99.5%."""
    m = raw.abs().amax(dim=0) if reduce == "max" else raw.sum(dim=0).abs()
    return _clip_scale(m)


# --- the methods ------------------------------------------------------------------------------


def gradcam_maps(
    module: nn.Module, x: torch.Tensor, layer: nn.Module, targets: Sequence[int | None]
):
    """Grad-CAM for several classes from one forward pass; returns (logits, [(target, cam)])."""
    kept: list[torch.Tensor] = []

    def hook(m: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        # The graph starts here: nothing before this layer records anything. The clone keeps
        # the leaf intact if a later in-place op (``out += identity``) changes the output.
        leaf = output.detach().requires_grad_(True)
        kept.append(leaf)
        return leaf.clone()

    handle = layer.register_forward_hook(hook)
    try:
        logits = module(x)
    finally:
        handle.remove()
    if not kept:
        raise InputError("This layer does not take part in the network's forward pass.")
    acts = kept[-1]  # a module called twice: the last call, the nearest to the output
    out = []
    for i, target in enumerate(targets):
        index = int(logits[0].argmax()) if target is None else target
        (grads,) = torch.autograd.grad(
            logits[0, index], acts, retain_graph=i < len(targets) - 1, allow_unused=True
        )
        if grads is None:  # the score does not depend on this layer (after the last call)
            grads = torch.zeros_like(acts)
        weights = grads.mean(dim=(2, 3), keepdim=True)  # alpha_k
        out.append((index, (weights * acts).sum(dim=1)[0].detach()))
    return logits.detach(), out


def saliency_maps(module: nn.Module, x: torch.Tensor, targets: Sequence[int | None]):
    """Input gradients for several classes from one forward pass."""
    leaf = x.detach().clone().requires_grad_(True)
    logits = module(leaf)
    out = []
    for i, target in enumerate(targets):
        index = int(logits[0].argmax()) if target is None else target
        (grads,) = torch.autograd.grad(logits[0, index], leaf, retain_graph=i < len(targets) - 1)
        out.append((index, grads[0].detach()))
    return logits.detach(), out


def _counting(module: nn.Module, total: int, progress: Progress | None) -> Callable:
    """The model as a function that reports how many of ``total`` rows it has run."""
    done = [0]

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = module(x)
        done[0] += x.shape[0]
        if progress is not None:
            progress(min(1.0, done[0] / total))
        return out

    return forward


def _approximate(module: nn.Module) -> str:
    """Why guided methods are approximate on this model, or ``""``."""
    others = sorted(
        {
            type(m).__name__
            for m in module.modules()
            if isinstance(m, nn.ReLU6 | nn.Hardswish | nn.SiLU | nn.GELU | nn.LeakyReLU | nn.ELU)
        }
    )
    functional = type(module).__name__ in ("DenseNet",)
    if not others and not functional:
        return ""
    parts = []
    if others:
        parts.append(f"its {', '.join(others)} activations")
    if functional:
        parts.append("the ReLU it calls as a function after its last block")
    return (
        "Approximate: captum guides only nn.ReLU modules, so "
        + " and ".join(parts)
        + " pass gradients back unguided."
    )


def _baseline(model: Model, x: torch.Tensor, kind: str) -> torch.Tensor:
    mean = torch.tensor(model.spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(model.spec.std).view(1, -1, 1, 1)
    if kind == "black":
        return ((0.0 - mean) / std).expand_as(x).clone()
    if kind == "blurred":
        side = max(3, (min(x.shape[-2:]) // 8) | 1)
        return _blur(x, side)
    if kind == "noise":
        generator = torch.Generator().manual_seed(0)
        return (torch.rand(x.shape, generator=generator) - mean) / std
    raise InputError("The baseline must be 'black', 'blurred' or 'noise'.")


def _blur(x: torch.Tensor, side: int) -> torch.Tensor:
    from torchvision.transforms.functional import gaussian_blur

    return gaussian_blur(x, [side, side], [side / 3.0, side / 3.0])


def captum_map(method: str, model: Model, x: torch.Tensor, target: int, layer, opts, progress):
    """The captum methods: returns a :class:`MapResult`."""
    from captum.attr import (
        Deconvolution,
        GuidedBackprop,
        GuidedGradCam,
        IntegratedGradients,
        NoiseTunnel,
        Saliency,
    )

    module = model.module
    if method == "guided_gradcam":
        raw = GuidedGradCam(module, layer).attribute(x, target=target, interpolate_mode="bilinear")
        return MapResult(raw[0], pixel_heatmap(raw[0]), _approximate(module))
    if method == "guided_backprop":
        raw = GuidedBackprop(module).attribute(x, target=target)
        return MapResult(raw[0], pixel_heatmap(raw[0]), _approximate(module))
    if method == "deconvnet":
        raw = Deconvolution(module).attribute(x, target=target)
        return MapResult(raw[0], pixel_heatmap(raw[0]), _approximate(module))
    if method == "smoothgrad":
        samples, noise = int(opts["samples"]), float(opts["noise"])
        forward = _counting(module, samples, progress)
        sigma = noise * float(x.max() - x.min())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            raw = NoiseTunnel(Saliency(forward)).attribute(
                x, nt_type="smoothgrad", nt_samples=samples, nt_samples_batch_size=8,
                stdevs=sigma, target=target, abs=False,
            )  # fmt: skip
        return MapResult(raw[0], pixel_heatmap(raw[0]))
    if method == "integrated_gradients":
        steps = int(opts["steps"])
        base = _baseline(model, x, str(opts["baseline"]))
        forward = _counting(module, steps + 2, progress)
        raw, delta = IntegratedGradients(forward).attribute(
            x, baselines=base, target=target, n_steps=steps,
            internal_batch_size=int(opts["batch"]), return_convergence_delta=True,
        )  # fmt: skip
        return MapResult(raw[0], pixel_heatmap(raw[0], "sum"), delta=float(delta[0]))
    return _occlusion(module, x, target, opts, progress)


def _occlusion(module: nn.Module, x: torch.Tensor, target: int, opts, progress) -> MapResult:
    from captum.attr import Occlusion

    side = min(x.shape[-2:])
    window = int(opts["window"] or max(2, side // 7))
    stride = int(opts["stride"] or max(1, window // 2))
    if not 1 <= window <= side or not 1 <= stride <= window:
        raise InputError(
            f"The occlusion window must be 1 to {side} pixels and the stride 1 to the window."
        )
    positions = ((x.shape[-2] - window) // stride + 1) * ((x.shape[-1] - window) // stride + 1)
    forward = _counting(module, positions + 1, progress)
    with torch.no_grad():
        raw = Occlusion(forward).attribute(
            x, sliding_window_shapes=(x.shape[1], window, window),
            strides=(x.shape[1], stride, stride), target=target, baselines=0.0,
            perturbations_per_eval=16,
        )  # fmt: skip
    score = raw[0].mean(dim=0).clamp(min=0)  # a drop in the score = evidence for the class
    top = score.max()
    note = "" if top > 0 else "Covering any part of the image never lowers this class's score."
    heat = score / top if top > 0 else torch.zeros_like(score)
    return MapResult(raw[0], heat, note)
