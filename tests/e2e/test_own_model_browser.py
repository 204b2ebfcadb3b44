"""Your own model in a real browser: an uploaded ONNX file with its labels shows feature maps
and then Grad-CAM on another page; a server started with the operator's model
(``CNNVIZ_MODELS``, as ``cnnviz run --model`` sets it) offers it in the sidebar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from browser import App, expect_no_exception, main, wait_for_app
from playwright.sync_api import Page, expect

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_onnx import small_cnn, to_onnx  # the ONNX files of the unit tests

pytestmark = pytest.mark.e2e


def _sidebar_file(page: Page, label: str):
    uploader = page.get_by_test_id("stSidebar").get_by_test_id("stFileUploader")
    return uploader.filter(has_text=label).locator("input[type=file]")


def test_an_uploaded_onnx_model_shows_feature_maps_then_grad_cam(app: App) -> None:
    page = app.open("/feature_maps?model=onnx&sample=chelsea")
    _sidebar_file(page, "ONNX model").set_input_files(
        files=[{"name": "small.onnx", "mimeType": "application/octet-stream",
                "buffer": to_onnx(small_cnn(), side=64)}]
    )  # fmt: skip
    _sidebar_file(page, "Class names").set_input_files(
        files=[{"name": "labels.txt", "mimeType": "text/plain", "buffer": b"cat\ndog\nbird\n"}]
    )
    expect(main(page).get_by_text("(Conv2d): 4 x 64 x 64 (C x H x W)")).to_be_visible()
    expect(main(page).get_by_text("Class names from labels.txt.")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text("Grad-CAM & saliency").click()
    wait_for_app(page)
    expect(main(page).get_by_text("Grad-CAM at ").first).to_be_visible()
    expect_no_exception(page)


def test_the_operator_s_model_is_offered_by_the_server(server, app_page: Page, tmp_path) -> None:
    (tmp_path / "e2e_zoo_for_cnnviz.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def small():\n"
        "    torch.manual_seed(2)\n"
        "    return nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(5, 2))\n"
    )
    models = json.dumps([{"target": "e2e_zoo_for_cnnviz:small", "weights": None, "labels": None}])
    with server(tmp_path / "torch_home", CNNVIZ_MODELS=models, PYTHONPATH=str(tmp_path)) as url:
        app = App(app_page, url)
        page = app.open("/feature_maps?model=e2e_zoo_for_cnnviz:small&sample=chelsea")
        expect(main(page).get_by_text("Output of 0 (Conv2d): 5 x 222 x 222")).to_be_visible()
        expect_no_exception(page)
