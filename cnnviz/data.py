"""Data sets to train on, as in-memory uint8 images at the model's size, split and seeded.

Every data set comes back as a :class:`Dataset`: images of shape (N, C, H, W) as uint8 pixels
(0..255), exactly what :meth:`cnnviz.Model.view` would make of a picture, so a network trained
here reads uploaded images the same way. Normalization belongs to the model, not the data.

``digits`` and ``shapes`` work offline; ``mnist``, ``fashion_mnist`` and ``cifar10`` are read by
torchvision from a data folder and downloaded into it once, only when missing and only when the
download server answers; ``folder`` and :func:`dataset_from_zip` read the student's own images.
"""

from __future__ import annotations

import io
import os
import re
import stat
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from cnnviz.errors import InputError
from cnnviz.images import load_image

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "SHAPES",
    "Dataset",
    "ProgressCallback",
    "dataset_from_zip",
    "default_root",
    "load_dataset",
]

DATASETS = ("digits", "shapes", "mnist", "fashion_mnist", "cifar10", "folder")
"""Names :func:`load_dataset` knows."""
DATASET_INFO: dict[str, str] = {
    "digits": "1,797 handwritten digits scanned at 8 x 8 (UCI, bundled with scikit-learn); "
    "10 classes, 0 to 9; works offline.",
    "shapes": "Circles, squares, triangles, crosses, stripes and rings drawn on the spot at random "
    "places, sizes, angles and colours on a noisy background; 6 classes, 1,200 images; offline.",
    "mnist": "MNIST: 60,000 handwritten digits, 28 x 28 grey; 10 classes, 0 to 9; "
    "downloaded once (about 10 MB).",
    "fashion_mnist": "Fashion-MNIST: 60,000 photos of clothes, 28 x 28 grey; 10 classes "
    "(T-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot); "
    "downloaded once (about 30 MB).",
    "cifar10": "CIFAR-10: 50,000 small colour photos, 32 x 32; 10 classes (airplane, car, bird, "
    "cat, deer, dog, frog, horse, ship, truck); downloaded once (about 170 MB).",
    "folder": "Your own images: one subfolder of images per class (at least two classes), "
    "from a folder on this computer or an uploaded zip.",
}
"""One line per data set for the page: what it is, how big, which classes."""
SHAPES = ("circle", "square", "triangle", "cross", "stripes", "ring")
"""Classes of the ``shapes`` data set, in label order."""
ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while a file downloads."""

PROBE_TIMEOUT_S = 5.0
DOWNLOAD_TIMEOUT_S = 20.0
_TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as PIL's convert("L")
_NOISE = 8.0  # standard deviation of the background noise of ``shapes``, in pixel levels
_READ_CAP = 20 * 2**20 + 1  # load_image's byte limit, plus one so it can say "too big"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A labelled image set, split into training and validation parts.

    Attributes:
        name: Data set name (``"digits"``).
        classes: Class names; labels index into them.
        train_x: Training images, uint8 (N, C, H, W).
        train_y: Training labels, int64 (N,).
        val_x: Validation images, uint8 (M, C, H, W).
        val_y: Validation labels, int64 (M,).
        source: One sentence on where the images came from.
    """

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor = field(repr=False)
    train_y: torch.Tensor = field(repr=False)
    val_x: torch.Tensor = field(repr=False)
    val_y: torch.Tensor = field(repr=False)
    source: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def preview(self, per_class: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """A few validation images of each class: uint8 (K, C, H, W) and their labels (K,)."""
        picks: list[int] = []
        labels = self.val_y.numpy()
        for k in range(len(self.classes)):
            picks.extend(np.flatnonzero(labels == k)[:per_class].tolist())
        index = np.asarray(sorted(picks), dtype=np.int64)
        return self.val_x.numpy()[index], labels[index]


Loaded = tuple[Any, Any, tuple[str, ...], str]  # images, labels, classes, source


def default_root() -> Path:
    """The folder torchvision data sets live in: ``$CNNVIZ_DATA`` or ``~/.cache/cnnviz/data``."""
    return Path(os.environ.get("CNNVIZ_DATA") or "~/.cache/cnnviz/data").expanduser()


def _view(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """One image -> uint8 (size, size, C), as :meth:`cnnviz.Model.view` (mode, then bilinear)."""
    resized = image.convert("L" if channels == 1 else "RGB").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(resized).reshape(size, size, channels)


def _resize(pixels: np.ndarray, size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> uint8 (N, C, size, size), bilinear, as Model.view."""
    out = np.empty((len(pixels), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(pixels):
        out[i] = _view(Image.fromarray(image), size, channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _split(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle with ``seed`` and cut off ``val_fraction`` for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise InputError("The validation fraction must be between 0 and 1.")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(len(x) * val_fraction))
    val, train = order[:cut], order[cut:]
    return x[train], y[train], x[val], y[val]


def _pick(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` items: a seeded random subset, or all in order."""
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 2:
        raise InputError("The image limit must be at least 2, so there is something to validate.")
    return np.random.default_rng(seed).permutation(n)[:limit]


def _digits(size: int, channels: int) -> Loaded:
    from sklearn.datasets import load_digits  # ships its data: no network

    bunch = load_digits()
    pixels = np.clip(bunch.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    x = _resize(pixels, size, channels)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    source = "1,797 handwritten digits (8 x 8 scans, UCI), bundled with scikit-learn."
    return x, y, tuple(str(d) for d in range(10)), source


def _shapes(size: int, channels: int, count: int, seed: int) -> Loaded:
    """``count`` shapes, as many of each class, drawn in RGB then viewed like any picture.

    The shape's colour ``f`` is random; the background ``b`` is random too but at least 90
    levels of brightness (``0.299 R + 0.587 G + 0.114 B``) away, so the shape stays visible
    in grey. Each pixel is ``b + (f - b) * coverage + noise`` with Gaussian noise of sd 8.
    """
    if count < len(SHAPES):
        raise InputError(f"Ask for at least {len(SHAPES)} shapes, one of each kind.")
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPES)
    pixels = np.empty((count, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        coverage = _shape_mask(int(label), size, rng)[..., None]
        fg, bg = _colours(rng)
        noise = rng.normal(0.0, _NOISE, (size, size, 3))
        pixels[i] = np.clip(np.rint(bg + (fg - bg) * coverage + noise), 0, 255)
    x = _resize(pixels, size, channels)
    source = f"{count:,} shapes drawn by cnnviz with seed {seed}."
    return x, torch.from_numpy(labels.astype(np.int64)), SHAPES, source


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random shape colour and a background at least 90 brightness levels away."""
    fg, bg = rng.uniform(0.0, 255.0, 3), rng.uniform(0.0, 255.0, 3)
    luma = float(fg @ _LUMA)
    if luma > 127.5:  # bright shape: scale the background down to at most luma - 90
        return fg, bg * ((luma - 90.0) / 255.0)
    return fg, 255.0 - bg * ((165.0 - luma) / 255.0)  # dark shape: background >= luma + 90


def _shape_mask(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage in [0, 1], float (size, size), of one shape drawn supersampled for soft edges."""
    scale = max(1, min(4, 256 // size))
    big = size * scale
    radius = rng.uniform(0.22, 0.4) * big
    centre = rng.uniform(radius, big - radius, 2)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    mask = Image.new("L", (big, big))
    draw = ImageDraw.Draw(mask)
    cos, sin = np.cos(angle), np.sin(angle)

    def polygon(points: list[tuple[float, float]]) -> None:
        local = np.asarray(points) * radius
        turned = local @ np.array([[cos, sin], [-sin, cos]]) + centre
        draw.polygon([tuple(p) for p in turned.tolist()], fill=255)

    box = [*(centre - radius).tolist(), *(centre + radius).tolist()]
    name = SHAPES[kind]
    if name == "circle":
        draw.ellipse(box, fill=255)
    elif name == "ring":
        draw.ellipse(box, outline=255, width=max(1, round(0.3 * radius)))
    elif name in ("square", "triangle"):
        corners = 4 if name == "square" else 3
        polygon([(np.cos(a), np.sin(a)) for a in np.arange(corners) * 2.0 * np.pi / corners])
    elif name == "cross":
        w, r = 0.28, 0.95
        polygon([(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w),
                 (-r, -w), (-r, w), (-w, w), (-w, r)])  # fmt: skip
    else:  # stripes: three parallel bars
        for x in (-0.5, 0.0, 0.5):
            polygon([(x - 0.14, -0.7), (x + 0.14, -0.7), (x + 0.14, 0.7), (x - 0.14, 0.7)])
    return np.asarray(mask.reduce(scale), dtype=np.float64) / 255.0


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
    if not any(_reachable(url) for url in files[0][0]):
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


def _reachable(url: str) -> bool:
    """Whether the server of ``url`` answers within :data:`PROBE_TIMEOUT_S` seconds."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "cnnviz"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:
        return True  # it answered; a refusal shows up when downloading
    except (OSError, ValueError):
        return False


def _fetch(url: str, path: Path, progress: ProgressCallback | None) -> bool:
    """Download ``url`` to ``path`` (via a ``.part`` file); False if it failed."""
    part = path.with_name(path.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "cnnviz"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            with part.open("wb") as out:
                while chunk := response.read(2**16):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
    except (OSError, ValueError):
        part.unlink(missing_ok=True)
        return False
    part.replace(path)
    return True


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
                images.append(_view(load_image(read()), size, channels))
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
    max_bytes: int = 200 * 2**20,
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
    _check_shape(size, channels)
    if len(data) > max_bytes:
        raise InputError(f"This zip is larger than {max_bytes / 2**20:.0f} MB; use a smaller one.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise InputError("This file is not a zip archive; upload a .zip of folders.") from error
    with archive:
        x, y, classes, source = _zip_images(archive, size, channels, max_files, max_uncompressed)
    train_x, train_y, val_x, val_y = _split(x, y, val_fraction, seed)
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


def _check_shape(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise InputError("Images must have 1 channel (grey) or 3 (colour).")
    if not 1 <= size <= 1024:
        raise InputError("The image size must be between 1 and 1024 pixels.")


def load_dataset(
    name: str,
    *,
    size: int = 32,
    channels: int = 1,
    val_fraction: float = 0.2,
    seed: int = 0,
    count: int = 1200,
    limit: int | None = None,
    root: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Load a data set at a model's input size and channels, split and seeded.

    Every image goes through the same steps as :meth:`cnnviz.Model.view`: convert to ``"L"``
    (``0.299 R + 0.587 G + 0.114 B``) or ``"RGB"``, then a bilinear resize to ``size``. The
    torchvision data sets use their training split only; it is shuffled with ``seed``, cut to
    ``limit`` images, and then split into training and validation parts.

    Args:
        name: One of :data:`DATASETS` (see :data:`DATASET_INFO`).
        size: Side of the square images in pixels, 1..1024.
        channels: 1 (grayscale) or 3 (RGB).
        val_fraction: Share of the images kept for validation, in (0, 1).
        seed: Seed of the shuffle before the split, of ``limit``'s subset and of ``shapes``.
        count: How many images ``shapes`` draws (as many of each of its 6 classes).
        limit: Keep at most this many images, a random subset (keeps a classroom run small).
        root: Folder of the torchvision data sets; default :func:`default_root`.
        folder: For ``"folder"``: a local folder with one subfolder of images per class.
        progress: Called as ``progress(bytes_done, bytes_total_or_None)`` while downloading.

    Returns:
        The :class:`Dataset`.

    Raises:
        InputError: Unknown name, bad sizes, or data that cannot be had (offline and not yet
            downloaded, a folder with fewer than two classes, ...).
    """
    _check_shape(size, channels)
    if name == "digits":
        x, y, classes, source = _digits(size, channels)
    elif name == "shapes":
        x, y, classes, source = _shapes(size, channels, count, seed)
    elif name == "folder":
        x, y, classes, source = _folder(folder, size, channels)
    elif name in _TORCHVISION:
        where = Path(root).expanduser() if root is not None else default_root()
        pixels, labels, classes, source = _torchvision(name, where, progress)
        index = _pick(len(pixels), limit, seed)
        x, y = _resize(pixels[index], size, channels), torch.from_numpy(labels[index])
        source = f"{len(index):,} of {source}"
    else:
        raise InputError(
            f"There is no data set called '{name}'. Choose one of: {', '.join(DATASETS)}."
        )
    if name not in _TORCHVISION and limit is not None:
        index = torch.from_numpy(_pick(len(x), limit, seed))
        x, y = x[index], y[index]
    train_x, train_y, val_x, val_y = _split(x, y, val_fraction, seed)
    return Dataset(name, classes, train_x, train_y, val_x, val_y, source)
