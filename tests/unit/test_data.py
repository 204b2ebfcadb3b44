"""Data sets: bundled digits, drawn shapes, torchvision files on disk (faked), folders and zips."""

from __future__ import annotations

import gzip
import io
import pickle
import re
import stat
import struct
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from weights_server import local_only

from cnnviz.data import (
    DATASET_INFO,
    DATASETS,
    SHAPES,
    Dataset,
    dataset_from_zip,
    load_dataset,
)
from cnnviz.errors import InputError


@pytest.fixture(autouse=True)
def _network_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The torchvision data sets' downloads go through cnnviz.network: fresh reachability
    verdicts, CNNVIZ_OFFLINE unset, and no name but localhost resolves (the tests fake
    ``urlopen`` where they need a server)."""
    local_only(monkeypatch)


def _all(data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([data.train_x, data.val_x]), torch.cat([data.train_y, data.val_y])


def _png(value: int, size: tuple[int, int] = (12, 9), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (value, 255 - value, 30) if mode == "RGB" else value).save(buffer, "PNG")
    return buffer.getvalue()


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("The network was used although the files are there.")


def test_every_data_set_has_a_line_for_the_page() -> None:
    assert tuple(DATASET_INFO) == DATASETS
    assert all(line.endswith(".") for line in DATASET_INFO.values())


# --- digits -----------------------------------------------------------------------------------


def test_digits_are_uint8_at_32_with_ten_classes_and_a_full_split() -> None:
    data = load_dataset("digits")
    assert data.train_x.dtype == torch.uint8
    assert data.train_x.shape[1:] == (1, 32, 32)
    assert data.image_shape == (1, 32, 32)
    assert data.classes == tuple("0123456789")
    assert len(data.train_x) + len(data.val_x) == 1797
    assert len(data.val_x) == round(1797 * 0.2)
    assert data.train_y.dtype == torch.int64
    assert sorted(torch.cat([data.train_y, data.val_y]).unique().tolist()) == list(range(10))


def test_digits_split_is_seeded() -> None:
    a, b = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    torch.testing.assert_close(a.train_x, b.train_x)
    torch.testing.assert_close(a.val_y, b.val_y)
    assert not torch.equal(a.val_y, load_dataset("digits", seed=4).val_y)


def test_digits_in_colour_and_at_28() -> None:
    colour = load_dataset("digits", channels=3)
    assert colour.image_shape == (3, 32, 32)
    # A grey picture in RGB: the three channels are equal.
    torch.testing.assert_close(colour.train_x[:, 0], colour.train_x[:, 2])
    assert load_dataset("digits", size=28).image_shape == (1, 28, 28)


def test_limit_keeps_a_seeded_subset() -> None:
    data = load_dataset("digits", limit=100, seed=1)
    assert len(data.train_x) + len(data.val_x) == 100
    torch.testing.assert_close(data.val_x, load_dataset("digits", limit=100, seed=1).val_x)


@pytest.mark.parametrize(
    ("name", "options", "words"),
    [
        ("imagenet", {}, "no data set called"),
        ("digits", {"channels": 2}, "1 channel"),
        ("digits", {"size": 0}, "size"),
        ("digits", {"val_fraction": 1.0}, "validation fraction"),
        ("digits", {"limit": 1}, "at least 2"),
        ("shapes", {"count": 3}, "at least 6"),
    ],
)
def test_bad_requests_say_what_is_wrong(name: str, options: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        load_dataset(name, **options)


# --- shapes -----------------------------------------------------------------------------------


def test_shapes_are_seeded_and_balanced() -> None:
    a = load_dataset("shapes", seed=5)
    b = load_dataset("shapes", seed=5)
    assert torch.equal(a.train_x, b.train_x)
    assert torch.equal(a.val_y, b.val_y)
    assert not torch.equal(a.train_x, load_dataset("shapes", seed=6).train_x)
    x, y = _all(a)
    assert x.shape == (1200, 1, 32, 32)
    assert a.classes == SHAPES
    assert torch.bincount(y).tolist() == [200] * 6
    assert torch.bincount(a.val_y, minlength=6).min() >= 20  # roughly even after the split


@pytest.mark.parametrize("channels", [1, 3])
def test_every_shape_stands_out_from_its_background(channels: int) -> None:
    data = load_dataset("shapes", channels=channels, count=120, size=24)
    x, y = _all(data)
    grey = x.float().mean(dim=1) if channels == 3 else x[:, 0].float()
    spread = grey.amax(dim=(1, 2)) - grey.amin(dim=(1, 2))
    # The colours are >= 90 brightness levels apart, the noise has sd 8: a flat or noise-only
    # image would spread far less than this.
    for k in range(len(SHAPES)):
        assert spread[y == k].min() > 60, SHAPES[k]
    assert x.shape[1:] == (channels, 24, 24)


# --- torchvision files on disk -------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    """IDX ("ubyte") format: magic 0x0000 08 <ndim>, big-endian dims, then uint8 data."""
    header = struct.pack(">I", 0x800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_files(n: int = 40) -> dict[str, bytes]:
    """Fake MNIST images whose brightness is 20 * label, so labels can be checked on pixels."""
    labels = np.arange(n) % 10
    images = np.repeat((labels * 20)[:, None, None], 28 * 28, axis=1).reshape(n, 28, 28)
    return {
        "train-images-idx3-ubyte": _idx(images),
        "train-labels-idx1-ubyte": _idx(labels),
        "t10k-images-idx3-ubyte": _idx(images[:2]),
        "t10k-labels-idx1-ubyte": _idx(labels[:2]),
    }


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_files_on_disk(
    name: str, folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torchvision reads root/<Class>/raw/<name>-ubyte (unpacked; it only checks they exist).
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for filename, content in _mnist_files().items():
        (raw / filename).write_bytes(content)
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    data = load_dataset(name, root=tmp_path, size=32, seed=2)
    x, y = _all(data)
    assert x.shape == (40, 1, 32, 32)
    assert x.dtype == torch.uint8
    assert data.classes == tuple(getattr(torchvision.datasets, folder).classes)
    assert len(data.val_x) == 8
    torch.testing.assert_close(x[:, 0, 16, 16], (y * 20).to(torch.uint8))
    assert "40 of the 40" in data.source
    small = load_dataset(name, root=tmp_path, limit=20, channels=3)
    assert small.image_shape == (3, 32, 32)
    assert len(small.train_x) + len(small.val_x) == 20


def test_cifar10_files_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for i, filename in enumerate([*(f"data_batch_{b}" for b in range(1, 6)), "test_batch"]):
        labels = [(i + j) % 10 for j in range(4)]
        # CIFAR rows are 3072 bytes: the red plane, then green, then blue, each 32 x 32.
        planes = [np.full((4, 1024), v, dtype=np.uint8) for v in (0, 100, 200)]
        planes[0][:] = np.array(labels, dtype=np.uint8)[:, None] * 20
        batch = {"data": np.concatenate(planes, axis=1), "labels": labels}
        (folder / filename).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    # torchvision checks the MD5 sum of every file (in CIFAR10._check_integrity and
    # _load_meta, both through the module's check_integrity); fakes cannot match, so only
    # check that the files exist.
    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: Path(path).is_file()
    )
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    data = load_dataset("cifar10", root=tmp_path, channels=3, val_fraction=0.25)
    x, y = _all(data)
    assert data.classes == tuple(names)
    assert x.shape == (20, 3, 32, 32)  # the 5 training batches of 4; test_batch is not used
    assert (len(data.train_x), len(data.val_x)) == (15, 5)
    torch.testing.assert_close(x[:, 0, 5, 5], (y * 20).to(torch.uint8))
    assert torch.all(x[:, 2] == 200)
    grey = load_dataset("cifar10", root=tmp_path, channels=1, size=16)
    assert grey.image_shape == (1, 16, 16)


def test_offline_without_files_says_what_to_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeouts: list[float | None] = []

    def offline(request: urllib.request.Request, timeout: float | None = None) -> None:
        timeouts.append(timeout)
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(InputError, match="cannot be reached") as caught:
        load_dataset("mnist", root=tmp_path / "empty")
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "empty" / "MNIST" / "raw") in message
    assert "internet" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message
    assert timeouts
    assert all(t is not None and t <= 10 for t in timeouts)
    with pytest.raises(
        InputError,
        match=re.escape(
            "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/ and unpack it"
        ),
    ):
        load_dataset("cifar10", root=tmp_path / "empty")


class _Response(io.BytesIO):
    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


@pytest.fixture
def fake_mirror(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serve gzipped fake MNIST files at every URL; returns the URLs fetched."""
    files = {name + ".gz": gzip.compress(content) for name, content in _mnist_files().items()}
    fetched: list[str] = []

    def urlopen(request: urllib.request.Request, timeout: float | None = None) -> _Response:
        assert timeout is not None
        fetched.append(request.get_method() + " " + request.full_url)
        return _Response(files[request.full_url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return fetched


def test_missing_files_are_downloaded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mirror: list[str]
) -> None:
    # The fake files cannot match torchvision's MD5 sums.
    monkeypatch.setattr(
        torchvision.datasets.utils, "check_integrity", lambda path, md5=None: Path(path).is_file()
    )
    seen: list[tuple[int, int | None]] = []
    data = load_dataset(
        "mnist", root=tmp_path, progress=lambda done, total: seen.append((done, total))
    )
    assert len(data.train_x) + len(data.val_x) == 40
    assert fake_mirror[0].startswith("HEAD ")
    assert sum(url.startswith("GET ") for url in fake_mirror) == 4
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert seen
    assert all(total is not None and done <= total for done, total in seen)
    fake_mirror.clear()
    load_dataset("mnist", root=tmp_path)
    assert fake_mirror == []


def test_a_damaged_download_is_refused(tmp_path: Path, fake_mirror: list[str]) -> None:
    with pytest.raises(InputError, match="damaged"):
        load_dataset("mnist", root=tmp_path)
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()


# --- your own folders and zips ---------------------------------------------------------------


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def test_folder_reads_one_class_per_subfolder(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "cats/a.png": _png(10),
            "cats/b.png": _png(20, (40, 40)),
            "cats/more/c.png": _png(30, mode="L"),
            "dogs/a.png": _png(200),
            "dogs/notes.txt": b"not an image",
            "dogs/.DS_Store": b"\0\0",
            ".hidden/x.png": _png(0),
            "readme.png": _png(0),
        },
    )
    data = load_dataset("folder", folder=tmp_path, size=8, channels=3, val_fraction=0.25)
    x, y = _all(data)
    assert data.classes == ("cats", "dogs")
    assert x.shape == (4, 3, 8, 8)
    assert torch.bincount(y).tolist() == [3, 1]
    assert "skipped 1 unreadable file." in data.source
    red = {int(label): int(image[0, 4, 4]) for image, label in zip(x, y, strict=True) if label}
    assert red == {1: 200}


