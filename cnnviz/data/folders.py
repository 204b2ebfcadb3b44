"""The student's own images: one subfolder per class, from a folder or a checked zip upload."""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cnnviz import limits
from cnnviz.data.base import (
    Dataset,
    Loaded,
    check_shape,
    split_dataset,
    view_pixels,
)
from cnnviz.errors import InputError
from cnnviz.images import load_image

_READ_CAP = limits.IMAGE.max_bytes + 1  # load_image's byte limit, plus one so it can say "too big"


Reader = Callable[[], bytes | Path]  # gives load_image a file's bytes or path


def _labelled_images(
    files: list[tuple[tuple[str, ...], Reader]], size: int, channels: int, where: str
) -> Loaded:
    """Images grouped by class folder: ``class/.../name.png``, under an optional top folder.

    Hidden files and folders (``.name``, ``__MACOSX``) and files outside a class folder are
    ignored; files :func:`cnnviz.load_image` refuses are skipped and counted in ``source``.
    """
    files = [(p, r) for p, r in files if not any(s.startswith((".", "__MACOSX")) for s in p)]
    if len({p[0] for p, _ in files}) == 1 and all(len(p) >= 3 for p, _ in files):
        files = [(p[1:], r) for p, r in files]  # "mydata/cats/1.png" -> "cats/1.png"
    by_class: dict[str, list[Reader]] = {}
    for parts, read in files:
        if len(parts) >= 2:
            by_class.setdefault(parts[0], []).append(read)
    classes = tuple(sorted(by_class))
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if classes else "none"
        raise InputError(
            f"{where[:1].upper() + where[1:]} needs one subfolder of images per class and at "
            f"least two classes; found {found}."
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for label, name in enumerate(classes):
        before = len(images)
        for read in by_class[name]:
            try:
                images.append(view_pixels(load_image(read()), size, channels))
            except InputError:
                skipped += 1
                continue
            labels.append(label)
        if len(images) == before:
            raise InputError(f"The class folder '{name}' has no image cnnviz can read.")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    source = f"{len(images):,} of your images in {len(classes)} classes from {where}"
    if skipped:
        source += f"; skipped {skipped} unreadable file{'s' * (skipped > 1)}"
    return x, torch.tensor(labels, dtype=torch.int64), classes, source + "."


def _folder(folder: str | os.PathLike[str] | None, size: int, channels: int) -> Loaded:
    if folder is None:
        raise InputError("Choose the folder that holds your images, one subfolder per class.")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"There is no folder at {str(root)!r}; check the path.")
    files: list[tuple[tuple[str, ...], Reader]] = []
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow folder links
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath, filename)
            files.append((path.relative_to(root).parts, lambda path=path: path))
        if len(files) > 20_000:
            raise InputError("This folder holds more than 20,000 files; use a smaller one.")
    return _labelled_images(files, size, channels, f"the folder {root.name!r}")


def dataset_from_zip(
    data: bytes,
    *,
    size: int,
    channels: int,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_bytes: int = limits.ZIP.max_bytes,
    max_files: int = 20_000,
    max_uncompressed: int = 1 * 2**30,
) -> Dataset:
    """Make a data set from an uploaded zip of class folders, without writing to disk.

    The zip holds one folder per class (``cats/1.png``, ``dogs/7.jpg``), optionally inside a
    single top folder (``mydata/cats/1.png``). Its size, file count and total unpacked size
    (from the zip's directory, before anything is unpacked: a small "zip bomb" can claim
    gigabytes) are checked first; every member is then read into memory and decoded with
    :func:`cnnviz.load_image`. Files that are not readable images are skipped and counted.

    Args:
        data: The zip file's bytes.
        size: Side of the square images in pixels.
        channels: 1 (grayscale) or 3 (RGB).
        val_fraction: Share of the images kept for validation, in (0, 1).
        seed: Seed of the shuffle before the split.
        max_bytes: Largest accepted zip file in bytes.
        max_files: Most files the zip may hold.
        max_uncompressed: Largest accepted total of the unpacked files in bytes.

    Returns:
        A :class:`Dataset` named ``"folder"`` whose classes are the sorted folder names.

    Raises:
        InputError: Not a zip, too big, too many files, unsafe paths (absolute, ``..``, drive
            letters, links), encrypted, or fewer than two classes with readable images.
    """
    check_shape(size, channels)
    if len(data) > max_bytes:
        raise InputError(
            f"This zip is {len(data) / 2**20:,.1f} MB, more than the limit of "
            f"{max_bytes / 2**20:,.0f} MB: use a smaller one (fewer or smaller images)."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise InputError("This file is not a zip archive; upload a .zip of folders.") from error
    with archive:
        x, y, classes, source = _zip_images(archive, size, channels, max_files, max_uncompressed)
    train_x, train_y, val_x, val_y = split_dataset(x, y, val_fraction, seed)
    return Dataset("folder", classes, train_x, train_y, val_x, val_y, source)


def _zip_images(
    archive: zipfile.ZipFile, size: int, channels: int, max_files: int, max_uncompressed: int
) -> Loaded:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > max_files:
        raise InputError(f"This zip holds {len(members):,} files; the limit is {max_files:,}.")
    if sum(info.file_size for info in members) > max_uncompressed:
        raise InputError(
            f"This zip unpacks to more than {max_uncompressed / 2**20:,.0f} MB; use a smaller one."
        )
    files = [(_member_parts(info), _member_reader(archive, info)) for info in members]
    return _labelled_images(files, size, channels, "the zip")


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The path components of a zip member, refusing links and paths that leave the zip."""
    name = info.filename.replace("\\", "/")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    unsafe = name.startswith("/") or ".." in parts or re.match(r"[A-Za-z]:", name) is not None
    if unsafe or stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(
            f"The zip entry {info.filename!r} points outside its folders or is a link; "
            "zip the class folders again, without links."
        )
    if info.flag_bits & 0x1:
        raise InputError("This zip is password-protected; upload one without a password.")
    return parts


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Reader:
    def read() -> bytes:
        try:
            with archive.open(info) as member:
                return member.read(_READ_CAP)
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, NotImplementedError) as error:
            raise InputError(f"The zip entry {info.filename!r} is damaged.") from error

    return read
