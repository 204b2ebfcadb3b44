"""timm models (PyTorch Image Models) as :class:`Model` s: ``timm:<name>`` for any name of
``timm.list_models()``, with the optional extra ``pip install cnnviz[timm]``.

Preprocessing comes from timm's own data config (input size, mean, std, crop fraction); class
names from timm's ImageNet metadata. Pretrained weights come from the Hugging Face hub cache,
downloaded when asked and the network allows; ``weights="auto"`` uses them when they are
already here and gives random weights otherwise (with a sentence saying so).
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.models.labels import Labels
from cnnviz.models.model import Model
from cnnviz.models.own import from_module
from cnnviz.network import offline_by_choice

log = logging.getLogger(__name__)

PREFIX = "timm:"
TRANSFORMER_NOTE = (
    " A vision transformer: only its patch embedding is a convolution, so the feature maps and "
    "filters show that first layer, Grad-CAM works on its coarse patch grid, and what the "
    "attention layers do is not shown."
)


def _timm():
    try:
        import timm
    except ImportError:
        raise ModelError("timm models need the timm package: pip install 'cnnviz[timm]'.") from None
    return timm


def _cached_file(module: nn.Module) -> str | None:
    """The pretrained weights file of ``module`` in the Hugging Face cache, if it is there."""
    repo = module.pretrained_cfg.get("hf_hub_id")
    if not repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return found
    return None


def _build(name: str, weights: str) -> tuple[nn.Module, str, str]:
    """The module, its weights kind and the sentence saying where they came from."""
    timm = _timm()
    if name not in timm.list_models():
        near = timm.list_models(f"*{name}*")[:5]
        hint = f" Did you mean: {', '.join(near)}?" if near else ""
        raise ModelError(f"timm has no model called '{name}'.{hint}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = timm.create_model(name, pretrained=False)
    if weights == "random":
        return module, "random", "Random, untrained weights: the predictions mean nothing."
    cached = _cached_file(module)
    if cached is None and (weights == "auto" or offline_by_choice()):
        if weights == "pretrained":
            raise ModelError(
                f"Pretrained weights for timm:{name} are not on this computer, and CNNVIZ_OFFLINE "
                "says not to use the network."
            )
        why = (
            "Random, untrained weights: the predictions mean nothing. The pretrained weights of "
            f"timm:{name} are not in this computer's Hugging Face cache (load_model with "
            "weights='pretrained', or cnnviz run --model on a connected machine, fetches them)."
        )
        return module, "random", why
    try:
        overlay = {"file": cached} if cached is not None else None
        module = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as error:  # network errors, a missing or broken file
        log.info("timm pretrained %s failed: %r", name, error)
        raise ModelError(
            f"The pretrained weights of timm:{name} could not be had ({type(error).__name__}): "
            "is the network there? Random weights work offline."
        ) from error
    tag = module.pretrained_cfg.get("tag") or "pretrained"
    return module, "pretrained", f"Pretrained weights of timm:{name} ({tag}, timm)."


def _labels(module: nn.Module) -> Labels | None:
    """ImageNet-1k or -22k names from timm's metadata, when the head has that many classes."""
    from timm.data import ImageNetInfo, infer_imagenet_subset

    subset = infer_imagenet_subset(module)
    if subset is None:
        return None
    names = tuple(d.split(",")[0].strip() for d in ImageNetInfo(subset).label_descriptions())
    return Labels(names, f"timm's {subset} metadata")


def load_timm(name: str, weights: str = "auto") -> Model:
    """A timm model as a :class:`Model`, preprocessed as timm's data config says.

    Args:
        name: A name of ``timm.list_models()`` (``"convnext_tiny"``), without ``timm:``.
        weights: ``"auto"`` (pretrained when in the Hugging Face cache, else random),
            ``"pretrained"`` (downloaded when missing), or ``"random"``.

    Raises:
        ModelError: timm is not installed, no such model, weights that cannot be had, or a
            model that is no image CNN (see :func:`cnnviz.models.own.from_module`).
    """
    name = name.removeprefix(PREFIX)
    if weights not in ("auto", "pretrained", "random"):
        raise ModelError("A timm model takes weights 'auto', 'pretrained' or 'random'.")
    module, kind, source = _build(name, weights)
    from timm.data import resolve_data_config

    config = resolve_data_config({}, model=module)
    channels, height, width = config["input_size"]
    crop = float(config.get("crop_pct") or 1.0)
    transformer = sum(isinstance(m, nn.Conv2d) for m in module.modules()) == 1 and any(
        "attn" in n for n, _ in module.named_modules()
    )
    summary = f"{type(module).__name__} from timm ({module.pretrained_cfg.get('architecture')})."
    model = from_module(
        module, (channels, height, width), config["mean"], config["std"], _labels(module),
        name=f"{PREFIX}{name}", label=f"timm {name}",
        summary=summary + (TRANSFORMER_NOTE if transformer else ""),
        resize=round(height / crop), source=source,
    )  # fmt: skip
    return dataclasses.replace(model, weights=kind)
