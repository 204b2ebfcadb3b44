"""Pretrained weights files: where they live (torch hub cache, ``cnnviz/assets``), how
torchvision's get here (a download with progress, checked and renamed into place), and which of
them ``weights="auto"`` fetches by itself (:func:`auto_plan`)."""

from __future__ import annotations

import logging
import os
import re
from importlib import resources
from pathlib import Path
from typing import Literal

import torch

from cnnviz.errors import ModelError
from cnnviz.models.registry import ModelSpec, spec_of, tv_weights
from cnnviz.network import (
    OFFLINE_ENV,
    ChecksumMismatch,
    ProgressCallback,
    download,
    known_unreachable,
    mark_unreachable,
    offline_by_choice,
    reachable,
)

log = logging.getLogger(__name__)

ASSETS_DIR = Path(str(resources.files("cnnviz") / "assets"))
"""Where cnnviz's own trained weights ship (package data)."""
AUTO_DOWNLOAD_MAX_MB = 64.0
"""``weights="auto"`` downloads torchvision weights up to this size by itself, in MiB as
torchvision's ``meta["_file_size"]`` gives it: ResNet-18, GoogLeNet, DenseNet-121, the MobileNets
and EfficientNet-B0 (10 to 50 MB). AlexNet, the VGGs and ResNet-50 (98 to 528 MB) wait until
someone asks for them: a class of thirty on one school line should not fetch them unasked."""
AutoPlan = Literal["here", "download", "ask", "offline", "none"]
"""What ``weights="auto"`` does (see :func:`auto_plan`)."""


def hub_file(spec: ModelSpec) -> Path:
    """Where torchvision keeps the pretrained weights of ``spec`` (the torch hub cache)."""
    url = tv_weights(spec).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def bundled_file(spec: ModelSpec) -> Path | None:
    """The weights file of one of our nets in :data:`ASSETS_DIR`, or ``None`` if none ships."""
    if spec.asset is None:
        return None
    path = ASSETS_DIR / spec.asset
    return path if path.is_file() else None


def pretrained_available(name: str) -> bool:
    """Whether pretrained weights for ``name`` are on this computer (no network needed)."""
    spec = spec_of(name)
    if spec.is_torchvision:
        return hub_file(spec).is_file()
    return bundled_file(spec) is not None


def download_size_mb(name: str) -> float | None:
    """Size of the pretrained weights download of ``name`` in MiB, if torchvision says it.

    Returns:
        torchvision's ``meta["_file_size"]``, or ``None`` for our own nets (their weights ship
        with cnnviz) and weights whose size torchvision does not give.
    """
    spec = spec_of(name)
    if not spec.is_torchvision:
        return None
    size = tv_weights(spec).meta.get("_file_size")
    return float(size) if isinstance(size, int | float) else None


def auto_plan(name: str) -> AutoPlan:
    """What ``weights="auto"`` does for ``name``, decided without touching the network.

    Returns:
        ``"here"``: pretrained weights are on this computer (cache or bundled), use them.
        ``"download"``: small enough (:data:`AUTO_DOWNLOAD_MAX_MB`) to download unasked, if the
        server answers. ``"ask"``: larger, or of unknown size: random until someone chooses
        pretrained. ``"offline"``: the network is known to be out of reach (or
        ``CNNVIZ_OFFLINE`` is set): random. ``"none"``: one of our nets with no weights shipped.
    """
    spec = spec_of(name)
    if pretrained_available(name):
        return "here"
    if not spec.is_torchvision:
        return "none"
    if known_unreachable(tv_weights(spec).url):
        return "offline"
    size = download_size_mb(name)
    return "download" if size is not None and size <= AUTO_DOWNLOAD_MAX_MB else "ask"


def download_if_online(name: str, progress: ProgressCallback | None = None) -> bool:
    """Download the pretrained weights of ``name`` unless the network is out of reach.

    Asks the server first (:func:`cnnviz.network.reachable`: at most about 2 s, and not
    again for a few minutes once it did not answer), so ``weights="auto"`` falls back to random
    weights at once offline instead of failing. A failed download (broken connection, checksum
    mismatch) is remembered the same way.

    Returns:
        Whether the weights are now in the torch hub cache.
    """
    url = tv_weights(spec_of(name)).url
    if not reachable(url):
        return False
    try:
        download_weights(name, progress)
    except ModelError as error:
        log.info("auto download of %s weights failed: %s", name, error)
        # Not again at every rerun (a broken answer would be fetched again and again).
        mark_unreachable(url)
        return False
    return True


def download_weights(name: str, progress: ProgressCallback | None = None) -> Path:
    """Put torchvision's pretrained weights for ``name`` into the torch hub cache.

    Streams to a temporary file beside the target, checks the sha256 prefix that torchvision
    writes into the file name, then renames, so an interrupted download never leaves a broken
    file behind.

    Args:
        name: A torchvision architecture of the registry (``"resnet18"``).
        progress: Called with (bytes done, total bytes or None) as data arrives.

    Returns:
        The path of the cached weights file.

    Raises:
        ModelError: Unknown or non-torchvision name, no network (or ``CNNVIZ_OFFLINE`` set), or
            a corrupt download.
    """
    spec = spec_of(name)
    if not spec.is_torchvision:
        raise ModelError(f"{spec.label} has no weights to download: they ship with cnnviz.")
    target = hub_file(spec)
    if target.is_file():
        return target
    how = (
        f"On a connected machine run `cnnviz download-weights {name}` and copy {target.name} "
        f"into {target.parent}, or choose random weights or a checkpoint file."
    )
    if offline_by_choice():
        raise ModelError(
            f"Pretrained weights for {spec.label} are not on this computer, and {OFFLINE_ENV} "
            f"says not to use the network. {how}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    url = tv_weights(spec).url
    expected = re.search(r"-([a-f0-9]{6,})\.", target.name)
    try:
        download(url, target, progress, expected.group(1) if expected else None)
    except ChecksumMismatch as error:
        raise ModelError(
            f"The download of {target.name} is corrupt (checksum mismatch). Try again."
        ) from error
    except OSError as error:
        log.info("download of %s failed: %s", url, error)
        mark_unreachable(url)
        raise ModelError(
            f"Pretrained weights for {spec.label} are not on this computer and could not be "
            f"downloaded (no network?). {how}"
        ) from error
    return target
