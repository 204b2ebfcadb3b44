"""Your own model in the app: an uploaded ONNX file and a ResNet-18 checkpoint fine-tuned to 3
classes (safetensors), each with a labels file, show their feature maps and Grad-CAM; the
operator's model (``cnnviz run --model``) is in the sidebar; bad files get a sentence."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torchvision

from cnnviz import limits
from cnnviz.models.own import MODELS_ENV

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_onnx import small_cnn, to_onnx

LABELS = ("labels.txt", b"cat\ndog\nbird\n", "text/plain")
BINARY = "application/octet-stream"


def captions(at) -> list[str]:
    return [c for image in at.get("image") for c in image.captions] + [
        str(c.value) for c in at.caption
    ]


def choose_onnx(at, data: bytes):
    at.selectbox(key="model").set_value("onnx").run()
    at.file_uploader(key="onnx").set_value(("small.onnx", data, BINARY))
    return at.file_uploader(key="labels").set_value(LABELS).run()


@pytest.mark.parametrize("page", ["feature_maps", "attribution"])
def test_an_uploaded_onnx_model_shows_its_maps_and_grad_cam(open_page, text, page) -> None:
    at = choose_onnx(open_page(page, sample="chelsea"), to_onnx(small_cnn(), side=32))

    assert not at.exception
    assert not at.error
    shown = " ".join(text(at.markdown) + captions(at))
    assert "ONNX model small.onnx" in shown
    assert "Class names from labels.txt." in shown
    if page == "feature_maps":
        assert text(at.subheader)[0].endswith("(Conv2d): 4 x 32 x 32 (C x H x W)")
    else:
        cams = [c for c in captions(at) if c.startswith("Grad-CAM at ")]
        assert cams
        assert any(f"for “{name}”" in c for c in cams for name in ("cat", "dog", "bird"))


@pytest.mark.parametrize("page", ["feature_maps", "attribution"])
def test_a_three_class_resnet18_checkpoint_shows_its_maps_and_grad_cam(
    open_page, text, page
) -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=3)
    data = safetensors.torch.save(dict(net.state_dict()))
    at = open_page(page, model="resnet18", sample="chelsea")
    at.selectbox(key="weights").set_value("checkpoint").run()
    at.file_uploader(key="checkpoint").set_value(
        ("ft.safetensors", data, "application/octet-stream")
    )
    at = at.file_uploader(key="labels").set_value(LABELS).run()

    assert not at.exception
    assert not at.error
    shown = captions(at)
    assert any("Class names from labels.txt." in c for c in shown)
    if page == "feature_maps":
        assert text(at.subheader)[0] == "Output of conv1 (Conv2d): 64 x 112 x 112 (C x H x W)"
    else:
        assert any(c.startswith("Grad-CAM at layer4 for “") for c in shown)


def test_uploaders_state_their_limits(open_page) -> None:
    at = open_page()
    at.selectbox(key="model").set_value("onnx").run()
    onnx = at.file_uploader(key="onnx")
    assert limits.ONNX.describe() in onnx.label
    assert onnx.proto.max_upload_size_mb == limits.ONNX.megabytes
    assert at.file_uploader(key="labels").proto.max_upload_size_mb == limits.LABELS.megabytes


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        (b"not an onnx file at all", "This file is not an ONNX model"),
        (to_onnx(small_cnn(), input_dims=["N", 16]), "not an image batch"),
    ],
)
def test_a_bad_onnx_file_gets_a_sentence(open_page, text, data, sentence) -> None:
    at = open_page("feature_maps")
    at.selectbox(key="model").set_value("onnx").run()
    at = (
        at.file_uploader(key="onnx").set_value(("bad.onnx", data, "application/octet-stream")).run()
    )

    assert not at.exception
    assert any(sentence in e for e in text(at.error))


def test_the_operator_s_model_is_in_every_session_s_sidebar(
    open_page, text, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app_zoo_for_cnnviz.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def small():\n"
        "    torch.manual_seed(2)\n"
        "    return nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(5, 2))\n"
    )
    (tmp_path / "labels.json").write_text(json.dumps(["left", "right"]))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = {"target": "app_zoo_for_cnnviz:small", "weights": None,
             "labels": str(tmp_path / "labels.json")}  # fmt: skip
    monkeypatch.setenv(MODELS_ENV, json.dumps([entry]))
    at = open_page("feature_maps", model="app_zoo_for_cnnviz:small", sample="chelsea")

    assert not at.exception
    assert not at.error
    assert "app_zoo_for_cnnviz:small" in at.selectbox(key="model").options
    assert text(at.subheader)[0] == "Output of 0 (Conv2d): 5 x 222 x 222 (C x H x W)"
    assert any("Class names from labels.json." in c for c in captions(at))


@pytest.mark.parametrize(
    "page",
    ["home", "convolution", "pooling", "inside_layer", "feature_vis", "adversarial", "compare",
     "training"],
)  # fmt: skip
def test_every_other_page_runs_on_an_uploaded_onnx_model(open_page, text, page) -> None:
    at = choose_onnx(open_page(page, sample="chelsea"), to_onnx(small_cnn(), side=32))

    assert not at.exception
    assert not [e for e in text(at.error) if "Something went wrong" in e]
    assert at.selectbox(key="model").value == "onnx"


def test_the_onnx_model_s_pixel_scaling_can_be_chosen(open_page, text) -> None:
    at = choose_onnx(open_page("feature_maps", sample="chelsea"), to_onnx(small_cnn(), side=32))
    assert "ImageNet's normalization assumed" in " ".join(text(at.markdown))
    at = at.selectbox(key="onnx_norm").set_value("-1 to 1").run()

    assert not at.exception
    assert "(mean 0.5, std 0.5)" in " ".join(text(at.markdown))


def test_a_url_cannot_name_code_to_import(open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the operator's models (CNNVIZ_MODELS) are built: a link naming any other
    ``package.module:factory`` is not imported, let alone called."""
    import importlib

    imported: list[str] = []
    real = importlib.import_module
    monkeypatch.setattr(
        importlib, "import_module", lambda name, *a: imported.append(name) or real(name, *a)
    )
    monkeypatch.delenv(MODELS_ENV, raising=False)
    at = open_page("feature_maps", model="subprocess:getoutput")

    assert not at.exception
    assert at.selectbox(key="model").value != "subprocess:getoutput"
    assert "subprocess" not in imported
