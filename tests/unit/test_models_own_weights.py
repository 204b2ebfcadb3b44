"""Your own weights for a registry architecture: fine-tuned heads, labels files, safetensors.

The oracle is the module the weights came from: the loaded model must compute what it computes.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torchvision

import cnnviz
from cnnviz.errors import ModelError
from cnnviz.models import load_model
from cnnviz.models.checkpoints import head_layer
from cnnviz.models.labels import numbered_labels, read_labels
from cnnviz.nets import LeNet5


def seeded(build, seed: int = 3) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().eval()


def to_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def resnet3() -> torch.nn.Module:
    """A ResNet-18 fine-tuned to 3 classes, as torchvision builds it."""
    return seeded(lambda: torchvision.models.resnet18(num_classes=3))


def outputs(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(x)


# --- fine-tuned heads -------------------------------------------------------------------------


def test_resnet18_fine_tuned_to_three_classes_loads_and_computes_as_trained(resnet3) -> None:
    model = load_model("resnet18", to_bytes(resnet3.state_dict()))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(outputs(model.module, x), outputs(resnet3, x))
    assert model.labels == ("class 0", "class 1", "class 2")
    assert "numbered class 0 … class 2" in model.labels_source
    assert model.module.fc.out_features == 3


def test_fine_tuned_head_names_from_a_labels_file(resnet3, tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("cat\ndog\n\nbird\n", encoding="utf-8")
    labels = read_labels(path)
    model = load_model("resnet18", to_bytes(resnet3.state_dict()), labels=labels)
    assert model.labels == ("cat", "dog", "bird")
    assert model.labels_source == "Class names from labels.txt."
    p = cnnviz.probe(model, cnnviz.load_sample("chelsea"))
    assert {x.label for x in p.predictions} <= {"cat", "dog", "bird"}


def test_labels_file_of_another_class_count_is_refused(resnet3) -> None:
    labels = read_labels(b"cat\ndog\n", origin="two.txt")
    with pytest.raises(ModelError, match=r"two.txt names 2 classes.*3 outputs"):
        load_model("resnet18", to_bytes(resnet3.state_dict()), labels=labels)


def test_class_names_from_the_checkpoint_metadata() -> None:
    net = seeded(lambda: LeNet5(num_classes=4))
    meta = {"classes": ["a", "b", "c", "d"]}
    model = load_model("lenet5", to_bytes({"state_dict": net.state_dict(), "meta": meta}))
    assert model.labels == ("a", "b", "c", "d")
    assert model.labels_source == "Class names from the checkpoint."
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(outputs(model.module, x), outputs(net, x))


def test_a_head_of_the_architecture_s_own_size_keeps_its_names() -> None:
    model = load_model("lenet5", to_bytes(seeded(LeNet5).state_dict()))
    assert model.labels == tuple(str(d) for d in range(10))
    assert model.labels_source == ""


def test_a_body_that_does_not_fit_is_still_refused_and_named(resnet3) -> None:
    state = dict(resnet3.state_dict())
    state["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    with pytest.raises(ModelError, match=r"'conv1.weight' has shape \(64, 3, 5, 5\)"):
        load_model("resnet18", to_bytes(state))


def test_the_head_is_the_last_linear_or_else_the_last_1x1_conv() -> None:
    assert head_layer(torchvision.models.resnet18()) == "fc"
    assert head_layer(torchvision.models.vgg11()) == "classifier.6"
    conv_head = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 5, 1), torch.nn.Flatten()
    )
    assert head_layer(conv_head) == "2"
    assert head_layer(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))) is None


# --- labels files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (b"cat\r\ndog\n", ("cat", "dog")),
        (b'["cat", "dog"]', ("cat", "dog")),
        (b'{"1": "dog", "0": "cat"}', ("cat", "dog")),
        ("\ufeffkatze\nhund".encode(), ("katze", "hund")),
    ],
)
def test_labels_files_in_lines_or_json(data: bytes, names: tuple[str, ...]) -> None:
    assert read_labels(data).names == names


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"x" * (10 * 2**20), "larger than 1 MB"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b'{"cat": 0}', "indices 0 to K-1"),
        (b"[1, 2", "not valid JSON"),
        (b"\n \n", "names no class"),
        (b"x" * 300, "longer than 200"),
    ],
)
def test_bad_labels_files_are_refused_in_a_sentence(data: bytes, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        read_labels(data)


def test_a_ten_megabyte_labels_file_on_disk_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"label\n" * (10 * 2**20 // 6))
    with pytest.raises(ModelError, match="larger than 1 MB"):
        read_labels(path)


def test_numbered_labels() -> None:
    assert numbered_labels(2) == ("class 0", "class 1")


# --- safetensors ------------------------------------------------------------------------------


def test_safetensors_file_loads_from_a_path_and_from_bytes(resnet3, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(
        dict(resnet3.state_dict()), path, metadata={"classes": json.dumps(["a", "b", "c"])}
    )
    x = torch.randn(1, 3, 64, 64)
    for source in (path, str(path), path.read_bytes()):
        model = load_model("resnet18", source)
        torch.testing.assert_close(outputs(model.module, x), outputs(resnet3, x))
        assert model.labels == ("a", "b", "c")


def test_safetensors_without_the_suffix_is_told_apart_by_its_header(tmp_path: Path) -> None:
    net = seeded(LeNet5)
    path = tmp_path / "weights.bin"
    safetensors.torch.save_file(dict(net.state_dict()), path)
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(outputs(load_model("lenet5", path).module, x), outputs(net, x))


def _lying_header(tensor_bytes: int, claimed_end: int) -> bytes:
    header = {"w": {"dtype": "F32", "shape": [claimed_end // 4], "data_offsets": [0, claimed_end]}}
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"\0" * tensor_bytes


@pytest.mark.parametrize(
    "data",
    [
        _lying_header(16, 4 * 2**30),  # claims 4 GiB of tensor data in a 16-byte body
        struct.pack("<Q", 2**40) + b"{}",  # a header longer than the file
        b"\x10\0\0\0\0\0\0\0{not json at all",
    ],
)
def test_a_safetensors_header_that_lies_is_refused_cleanly(data: bytes) -> None:
    with pytest.raises(ModelError, match="This safetensors file is corrupt"):
        load_model("lenet5", data)
