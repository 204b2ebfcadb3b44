"""The shared sidebar: the gallery sets the sample quietly, uploads state their limit and any
file gets a sentence."""

from __future__ import annotations

import logging

import pytest
from streamlit.elements.lib import policies

import cnnviz
from cnnviz import limits

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect/></svg>'


def test_gallery_click_draws_no_streamlit_warning(
    open_page, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    # Streamlit logs this warning once per process: make sure this test can see it.
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    at = open_page()
    with caplog.at_level(logging.WARNING, logger="streamlit"):
        at.button_group(key="home.pick.photo").set_value("chelsea").run()
        at.button_group(key="home.pick.digit").set_value("digit_7").run()

    assert not at.exception
    assert at.selectbox(key="sample").value == "digit_7"
    assert at.query_params["sample"] == "digit_7"
    assert not [r for r in caplog.records if "created with a default value" in r.getMessage()]


def test_default_sample_is_first_and_out_of_the_url(open_page):
    at = open_page()

    box = at.selectbox(key="sample")
    assert box.value == box.options[0] == "digit_3"  # LeNet-5's own sample
    assert "sample" not in at.query_params


def test_image_uploader_states_its_limit_and_takes_any_file(open_page):
    at = open_page()

    uploader = at.file_uploader(key="upload")
    assert limits.IMAGE.describe() in uploader.label
    assert uploader.proto.max_upload_size_mb == limits.IMAGE.megabytes
    assert not uploader.proto.type  # every file reaches cnnviz.load_image, which explains


def test_svg_upload_gets_a_sentence(open_page, text):
    at = open_page()
    at.file_uploader(key="upload").set_value(("logo.svg", SVG, "image/svg+xml")).run()

    assert not at.exception
    errors = text(at.error)
    assert any("an SVG drawing" in e and "export it as PNG or JPEG" in e for e in errors)


def test_gallery_has_a_row_per_kind_with_short_captions(open_page, text):
    at = open_page()

    assert not at.exception
    for kind in cnnviz.images.SAMPLE_KINDS:  # every sample can be picked, shapes included
        pills = at.button_group(key=f"home.pick.{kind}")
        assert pills.options == [s.title.split()[-1] if kind != "photo" else s.title
                                 for s in cnnviz.list_samples(kind)]  # fmt: skip
    rows = [m for m in text(at.markdown) if m.startswith("**") and ", for " in m]
    assert [r.split("**")[1] for r in rows] == ["Photos", "Handwritten digits", "Shapes"]
    captions = [c for image in at.get("image") for c in image.captions]
    assert "3" in captions  # not "Handwritten 3", which a narrow column cuts mid-word
    assert "circle" in captions
    assert "Chelsea the cat" in captions


@pytest.mark.parametrize(
    ("model", "sample"),
    [("lenet5", "digit_3"), ("mobilenet_small", "digit_3"), ("tinyvgg", "shape_ring"),
     ("resnet18", "chelsea")],
)  # fmt: skip
def test_a_link_to_a_model_opens_on_a_sample_like_its_training_data(open_page, model, sample):
    at = open_page(model=model)

    assert not at.exception
    assert at.selectbox(key="sample").value == sample
    assert "sample" not in at.query_params  # the model's own sample is the default
