"""Home page: title, the current model's banner and predictions, and the sample gallery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from weights_server import WeightsServer, closed_port, local_only, point_weights_at, weights_server

import cnnviz
from cnnviz.models import download

DIGITS = {str(d) for d in range(10)}


def test_home_opens_offline_on_the_trained_lenet5(open_page, text):
    at = open_page()

    assert not at.exception
    assert at.selectbox(key="model").value == "lenet5"  # offline default
    assert not at.warning
    captions = [c for c in text(at.caption) if "validation accuracy" in c]
    assert len(captions) == 1
    assert "Trained on digits by cnnviz" in captions[0]


def test_home_renders_title_banner_and_random_weights_warning(open_page, text):
    at = open_page(weights="random")

    assert not at.exception
    assert text(at.title) == ["How does a convolutional network see?"]
    assert at.selectbox(key="model").value == "lenet5"  # offline default
    banners = [m for m in text(at.markdown) if m.startswith("**LeNet-5**")]
    assert len(banners) == 1
    assert "image: **Handwritten 3**" in banners[0]
    assert text(at.warning) == ["Random, untrained weights: the predictions mean nothing."]
    captions = [c for image in at.get("image") for c in image.captions]
    assert "What the network sees: 32 x 32, 1 channel" in captions
    gallery = {s.title if s.kind == "photo" else s.title.split()[-1] for s in cnnviz.list_samples()}
    assert gallery <= set(captions)  # the gallery thumbnails ("3", "circle" in their rows)


def test_home_predictions_of_the_trained_default_name_the_digit(open_page, text):
    at = open_page()

    assert not at.exception
    bars = at.get("progress")
    assert bars[0].text.startswith("3 — ")  # the sample is a handwritten 3: most probable first
    assert bars[0].value > 90
    assert "**Top-5 predictions**" in text(at.markdown)


GUESS = "so its answer is a guess, however sure it sounds."


def test_lenet5_on_a_photo_says_its_answer_is_a_guess(open_page, text):
    at = open_page(sample="coffee")  # offline default: the bundled, trained LeNet-5

    assert not at.exception
    assert at.selectbox(key="model").value == "lenet5"
    assert [s for s in text(at.subheader) if s.startswith("It sees ")]
    assert text(at.warning) == [
        "This image does not look like the handwritten digits LeNet-5 learned from (a light "
        f"grey stroke on a plain black background), {GUESS}"
    ]
    (why,) = [e for e in at.expander if e.label == "Why cnnviz says so"]
    (reasons,) = text(why.markdown)
    assert "- colourfulness" in reasons  # the coffee photo is in colour; the digits were grey


def test_lenet5_on_a_digit_says_nothing_more(open_page, text):
    at = open_page(sample="digit_7")

    assert not at.exception
    assert any(s.startswith("It sees 7 (") for s in text(at.subheader))
    assert not at.warning
    assert not [e for e in at.expander if e.label == "Why cnnviz says so"]


def test_bundled_tinyvgg_reads_a_shape_sample_and_doubts_a_photo(open_page, text):
    at = open_page(model="tinyvgg", sample="shape_triangle")

    assert not at.exception
    assert any("(bundled: tinyvgg.pt)" in c for c in text(at.caption))
    assert any(s.startswith("It sees triangle (") for s in text(at.subheader))
    assert not at.warning

    at.button_group(key="home.pick.photo").set_value("chelsea").run()

    assert not at.exception
    assert text(at.warning) == [
        "This image does not look like the coloured shapes TinyVGG learned from (one "
        f"flat-coloured shape on a plain background), {GUESS}"
    ]


def test_random_weights_get_no_domain_sentence(open_page, text):
    at = open_page(sample="coffee", weights="random")

    assert not at.exception
    assert text(at.warning) == ["Random, untrained weights: the predictions mean nothing."]


def test_home_predictions_are_five_digit_bars(open_page, text):
    at = open_page(weights="random")

    assert not at.exception
    bars = at.get("progress")
    labels = [bar.text.split(" — ")[0] for bar in bars]
    assert len(labels) == 5
    assert len(set(labels)) == 5
    assert set(labels) <= DIGITS
    values = [bar.value for bar in bars]
    assert values == sorted(values, reverse=True)  # most probable first
    assert all(bar.text.endswith("%") for bar in bars)
    assert "**Top-5 predictions** (random weights: meaningless)" in text(at.markdown)


def test_gallery_has_a_picture_and_a_pill_per_sample(open_page):
    at = open_page()

    assert not at.exception
    rows = {g.key: g for g in at.button_group if g.key.startswith("home.pick.")}
    assert set(rows) == {f"home.pick.{kind}" for kind in cnnviz.images.SAMPLE_KINDS}
    assert sum(len(g.options) for g in rows.values()) == len(cnnviz.list_samples())
    assert rows["home.pick.digit"].value == "digit_3"  # the current sample is the chosen pill
    assert rows["home.pick.photo"].value is None
    pictures = sum(len(image.value) for image in at.get("image"))
    assert pictures == len(cnnviz.list_samples()) + 1  # the gallery and the network's input


def test_a_picked_sample_becomes_current(open_page, png, text):
    at = open_page()
    at.file_uploader(key="upload").set_value(("mine.png", png(), "image/png")).run()
    assert at.radio(key="source").value == "upload"
    assert any("image: **mine.png**" in m for m in text(at.markdown))

    assert at.button_group(key="home.pick.digit").value is None  # an upload is shown
    at.button_group(key="home.pick.photo").set_value("chelsea").run()

    assert not at.exception
    assert at.button_group(key="home.pick.photo").value == "chelsea"
    assert at.selectbox(key="sample").value == "chelsea"
    assert at.radio(key="source").value == "sample"
    assert at.query_params["sample"] == "chelsea"  # the URL follows, so the view can be shared
    assert any("image: **Chelsea the cat**" in m for m in text(at.markdown))


# --- "auto" weights: downloaded when small, asked for when large, random at once offline --------

RANDOM = "Random, untrained weights: the predictions mean nothing."
PRETRAINED = "Pretrained on ImageNet (IMAGENET1K_V1, torchvision)."


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightsServer]:
    """A local weights server (and no other host reachable), with MobileNetV3-Small's weights."""
    local_only(monkeypatch)
    root = tmp_path / "served"
    root.mkdir()
    with weights_server(root) as running:
        running.serve("mobilenet_v3_small", monkeypatch)
        yield running


