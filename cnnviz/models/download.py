"""Pretrained weights files: where they live (torch hub cache, ``cnnviz/assets``) and how
torchvision's get here (a download with progress, checked and renamed into place)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch

from cnnviz.errors import ModelError
from cnnviz.models.registry import ModelSpec, spec_of, tv_weights

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 20.0
ASSETS_DIR = Path(str(resources.files("cnnviz") / "assets"))
"""Where cnnviz's own trained weights ship (package data)."""
ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while weights download."""


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
        ModelError: Unknown or non-torchvision name, no network, or a corrupt download.
    """
    spec = spec_of(name)
    if not spec.is_torchvision:
        raise ModelError(f"{spec.label} has no weights to download: they ship with cnnviz.")
    target = hub_file(spec)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = tv_weights(spec).url
    try:
        _fetch(url, target, progress)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        log.info("download of %s failed: %s", url, error)
        raise ModelError(
            f"Pretrained weights for {spec.label} are not on this computer and could not be "
            f"downloaded (no network?). On a connected machine run "
            f"`cnnviz download-weights {name}` and copy {target.name} into {target.parent}, "
            f"or choose random weights or a checkpoint file."
        ) from error
    return target


def _fetch(url: str, target: Path, progress: ProgressCallback | None) -> None:
    expected = re.search(r"-([a-f0-9]{6,})\.", target.name)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        total = response.headers.get("Content-Length")
        total_bytes = int(total) if total else None
        done = 0
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            try:
                while chunk := response.read(1 << 16):
                    tmp.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total_bytes)
                tmp.close()
                if expected and not digest.hexdigest().startswith(expected.group(1)):
                    raise ModelError(
                        f"The download of {target.name} is corrupt (checksum mismatch). Try again."
                    )
                os.replace(tmp.name, target)
            finally:
                if os.path.exists(tmp.name):
                    os.unlink(tmp.name)
