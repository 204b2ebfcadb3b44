"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision: read from a folder, downloaded once
with a timeout (torchvision's own download has none, so it could hang offline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.data.base import (
    Loaded,
    ProgressCallback,
)
from cnnviz.errors import InputError
from cnnviz.network import download, reachable

_TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def _torchvision(name: str, root: Path, progress: ProgressCallback | None) -> Loaded:
    """A torchvision training split as raw uint8 (N, H, W[, 3]) pixels, labels, classes, source.

    Read from ``root`` where torchvision keeps it; downloaded first when missing.
    """
    import torchvision.datasets

    cls = getattr(torchvision.datasets, _TORCHVISION[name])
    try:
        data = cls(str(root), train=True)
    except Exception:  # missing or damaged files: torchvision raises RuntimeError, OSError, ...
        _download(cls, root, progress)
        try:
            data = cls(str(root), train=True)
        except Exception as error:
            raise InputError(
                f"The {cls.__name__} files in {root} cannot be read; delete them and try again."
            ) from error
    pixels = np.asarray(data.data, dtype=np.uint8)  # (N, 28, 28) or (N, 32, 32, 3)
    labels = np.asarray(data.targets, dtype=np.int64)
    source = f"the {len(pixels):,} {cls.__name__} training images, from {root}."
    return pixels, labels, tuple(data.classes), source  # type: ignore[return-value]


def _download(cls: Any, root: Path, progress: ProgressCallback | None) -> None:
    """Fetch and unpack a torchvision data set's files after checking the server answers.

    The files are torchvision's own list (MNIST's ``resources`` tried at each of its ``mirrors``,
    CIFAR's single ``url``), checked against their MD5 sums and unpacked where torchvision
    looks. Every network call has a timeout, so a dead network gives an error, not a hang.
    """
    from torchvision.datasets.utils import check_integrity, extract_archive

    if hasattr(cls, "mirrors"):  # MNIST and friends: root/<Class>/raw/<file>.gz
        folder = root / cls.__name__ / "raw"
        files = [([m + f for m in cls.mirrors], f, md5) for f, md5 in cls.resources]
    else:  # CIFAR: one archive that unpacks into root/cifar-10-batches-py
        folder, files = root, [([cls.url], cls.filename, cls.tgz_md5)]
    names = ", ".join(f for _, f, _ in files)
    offline = (
        f"{cls.__name__} is not in {folder} and its server cannot be reached, so on a computer "
        f"with internet download {names} from {files[0][0][0].rsplit('/', 1)[0]}/ and unpack "
        f"{'it' if len(files) == 1 else 'them'} into {folder}."
    )
    if not any(reachable(url) for url in files[0][0]):
        raise InputError(offline)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cnnviz cannot write to {folder}; choose another data folder.") from error
    for urls, filename, md5 in files:
        path = folder / filename
        if not any(_fetch(url, path, progress) for url in urls):
            raise InputError(offline)
        if not check_integrity(str(path), md5):
            path.unlink()
            raise InputError(f"The download of {filename} was damaged; please try again.")
        extract_archive(str(path), str(folder))


def _fetch(url: str, path: Path, progress: ProgressCallback | None) -> bool:
    """Download ``url`` to ``path`` (see :func:`cnnviz.network.download`); False if it failed."""
    try:
        download(url, path, progress)
    except (OSError, ValueError):
        return False
    return True


Reader = Callable[[], bytes | Path]  # gives load_image a file's bytes or path
