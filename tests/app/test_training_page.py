"""Training page: settings, a run in the background, its results, and using the trained model."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz.data import load_dataset

JOIN_S = 120


@pytest.fixture(autouse=True)
def _no_jobs_left_over():
    yield
    for thread in _job_threads():  # a failing test must not hold a training slot
        thread.join(JOIN_S)


def _job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cnnviz-train-")]


def train(at: AppTest, epochs: int = 1) -> AppTest:
    """Press Train, wait for the background thread (AppTest cannot tick ``run_every``), rerun."""
    at.number_input(key="train.epochs").set_value(epochs)
    at.button(key="train.start").click().run()
    assert not at.exception
    for thread in _job_threads():
        thread.join(JOIN_S)
        assert not thread.is_alive()
    return at.run()


def test_the_page_shows_its_settings(open_page, text):
    at = open_page("training")

    assert not at.exception
    assert text(at.title) == ["Training"]
    options = at.selectbox(key="train.arch").options
    assert options[:4] == [
        "LeNet-5 (32 x 32 grey)",
        "TinyVGG (64 x 64 colour)",
        "Small ResNet (32 x 32 grey)",
        "Small MobileNet (32 x 32 grey)",
    ]
    assert "ResNet-18 (transfer learning, 224 px)" in options
    assert at.selectbox(key="train.activation").value == "default"  # "as designed"
    # The activation options are the library's one table, labelled with its formulas.
    shown = at.selectbox(key="train.activation").options
    assert shown[0] == "as designed"
    assert shown[1:] == [f"{a.label}: {a.formula}" for a in cnnviz.nets.ACTIVATIONS.values()]
    assert not at.toggle(key="train.transfer").value
    assert at.multiselect(key="train.augment").value == []
    assert at.selectbox(key="train.dataset").value == "digits"
    assert at.selectbox(key="train.optimizer").value == "adam"
    assert at.selectbox(key="train.schedule").value == "constant"
    assert at.number_input(key="train.epochs").value == 3
    assert at.select_slider(key="train.batch").value == 64
    assert at.number_input(key="train.seed").value == 0
    assert at.button(key="train.stop").disabled
    assert text(at.info) == ["Choose the settings and press Train."]
    assert at.select_slider(key="train.lr").value == 0.001
    assert "train.confusion" not in _chart_keys(at)


def _chart_keys(at: AppTest) -> set[str]:
    return {e.proto.id.split("-", 2)[-1] for e in at.get("plotly_chart")}


def test_one_epoch_trains_and_shows_the_results(open_page, text, charts, array):
    at = train(open_page("training"))

    assert not at.exception
    (message,) = text(at.success)
    assert message.startswith("Trained 1 epoch:")
    assert "validation accuracy" in message
    digits = load_dataset("digits", size=32)
    figures = charts(at)
    curves = figures["train.curves"]
    assert [a["text"] for a in curves["layout"]["annotations"]] == ["Loss", "Accuracy"]
    assert len(array(curves["data"][0]["y"])) == -(-len(digits.train_y) // 64)  # one per step
    confusion = figures["train.confusion"]
    assert array(confusion["data"][0]["z"]).sum() == len(digits.val_y)  # each digit once
    assert confusion["layout"]["title"]["text"].startswith("Confusion matrix")
    captions = [c for image in at.get("image") for c in image.captions]
    assert any(c.startswith("First-layer filters after epoch 1") for c in captions)
    assert not at.button(key="train.start").disabled  # ready for another run


def test_a_learning_rate_that_blows_up_is_an_error_not_a_success(open_page, text):
    at = open_page("training")
    at.select_slider(key="train.lr").set_value(1.0)
    at = train(at)

    assert not at.exception
    assert not at.success
    (error,) = text(at.error)
    assert error.startswith("At epoch 1, step ")
    assert "the loss blew up" in error
    assert "learning rate 1 is too high, so try 0.1 (10x smaller)" in error
    assert error.endswith("the model keeps its initial weights, as no epoch finished.")
    # Initial weights are nothing to use or download.
    assert not [b for b in at.button if b.key == "train.use"]
    assert "train.confusion" not in _chart_keys(at)


def _download_keys(at: AppTest) -> set[str]:
    return {e.proto.id.split("-", 2)[-1] for e in at.get("download_button")}


def test_tensorboard_logs_are_written_and_offered_as_a_zip(open_page, text, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_TENSORBOARD", str(tmp_path))
    at = open_page("training")
    assert "train.tb_download" not in _download_keys(at)
    at.checkbox(key="train.tensorboard").check()
    at = train(at)

    assert not at.exception
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("lenet5-digits-")
    assert list(run.glob("events.out.tfevents.*"))
    (caption,) = [c for c in text(at.caption) if c.startswith("TensorBoard logs of this run")]
    assert f"`{run}` on the server" in caption
    assert f"tensorboard --logdir {run.name}" in caption
    assert {"train.tb_download", "train.download"} <= _download_keys(at)


def test_use_this_model_makes_feature_maps_show_it(open_page, text):
    at = train(open_page("training"))
    at.button(key="train.use").click().run()

    assert not at.exception
    assert at.selectbox(key="weights").value == "trained"
    at.switch_page("app_pages/feature_maps.py").run()
    assert not at.exception
    assert not at.error
    (caption,) = [c for c in text(at.caption) if "Trained in cnnviz" in c]
    assert "Trained in cnnviz on digits. Trained 1 epoch:" in caption
    assert text(at.subheader)[0] == "Output of features.c1 (Conv2d): 6 x 28 x 28 (C x H x W)"


def test_use_this_model_switches_the_sidebar_architecture(open_page, text):
    at = open_page("training")
    at.selectbox(key="train.arch").set_value("tinyvgg")
    at.selectbox(key="train.dataset").set_value("shapes")
    at = train(at)
    assert text(at.success)[0].startswith("Trained 1 epoch:")
    at.button(key="train.use").click().run()

    assert at.selectbox(key="model").value == "tinyvgg"
    at.switch_page("app_pages/feature_maps.py").run()
    assert not at.exception
    assert any("Trained in cnnviz on shapes." in c for c in text(at.caption))


def test_trained_weights_without_a_run_say_what_to_do(open_page, text):
    at = open_page("feature_maps", weights="trained")

    assert not at.exception
    (error,) = text(at.error)
    assert error.startswith("No trained model yet: train one on the Training page")


def test_epoch_scrubber_and_mistakes(open_page, text):
    at = train(open_page("training"), epochs=2)

    assert not at.exception
    assert "Watch it learn, epoch by epoch" in text(at.subheader)
    scrub = at.select_slider(key="train.scrub")
    assert scrub.options == ["1", "2"]
    assert scrub.value == 2

    def captions() -> list[str]:
        return [c for image in at.get("image") for c in image.captions]

    assert "What they make of this image (features.c1) after epoch 2" in captions()
    # The live panel shows the same image's maps after the latest epoch.
    assert any(
        c.startswith("features.c1 maps of one validation image after epoch 2: predicted ")
        for c in captions()
    )
    at = scrub.set_value(1).run()
    assert not at.exception
    assert "First-layer filters after epoch 1" in captions()
    assert "What they make of this image (features.c1) after epoch 1" in captions()
    assert any(c.startswith("Grad-CAM for '") and "after epoch 1: where it looked" in c
               for c in captions())  # fmt: skip
    assert any(c.startswith("A validation image: predicted ") for c in captions())
    # After two epochs LeNet-5 still confuses some digits: they are shown with both labels.
    assert "What it gets wrong" in text(at.subheader)
    assert any(" seen as " in c for c in captions())


def test_data_preview_shows_the_images_as_the_network_sees_them(open_page):
    at = open_page("training")
    at = at.toggle(key="train.preview").set_value(True).run()

    assert not at.exception
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("Shown at 32 x 32, as LeNet-5 sees them." in c for c in captions)


def test_data_preview_offline_says_how_to_get_the_data(open_page, text, monkeypatch, tmp_path):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    at = open_page("training")
    at.selectbox(key="train.dataset").set_value("mnist").run()
    at = at.toggle(key="train.preview").set_value(True).run()

    assert not at.exception
    (info,) = [i for i in text(at.info) if "MNIST" in i or "mnist" in i.lower()]
    assert str(tmp_path) in info or "download" in info.lower()


def test_a_variant_with_augmentation_trains_and_feeds_the_other_pages(open_page, text):
    at = open_page("training")
    at.selectbox(key="train.activation").set_value("gelu")
    at.selectbox(key="train.batch_norm").set_value("on")
    at.slider(key="train.dropout").set_value(0.2)
    at.multiselect(key="train.augment").set_value(["rotate", "crop"]).run()  # as a browser would
    at = train(at)

    assert not at.exception
    assert text(at.success)[0].startswith("Trained 1 epoch:")
    assert at.selectbox(key="train.activation").value == "gelu"  # the settings stay as chosen
    assert at.selectbox(key="train.batch_norm").value == "on"
    at.button(key="train.use").click().run()
    at.switch_page("app_pages/feature_maps.py").run()
    assert not at.exception
    assert not at.error
    # The trained variant, rebuilt from its checkpoint: c1 -> bn1 -> act1 -> s2 (s2 is 3rd
    # without batch norm).
    layers = at.selectbox(key="fm.layer").options
    assert layers[1].startswith("1. features.c1 ")
    assert layers[2].startswith("4. features.s2 ")


def test_imagenet_networks_train_by_transfer_learning_only(open_page):
    at = open_page("training")
    at.selectbox(key="train.arch").set_value("mobilenet_v3_small").run()

    assert not at.exception
    assert at.toggle(key="train.transfer").disabled
    assert at.selectbox(key="train.activation").disabled
    assert at.slider(key="train.dropout").disabled
    assert not at.multiselect(key="train.augment").disabled


def _class_zip(classes: dict[str, int]) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, (name, count) in enumerate(classes.items()):
            for i in range(count):
                pixels = rng.integers(0, 60, (20, 20), dtype=np.uint8)
                pixels[:, k * 6 : k * 6 + 6] = 250  # each class: a bar in its own place
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                archive.writestr(f"mine/{name}/{i}.png", png.getvalue())
    return buffer.getvalue()


def test_an_uploaded_zip_of_class_folders_trains(open_page, text):
    at = open_page("training")
    at.selectbox(key="train.dataset").set_value("folder").run()
    at.button(key="train.start").click().run()
    assert text(at.error) == ["Upload a zip of your images first (one folder per class)."]

    data = _class_zip({"left": 12, "middle": 12, "right": 12})
    at.file_uploader(key="train.zip").set_value(("mine.zip", data, "application/zip")).run()
    assert not at.exception
    assert any("36 of your images in 3 classes" in c for c in text(at.caption))
    at = train(at, epochs=2)
    assert not at.exception
    assert text(at.success)[0].startswith("Trained 2 epochs:")
    at.button(key="train.use").click().run()
    at.switch_page("app_pages/home.py").run()
    assert not at.exception
    assert cnnviz.MODELS["lenet5"].label in " ".join(text(at.markdown) + text(at.caption))


def test_a_zip_that_is_not_a_zip_says_so(open_page, text):
    at = open_page("training")
    at.selectbox(key="train.dataset").set_value("folder").run()
    at.file_uploader(key="train.zip").set_value(("x.zip", b"PK nope", "application/zip")).run()

    assert not at.exception
    assert text(at.error) == ["This file is not a zip archive; upload a .zip of folders."]


def test_the_page_draws_the_epochs_without_running_the_network(open_page, text, monkeypatch):
    at = train(open_page("training"), epochs=2)

    def forbidden(*args, **kwargs):
        raise AssertionError("the page ran what the training thread already made")

    # From here on the page may only draw: no forward pass, no network built, no grid drawn.
    monkeypatch.setattr(torch.nn.Module, "__call__", forbidden)
    monkeypatch.setattr("cnnviz.training.evaluation.build_module", forbidden)
    monkeypatch.setattr("cnnviz.models.load_model", forbidden)
    for module in ("cnnviz.figures", "cnnviz.figures.montage"):
        for name in ("feature_grid", "filters_grid"):
            monkeypatch.setattr(f"{module}.{name}", forbidden)
    with pytest.raises(AssertionError, match="already made"):
        torch.nn.Identity()(torch.ones(1))  # the trap is set
    at = at.run()
    assert not at.exception
    assert not at.error
    at = at.select_slider(key="train.scrub").set_value(1).run()

    assert not at.exception
    assert not at.error
    captions = [c for image in at.get("image") for c in image.captions]
    assert "First-layer filters after epoch 1" in captions
    assert "What they make of this image (features.c1) after epoch 1" in captions
    assert any(c.startswith("features.c1 maps of one validation image after epoch 2: predicted ")
               for c in captions)  # fmt: skip
    assert any(c.endswith("after epoch 1: where it looked") for c in captions)
