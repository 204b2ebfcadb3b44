"""Checkpoints: read a state dict safely (``weights_only=True``), check it, load it."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.models.model import Model
from cnnviz.models.registry import ModelSpec, build, default_labels
from cnnviz.nets import ACTIVATIONS, Variant

log = logging.getLogger(__name__)


def read_checkpoint(source: str | os.PathLike[str] | bytes) -> tuple[dict, dict]:
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


def first_nonfinite(state: Mapping[str, torch.Tensor]) -> tuple[str, str] | None:
    """The first floating tensor of ``state`` that holds NaN or infinity, if any.

    A training run that diverged saves such weights; they would turn every prediction into NaN
    ("It sees 8 (nan%)"). Integer buffers (``num_batches_tracked``) cannot hold either.

    Returns:
        ``(name, what)`` with ``what`` ready for a sentence (``"NaN (not a number)"`` or
        ``"infinite values"``), or ``None`` when every value is finite.
    """
    for name, tensor in state.items():
        if not (tensor.is_floating_point() or tensor.is_complex()):
            continue
        if not bool(torch.isfinite(tensor).all()):
            what = "NaN (not a number)" if bool(torch.isnan(tensor).any()) else "infinite values"
            return name, what
    return None


def _checkpoint_classes(spec: ModelSpec, meta: dict) -> tuple[int, tuple[str, ...]]:
    default = default_labels(spec)
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


def load_checkpoint(spec: ModelSpec, source: str | os.PathLike[str] | bytes) -> Model:
    """A :class:`Model` of ``spec`` with the weights of a checkpoint file or its bytes.

    Raises:
        ModelError: The file is unsafe, corrupt, holds NaN or infinite weights, or was made for
            another architecture.
    """
    state, meta = read_checkpoint(source)
    module, labels = module_from_state(spec, state, meta)
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
    return Model(module, spec, labels, "checkpoint", where, f"{spec.name}:ckpt:{digest}")


def module_from_state(
    spec: ModelSpec, state: dict, meta: dict
) -> tuple[nn.Module, tuple[str, ...]]:
    """Build ``spec``'s module for a checkpoint's classes and variant, with its weights, in eval
    mode.

    Returns:
        The module and its class labels (the checkpoint's, else the architecture's own).

    Raises:
        ModelError: Weights holding NaN or infinity, or made for another architecture.
    """
    broken = first_nonfinite(state)
    if broken is not None:
        name, what = broken
        raise ModelError(
            f"This checkpoint's weights contain {what} in '{name}': it was saved from a "
            "training run that diverged; train again with a lower learning rate, or choose other "
            "weights."
        )
    num_classes, labels = _checkpoint_classes(spec, meta)
    module = build(spec, num_classes=num_classes, variant=_checkpoint_variant(meta))
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
    return module.eval(), labels
