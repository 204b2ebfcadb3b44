"""Share with the class: the Training page stores the model; its link opens it on every page."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import cnnviz
from cnnviz.models.store import STORE_ENV, ModelStore

JOIN_S = 120


@pytest.fixture(autouse=True)
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shared"
    monkeypatch.setenv(STORE_ENV, str(root))
    return root


def _decode_qr(png: bytes) -> str:
    """An independent reader (OpenCV's), as a phone would read the code."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return cv2.QRCodeDetector().detectAndDecode(np.pad(pixels, 20, constant_values=255))[0]


def _lenet_checkpoint(seed: int = 3) -> bytes:
    module = cnnviz.models.build_module("lenet5", seed=seed)
    model = cnnviz.load_model("lenet5", "random")
    model.module.load_state_dict(module.state_dict())
    buffer = io.BytesIO()
    cnnviz.save_checkpoint(model, buffer)
    return buffer.getvalue()


def test_share_button_after_training_gives_a_link_and_its_qr_code(open_page, text, store_root):
    at = open_page("training")
    at.number_input(key="train.epochs").set_value(1)
    at.button(key="train.start").click().run()
    for thread in threading.enumerate():
        if thread.name.startswith("cnnviz-train-"):
            thread.join(JOIN_S)
    at.run()
    at.button(key="train.share").click().run()

    assert not at.exception
    assert not at.error
    (link,) = [c.value for c in at.code]
    assert link.startswith("/feature_maps?model=lenet5&weights=shared-")
    ref = link.rsplit("weights=", 1)[1]
    assert [p.stem for p in ModelStore(store_root).entries()] == [ref.removeprefix("shared-")]
    captions = [c for image in at.get("image") for c in image.captions]
    assert "Scan to open this model on your phone" in captions

    # A student opens the link in another session: the same network, on Feature maps.
    student = open_page("feature_maps", model="lenet5", weights=ref)
    assert not student.exception
    assert not student.error
    assert any(c.startswith(f":material/verified: Shared with the class ({ref}") for c in
               text(student.caption))  # fmt: skip


def test_a_shared_link_shows_the_same_predictions_as_the_checkpoint(open_page, text, store_root):
    data = _lenet_checkpoint()
    ref = ModelStore(store_root).share(data).ref
    direct = cnnviz.probe(cnnviz.load_model("lenet5", data), cnnviz.load_sample("digit_3"))

    for page in ("feature_maps", "attribution", "convolution"):
        at = open_page(page, model="lenet5", weights=ref)
        assert not at.exception, page
        assert not at.error, page
        assert at.selectbox(key="weights").value == ref
    at = open_page("feature_maps", model="lenet5", weights=ref)
    top = direct.predictions[0]
    bars = [p.proto.text for p in at.get("progress")]
    assert bars[0] == f"{top.label} — {cnnviz.figures.percent(top.probability)}"


def test_an_unknown_shared_id_gets_a_clear_message(open_page, text):
    at = open_page("feature_maps", model="lenet5", weights="shared-AAAAAAAAAAAAAAAA")

    assert not at.exception
    (error,) = text(at.error)
    assert error.startswith("There is no shared model 'shared-AAAAAAAAAAAAAAAA' on this server")


def test_a_removed_model_is_said_even_when_it_was_cached(open_page, text, store_root):
    store = ModelStore(store_root)
    ref = store.share(_lenet_checkpoint()).ref
    assert not open_page("feature_maps", model="lenet5", weights=ref).error
    store.path(ref).unlink()  # removed to make room, while the server still holds it

    at = open_page("feature_maps", model="lenet5", weights=ref)
    (error,) = text(at.error)
    assert "removed to make room" in error


def test_qr_code_reads_back_as_the_link():
    url = "http://school.example:8501/feature_maps?model=lenet5&weights=shared-Ab_9-xYz0123abcd"
    assert _decode_qr(cnnviz.figures.qr_png(url)) == url
