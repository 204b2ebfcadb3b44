"""timm models (``timm:<name>``): built offline with random weights, preprocessed as timm's data
config says, and every cnnviz call working on them."""

from __future__ import annotations

import pytest
import torch

import cnnviz
from cnnviz.errors import ModelError
from cnnviz.models import load_model
from cnnviz.models.timm_models import load_timm

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def resnet10t() -> cnnviz.Model:
    return load_model("timm:resnet10t", weights="random")


def test_a_timm_cnn_is_preprocessed_as_timm_s_data_config_says(resnet10t) -> None:
    config = timm.data.resolve_data_config({}, model=resnet10t.module)
    assert resnet10t.input_size == config["input_size"] == (3, 176, 176)
    assert resnet10t.spec.mean == pytest.approx(config["mean"])
    assert resnet10t.spec.std == pytest.approx(config["std"])
    assert resnet10t.spec.resize == round(176 / config["crop_pct"])
    image = cnnviz.load_sample("chelsea")
    # timm's own pipeline as the oracle, with cnnviz's bilinear resampling instead of bicubic
    # (and one resize of the crop instead of resize-then-crop): close, not equal.
    transform = timm.data.create_transform(**{**config, "interpolation": "bilinear"})
    expected = transform(image.convert("RGB"))
    got = resnet10t.preprocess(image)[0]
    assert got.shape == expected.shape
    std = torch.tensor(config["std"]).view(3, 1, 1)
    assert float(((got - expected) * std).abs().mean()) < 6 / 255  # measured: 3.8 grey levels
    assert float(torch.corrcoef(torch.stack([got.flatten(), expected.flatten()]))[0, 1]) > 0.98


def test_every_call_works_on_a_timm_cnn(resnet10t) -> None:
    image = cnnviz.load_sample("chelsea")
    assert resnet10t.weights == "random"
    assert resnet10t.labels[281].startswith("tabby")
    p = cnnviz.probe(resnet10t, image)
    with torch.no_grad():
        logits = resnet10t.module(resnet10t.preprocess(image))
    assert p.predictions[0].label == resnet10t.labels[int(logits.argmax())]
    e = cnnviz.explain(resnet10t, image)
    assert e.layer == "layer4"
    assert e.heatmap.shape == (176, 176)


def test_a_vision_transformer_says_what_applies() -> None:
    model = load_timm("vit_tiny_patch16_224", "random")
    assert "only its patch embedding is a convolution" in model.spec.summary
    e = cnnviz.explain(model, cnnviz.load_sample("chelsea"))
    assert e.layer == "patch_embed.proj"
    assert e.heatmap.shape == (224, 224)


def test_unknown_names_and_offline_pretrained_get_a_sentence(monkeypatch) -> None:
    with pytest.raises(ModelError, match="timm has no model called 'resnet10tx'"):
        load_model("timm:resnet10tx", "random")
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    with pytest.raises(ModelError, match="not on this computer, and CNNVIZ_OFFLINE"):
        load_model("timm:resnet10t", "pretrained")
    auto = load_model("timm:resnet10t", "auto")
    assert auto.weights == "random"
    assert "not in this computer's Hugging Face cache" in auto.weights_source
