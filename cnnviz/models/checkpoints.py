"""Checkpoints: read a state dict safely (``weights_only=True``), check it, load it."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.models.labels import Labels, numbered_labels
from cnnviz.models.model import Model
from cnnviz.models.registry import ModelSpec, build, default_labels
from cnnviz.nets import ACTIVATIONS, Variant

log = logging.getLogger(__name__)


SAFETENSORS_SUFFIX = ".safetensors"


def read_checkpoint(source: str | os.PathLike[str] | bytes) -> tuple[dict, dict]:
    """Read a state dict (and optional metadata) without ever unpickling code.

    Two formats: PyTorch's (``torch.save``, read with ``weights_only=True``; a plain state dict
    or ``{"state_dict": ..., "meta": ...}`` as cnnviz saves it) and safetensors (told apart by
    its header: 8 bytes of header length, then JSON; its ``__metadata__`` may hold
    ``"classes"`` as a JSON list).

    Returns:
        The state dict and the metadata (``{}`` when there is none).

    Raises:
        ModelError: No such file, or a file that is corrupt, unsafe, or holds no state dict.
    """
    if _is_safetensors(source):
        return _read_safetensors(source)
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


def _head_bytes(source: str | os.PathLike[str] | bytes, count: int) -> bytes:
    if isinstance(source, bytes):
        return source[:count]
    try:
        with open(source, "rb") as file:
            return file.read(count)
    except OSError:
        return b""


def _is_safetensors(source: str | os.PathLike[str] | bytes) -> bool:
    """A safetensors file: its name says so, or 8 bytes of header length and then ``{``."""
    if not isinstance(source, bytes) and str(source).endswith(SAFETENSORS_SUFFIX):
        return True
    head = _head_bytes(source, 9)
    return len(head) == 9 and head[8:9] == b"{" and head[:2] != b"PK"


def _read_safetensors(source: str | os.PathLike[str] | bytes) -> tuple[dict, dict]:
    """Tensors and metadata of a safetensors file, its header checked against its size first."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ModelError(f"The checkpoint file {source} does not exist.") from None
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 2 <= size <= len(data) - 8:
        raise ModelError(
            "This safetensors file is corrupt: its header claims more bytes than the file holds."
        )
    try:
        header = json.loads(data[8 : 8 + size])
        state = safetensors.torch.load(data)
    except Exception as error:  # SafetensorError, ValueError: offsets or sizes that lie
        log.info("safetensors refused: %r", error)
        raise ModelError(
            "This safetensors file is corrupt: its header does not match the tensors it holds."
        ) from error
    raw = header.get("__metadata__") if isinstance(header, dict) else None
    meta: dict = {}
    if isinstance(raw, dict) and isinstance(raw.get("classes"), str):
        with contextlib.suppress(ValueError):
            meta["classes"] = json.loads(raw["classes"])
    return state, meta


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


def head_layer(module: nn.Module) -> str | None:
    """The name of a classifier's head: its last ``Linear``, else its last 1x1 convolution.

    Returns:
        The module path (``"fc"``, ``"classifier.6"``), or ``None`` when it has neither.
    """
    linear = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if linear:
        return linear[-1]
    pointwise = [
        name
        for name, m in module.named_modules()
        if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (1, 1) and m.groups == 1
    ]
    return pointwise[-1] if pointwise else None


@functools.cache
def _spec_head(spec: ModelSpec) -> str | None:
    # Built on the meta device: the layout without allocating or initializing any weight.
    with torch.device("meta"):
        return head_layer(build(spec))


def head_outputs(spec: ModelSpec, state: Mapping[str, torch.Tensor]) -> int | None:
    """How many classes the head of ``spec`` scores in a state dict: the rows of its weight.

    Returns:
        K, or ``None`` when the state dict has no such weight (it then fails to load anyway).
    """
    head = _spec_head(spec)
    weight = state.get(f"{head}.weight") if head is not None else None
    return int(weight.shape[0]) if weight is not None and weight.dim() >= 2 else None


def _checkpoint_classes(
    spec: ModelSpec, state: Mapping[str, torch.Tensor], meta: dict, given: Labels | None
) -> tuple[int, tuple[str, ...], str]:
    """The number of classes of a checkpoint's head, their names and where the names came from.

    Names, first found: a labels file given with it, the checkpoint's metadata
    (``meta["classes"]``), the architecture's own (when the head has as many outputs), else
    ``"class 0"`` ... ``"class K-1"``.

    Raises:
        ModelError: A labels file naming another number of classes than the head has.
    """
    default = default_labels(spec)
    saved = meta.get("classes")
    if not (isinstance(saved, list | tuple) and all(isinstance(c, str) for c in saved)):
        saved = None
    count = head_outputs(spec, state) or (len(saved) if saved else len(default))
    if given is not None:
        if len(given.names) != count:
            raise ModelError(
                f"The labels file {given.origin} names {len(given.names)} classes, but this "
                f"checkpoint's classifier has {count} outputs."
            )
        return count, given.names, f"Class names from {given.origin}."
    if saved and len(saved) == count:
        return count, tuple(saved), "Class names from the checkpoint."
    if count == len(default):
        return count, default, ""
    return (
        count,
        numbered_labels(count),
        (
            f"The checkpoint names none of its {count} classes: they are numbered class 0 … "
            f"class {count - 1} (give a labels file to name them)."
        ),
    )


def _checkpoint_variant(meta: dict) -> Variant | None:
    """The variant a checkpoint was trained with (its metadata), or ``None``."""
    saved = meta.get("variant")
    if not isinstance(saved, dict):
        return None
    activation = saved.get("activation")
    batch_norm = saved.get("batch_norm")
    dropout = saved.get("dropout", 0.0)
    residual = saved.get("residual")
    if (
        (activation is not None and activation not in ACTIVATIONS)
        or (batch_norm is not None and not isinstance(batch_norm, bool))
        or (residual is not None and not isinstance(residual, bool))
        or not isinstance(dropout, int | float)
        or not 0 <= dropout < 1
    ):
        raise ModelError("This checkpoint's metadata names a network variant cnnviz does not know.")
    return Variant(activation, batch_norm, float(dropout), residual)


def load_checkpoint(
    spec: ModelSpec, source: str | os.PathLike[str] | bytes, labels: Labels | None = None
) -> Model:
    """A :class:`Model` of ``spec`` with the weights of a checkpoint file or its bytes.

    A checkpoint fine-tuned to another number of classes loads: the head is rebuilt from the
    checkpoint's shapes (see :func:`head_outputs`); every other weight must fit exactly.

    Args:
        spec: The architecture.
        source: A ``.pt``/``.pth`` (``torch.save``) or ``.safetensors`` file, or its bytes.
        labels: Class names for the head (a labels file, see :func:`read_labels`).

    Raises:
        ModelError: The file is unsafe, corrupt, holds NaN or infinite weights, was made for
            another architecture, or the labels do not fit its head.
    """
    state, meta = read_checkpoint(source)
    module, names, note = _module_and_classes(spec, state, meta, labels)
    digest = hashlib.sha256(
        b"".join(
            t.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes() for t in state.values()
        )
    )
    if labels is not None:
        digest.update("\n".join(labels.names).encode())
    where = (
        f"Weights from the checkpoint {source}."
        if isinstance(source, str | os.PathLike)
        else "Weights from an uploaded checkpoint file."
    )
    return Model(
        module, spec, names, "checkpoint", where, f"{spec.name}:ckpt:{digest.hexdigest()[:12]}",
        labels_source=note,
    )  # fmt: skip


def module_from_state(
    spec: ModelSpec, state: dict, meta: dict, labels: Labels | None = None
) -> tuple[nn.Module, tuple[str, ...]]:
    """Build ``spec``'s module for a checkpoint's classes and variant, with its weights, in eval
    mode.

    Returns:
        The module and its class labels (see :func:`_checkpoint_classes`).

    Raises:
        ModelError: Weights holding NaN or infinity, or made for another architecture.
    """
    module, names, _ = _module_and_classes(spec, state, meta, labels)
    return module, names


def _module_and_classes(
    spec: ModelSpec, state: dict, meta: dict, labels: Labels | None
) -> tuple[nn.Module, tuple[str, ...], str]:
    broken = first_nonfinite(state)
    if broken is not None:
        name, what = broken
        raise ModelError(
            f"This checkpoint's weights contain {what} in '{name}': it was saved from a "
            "training run that diverged; train again with a lower learning rate, or choose other "
            "weights."
        )
    num_classes, names, note = _checkpoint_classes(spec, state, meta, labels)
    module = build(spec, num_classes=num_classes, variant=_checkpoint_variant(meta))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(
            f"This checkpoint does not fit {spec.label}: {_misfit(module.state_dict(), state)}. "
            "Was it saved from another architecture?"
        ) from error
    return module.eval(), names, note


def _misfit(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str:
    """What keeps ``state`` from loading into a module whose state dict is ``own``."""
    missing = [k for k in own if k not in state]
    if missing:
        return f"missing {len(missing)} weights (e.g. '{missing[0]}')"
    extra = [k for k in state if k not in own]
    if extra:
        return f"{len(extra)} weights it does not have (e.g. '{extra[0]}')"
    wrong = [k for k in state if tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        key = wrong[0]
        return f"'{key}' has shape {tuple(state[key].shape)} where it needs {tuple(own[key].shape)}"
    return "weights of the wrong shape"