def test_folder_under_a_single_top_folder(tmp_path: Path) -> None:
    _write(tmp_path, {"mydata/cats/1.png": _png(5), "mydata/dogs/1.png": _png(9)})
    data = load_dataset("folder", folder=tmp_path, size=4)
    assert data.classes == ("cats", "dogs")
    assert "skipped" not in data.source


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"cats/1.png": _png(1), "cats/2.png": _png(2)}, "at least two classes"),
        ({"1.png": _png(1)}, "at least two classes"),
        ({"cats/1.png": _png(1), "dogs/1.txt": b"text"}, "'dogs' has no image"),
    ],
)
def test_folder_needs_two_classes_of_images(tmp_path: Path, files: dict, words: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(InputError, match=words):
        load_dataset("folder", folder=tmp_path)


def test_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no folder"):
        load_dataset("folder", folder=tmp_path / "nope")
    with pytest.raises(InputError, match="Choose the folder"):
        load_dataset("folder")


def _zip(files: dict[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("top", ["", "mydata/"])
def test_zip_classes_with_or_without_a_top_folder(top: str) -> None:
    data = _zip(
        {
            f"{top}cats/1.png": _png(1),
            f"{top}cats/2.png": _png(2),
            f"{top}dogs/1.png": _png(3, mode="L"),
            f"{top}dogs/bad.png": b"\x89PNG broken",
            f"__MACOSX/{top}cats/._1.png": b"apple double",
            f"{top}.DS_Store": b"\0",
        }
    )
    dataset = dataset_from_zip(data, size=6, channels=1, seed=1)
    x, y = _all(dataset)
    assert dataset.name == "folder"
    assert dataset.classes == ("cats", "dogs")
    assert x.shape == (3, 1, 6, 6)
    assert torch.bincount(y).tolist() == [2, 1]
    assert "skipped 1 unreadable file." in dataset.source


def test_zip_with_windows_separators() -> None:
    data = _zip({"cats\\1.png": _png(1), "dogs\\1.png": _png(2)})
    assert dataset_from_zip(data, size=4, channels=3).classes == ("cats", "dogs")


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("files", "options", "words"),
    [
        ({"a/1.png": _png(1), "b/1.png": _png(1)}, {"max_bytes": 100}, "more than the limit"),
        (
            {"a/1.png": _png(1), "b/1.png": _png(1)},
            {"max_files": 1},
            "holds 2 files; the limit is 1",
        ),
        ({"a/1.png": b"\0" * 2**20, "b/1.png": _png(1)}, {"max_uncompressed": 2**19}, "unpacks"),
        ({"../a/1.png": _png(1), "b/1.png": _png(1)}, {}, "outside"),
        ({"a/../../1.png": _png(1), "b/1.png": _png(1)}, {}, "outside"),
        ({"/etc/a/1.png": _png(1), "b/1.png": _png(1)}, {}, "outside"),
        ({"C:/a/1.png": _png(1), "b/1.png": _png(1)}, {}, "outside"),
        ({_link("a/1.png"): b"/etc/passwd", "b/1.png": _png(1)}, {}, "link"),
        ({"a/1.png": _png(1), "a/2.png": _png(1)}, {}, "at least two classes"),
    ],
)
def test_zip_refusals(files: dict, options: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        dataset_from_zip(_zip(files), size=4, channels=1, **options)


def test_not_a_zip() -> None:
    with pytest.raises(InputError, match="not a zip"):
        dataset_from_zip(_png(1), size=4, channels=1)
    with pytest.raises(InputError, match="not a zip"):
        dataset_from_zip(b"", size=4, channels=1)


def test_preview_groups_a_few_images_per_class() -> None:
    data = load_dataset("digits", size=16)
    images, labels = data.preview(per_class=2)
    assert images.shape == (20, 1, 16, 16)
    assert images.dtype == np.uint8
    assert labels.tolist() == [k for k in range(10) for _ in range(2)]


def test_offline_by_choice_never_asks_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CNNVIZ_OFFLINE=1 keeps data sets off the network too, as it does weights."""
    asked: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: asked.append(1))
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    with pytest.raises(InputError, match="cannot be reached"):
        load_dataset("mnist", root=tmp_path / "empty")
    assert asked == []