def test_auto_downloads_small_weights_and_shows_them_pretrained(open_page, text, server):
    at = open_page(model="mobilenet_v3_small", sample="chelsea")

    assert not at.exception
    assert not at.warning
    assert any(c.endswith(PRETRAINED) for c in text(at.caption))
    assert [method for method, _ in server.requests] == ["HEAD", "GET"]
    assert not [b for b in at.button if b.key.startswith("weights.download.")]


def test_auto_offline_is_random_at_once_with_the_sentence(open_page, text, monkeypatch):
    local_only(monkeypatch)
    point_weights_at(
        "mobilenet_v3_small", f"http://127.0.0.1:{closed_port()}/m-047dcff4.pth", monkeypatch
    )
    at = open_page(model="mobilenet_v3_small", sample="chelsea")

    assert not at.exception
    assert text(at.warning) == [
        f"{RANDOM} Pretrained weights are not on this computer: choose 'pretrained' to "
        "download them."
    ]
    assert not [b for b in at.button if b.key.startswith("weights.download.")]
    assert not at.error


def test_auto_asks_before_downloading_large_weights(open_page, text, server, monkeypatch):
    monkeypatch.setattr(download, "AUTO_DOWNLOAD_MAX_MB", 5.0)  # MobileNetV3-Small is 10 MB
    at = open_page(model="mobilenet_v3_small", sample="chelsea")

    assert not at.exception
    assert server.requests == []
    (warning,) = text(at.warning)
    assert warning.startswith(f"{RANDOM} Pretrained weights (10 MB) are not on this computer")
    button = at.button(key="weights.download.mobilenet_v3_small")
    assert button.label == "Download 10 MB of pretrained weights"

    button.click().run()

    assert not at.exception
    assert not at.warning
    assert any(c.endswith(PRETRAINED) for c in text(at.caption))
    assert [method for method, _ in server.requests] == ["GET"]
    assert not [b for b in at.button if b.key.startswith("weights.download.")]


def test_download_button_offline_says_so_and_stays_random(open_page, text, monkeypatch):
    local_only(monkeypatch)
    monkeypatch.setattr(download, "AUTO_DOWNLOAD_MAX_MB", 5.0)
    point_weights_at(
        "mobilenet_v3_small", f"http://127.0.0.1:{closed_port()}/m-047dcff4.pth", monkeypatch
    )
    at = open_page(model="mobilenet_v3_small", sample="chelsea")
    at.button(key="weights.download.mobilenet_v3_small").click().run()

    assert not at.exception
    (error,) = text(at.error)
    assert "could not be downloaded (no network?)" in error
    assert "`cnnviz download-weights mobilenet_v3_small`" in error
    assert text(at.warning)[0].startswith(RANDOM)
    assert not [s for s in text(at.subheader) if s.startswith("It sees")]


def test_headline_never_rounds_a_guess_to_certainty(open_page, text):
    at = open_page(sample="coffee")

    top = cnnviz.probe(cnnviz.load_model("lenet5", "pretrained"), cnnviz.load_sample("coffee"))
    p = top.predictions[0].probability
    assert 0.99 < p < 1  # LeNet-5 is sure of its guess on the coffee photo...
    (headline,) = [s for s in text(at.subheader) if s.startswith("It sees ")]
    assert headline == f"It sees {top.predictions[0].label} ({cnnviz.figures.percent(p)})"
    assert "100%" not in headline  # ...but not certain, and the page does not say it is
