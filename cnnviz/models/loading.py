""":func:`load_model`: a registry architecture with pretrained, random or checkpoint weights."""

from __future__ import annotations

import os

import torchvision

from cnnviz.errors import ModelError
from cnnviz.models.checkpoints import (
    first_nonfinite,
    load_checkpoint,
    module_from_state,
    read_checkpoint,
)
from cnnviz.models.download import (
    AutoPlan,
    ProgressCallback,
    auto_plan,
    bundled_file,
    download_if_online,
    download_size_mb,
    download_weights,
    hub_file,
)
from cnnviz.models.labels import Labels
from cnnviz.models.model import Model
from cnnviz.models.registry import ModelSpec, build, default_labels, spec_of, tv_weights
from cnnviz.models.store import is_shared, load_shared


def _load_bundled(spec: ModelSpec) -> Model:
    """One of our nets with the trained weights that ship in ``cnnviz/assets``."""
    asset = bundled_file(spec)
    if asset is None:
        raise ModelError(
            f"No trained weights for {spec.label} ship with this version of cnnviz. "
            "Choose random weights, or train it on the Training page."
        )
    state, meta = read_checkpoint(asset)
    module, labels = module_from_state(spec, state, meta)
    history = meta.get("history") or [{}]
    accuracy = history[-1].get("val_accuracy")
    dataset = meta.get("config", {}).get("dataset", "its data set")
    score = f", {accuracy:.1%} validation accuracy" if isinstance(accuracy, float) else ""
    return Model(
        module, spec, labels, "pretrained",
        f"Trained on {dataset} by cnnviz{score} (bundled: {asset.name}).", f"{spec.name}:bundled",
    )  # fmt: skip


def _load_pretrained(spec: ModelSpec, progress: ProgressCallback | None) -> Model:
    if not spec.is_torchvision:
        return _load_bundled(spec)
    download_weights(spec.name, progress)
    weights = tv_weights(spec)
    try:
        module = torchvision.models.get_model(spec.torchvision_name, weights=weights)
    except Exception as error:  # a truncated or foreign file in the cache
        raise ModelError(
            f"The cached weights file {hub_file(spec)} for {spec.label} is damaged. Delete it "
            "and download it again."
        ) from error
    broken = first_nonfinite(module.state_dict())
    if broken is not None:
        raise ModelError(
            f"The cached weights file {hub_file(spec)} for {spec.label} is damaged: it holds "
            f"{broken[1]} in '{broken[0]}'. Delete it and download it again."
        )
    return Model(
        module.eval(), spec, default_labels(spec), "pretrained",
        f"Pretrained on ImageNet ({weights.name}, torchvision).", f"{spec.name}:{weights.name}",
    )  # fmt: skip


def _load_random(spec: ModelSpec, reason: str = "") -> Model:
    sentence = "Random, untrained weights: the predictions mean nothing."
    return Model(
        build(spec).eval(), spec, default_labels(spec), "random",
        f"{sentence} {reason}".strip(), f"{spec.name}:random",
    )  # fmt: skip


def load_model(
    name: str,
    weights: str | os.PathLike[str] | bytes = "auto",
    progress: ProgressCallback | None = None,
    labels: Labels | None = None,
) -> Model:
    """Build a registry model with the chosen weights, in eval mode.

    Args:
        name: A registry name (see :func:`model_names`), or ``timm:<name>`` for a timm model
            (see :func:`~cnnviz.models.timm_models.load_timm`).
        weights: ``"auto"``, ``"pretrained"``, ``"random"``, ``"shared-<id>"``, a checkpoint
            path, or its bytes.
        progress: Download progress callback (see :data:`ProgressCallback`), for ``"pretrained"``
            and for ``"auto"`` when it downloads.
        labels: Class names for a checkpoint's head (:func:`~cnnviz.models.labels.read_labels`);
            without them a fine-tuned head's classes come from the checkpoint or are numbered.

    Returns:
        The :class:`Model`.

    Raises:
        ModelError: Unknown name, weights unavailable, weights holding NaN or infinity, or a
            checkpoint that is unsafe, corrupt or made for another architecture.
    """
    if name.startswith("timm:"):
        from cnnviz.models.timm_models import load_timm

        return load_timm(name, str(weights))
    spec = spec_of(name)
    if is_shared(weights):  # "shared-<id>": a model shared with the class (models.store)
        return load_shared(spec.name, str(weights))
    if isinstance(weights, bytes) or (
        isinstance(weights, os.PathLike | str) and weights not in ("auto", "pretrained", "random")
    ):
        return load_checkpoint(spec, weights, labels)
    if labels is not None:
        raise ModelError("A labels file names the classes of a checkpoint: give one with it.")
    if weights == "random":
        return _load_random(spec)
    if weights == "pretrained":
        return _load_pretrained(spec, progress)
    plan = auto_plan(name)
    if plan == "download" and download_if_online(name, progress):
        plan = "here"
    if plan == "here":
        return _load_pretrained(spec, progress)
    return _load_random(spec, _why_random(name, plan))


def _why_random(name: str, plan: AutoPlan) -> str:
    """What the banner adds when ``"auto"`` ends with random weights."""
    if plan == "none":
        return ""
    size = download_size_mb(name)
    size_note = f" ({size:.0f} MB)" if plan == "ask" and size is not None else ""
    return (
        f"Pretrained weights{size_note} are not on this computer: choose 'pretrained' to "
        "download them."
    )
