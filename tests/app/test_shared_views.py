"""What a class shares: one probe and one set of views for many sessions, and the warm start."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

import cnnviz
from cnnviz import figures
from cnnviz.training.priority import PAGES
from cnnviz.ui import session, shared, shared_jpeg, warm


def test_shared_builds_once_per_key_and_hands_out_the_same_object() -> None:
    probe = cnnviz.probe(cnnviz.load_model("lenet5"), cnnviz.load_sample("digit_3"))
    calls = []

    def build() -> list[int]:
        calls.append(1)
        return [len(calls)]

    first = shared(build, probe, "view", "layer1")
    again = shared(build, probe, "view", "layer1")
    other = shared(build, probe, "view", "layer2")

    assert first is again
    assert first == [1]
    assert other == [2]
    assert len(calls) == 2


def test_shared_keys_tell_models_and_images_apart() -> None:
    model = cnnviz.load_model("lenet5")
    three = cnnviz.probe(model, cnnviz.load_sample("digit_3"))
    seven = cnnviz.probe(model, cnnviz.load_sample("digit_7"))
    random = cnnviz.probe(cnnviz.load_model("lenet5", "random"), cnnviz.load_sample("digit_3"))

    tops = [shared(lambda p=p: p.predictions[0].label, p, "top") for p in (three, seven, random)]

    assert tops[:2] == ["3", "7"]
    assert len({three.key, seven.key, random.key}) == 3


def test_shared_jpeg_is_the_encoded_picture() -> None:
    image = cnnviz.load_sample("chelsea")

    data = shared_jpeg(lambda: image, None, "test-picture")

    assert data[:3] == b"\xff\xd8\xff"  # a JPEG
    assert data == figures.to_jpeg(image)
    assert shared_jpeg(lambda: pytest.fail("built twice"), None, "test-picture") is data


def test_thirty_sessions_opening_the_same_view_run_one_forward_pass(open_page, monkeypatch):
    forwards = []
    real_probe = cnnviz.probe

    def counting_probe(model, image):
        forwards.append(model.key)
        return real_probe(model, image)

    monkeypatch.setattr(cnnviz, "probe", counting_probe)
    grids = []
    real_grid = figures.feature_grid
    monkeypatch.setattr(figures, "feature_grid", lambda *a: grids.append(1) or real_grid(*a))

    pages = [open_page("feature_maps", model="lenet5") for _ in range(3)]

    assert not any(at.exception for at in pages)
    assert len(forwards) == 1
    assert len(grids) == 1  # the second and third session reuse the first one's grid
    urls = [[url for image in at.get("image") for url in image.value] for at in pages]
    assert urls[0] == urls[1] == urls[2]  # the same pictures (Streamlit stores them once)


def test_the_warm_up_loads_the_default_model_probe_and_gallery(monkeypatch) -> None:
    frozen_before = gc.get_freeze_count()
    try:
        seconds = warm.warm_up()
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()  # later tests must be able to free what they make
    assert seconds > 0

    def no_work(*args, **kwargs):
        raise AssertionError("the warm-up should have done this already")

    monkeypatch.setattr(cnnviz, "probe", no_work)
    monkeypatch.setattr(cnnviz, "load_sample", no_work)
    monkeypatch.setattr(cnnviz, "load_model", no_work)
    monkeypatch.setattr(figures, "thumbnail", no_work)
    name = session.default_model()
    image, digest = session.sample(session.default_sample(name))
    probe = session.probe_of(session.auto_model(name), image, digest)
    assert probe.model_key.startswith(name)
    for item in cnnviz.list_samples():
        assert cnnviz.ui.widgets.gallery_thumbnail(item.key)[:3] == b"\xff\xd8\xff"


def test_the_server_lifespan_warms_up_in_the_background(monkeypatch) -> None:
    done = threading.Event()
    monkeypatch.setattr(warm, "warm_up", lambda: done.set() or 0.1)

    async def start_and_stop() -> None:
        async with warm.lifespan(object()):
            pass

    asyncio.run(start_and_stop())

    assert done.wait(timeout=10)


def test_a_page_run_counts_as_one_for_training_threads(open_page, monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(cnnviz.ui, "top_predictions", lambda probe: seen.append(PAGES.active))

    at = open_page()

    assert not at.exception
    assert seen == [1]  # app.py runs the page inside ui.page_run()
    assert PAGES.active == 0
