"""What a training job makes once per epoch for the page, and how its thread shares the CPU."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest
import torch
from PIL import Image

import cnnviz
from cnnviz import figures
from cnnviz.errors import InputError
from cnnviz.figures.attribution import map_overlay
from cnnviz.training import (
    CpuShare,
    EpochEvent,
    EpochViews,
    TrainConfig,
    TrainJob,
    epoch_model,
    share_cpu,
    to_image,
    train,
)
from cnnviz.training.priority import current_nice

JOIN_S = 60
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def run(job: TrainJob, config: TrainConfig, data) -> None:
    job.start(config, data=data)
    assert job.thread is not None
    job.thread.join(JOIN_S)
    assert not job.thread.is_alive()


def jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"  # st.image sends JPEG bytes as they are, re-encoding nothing
    return image


def test_a_job_makes_each_epochs_view_as_a_fresh_network_would(digits) -> None:
    job = TrainJob()
    run(job, TrainConfig(epochs=2), digits)

    snap = job.snapshot()
    assert [v.epoch for v in snap.views] == [e.epoch for e in snap.epochs] == [1, 2]
    for event, view in zip(snap.epochs, snap.views, strict=True):
        assert snap.view(event.epoch) is view
        # The oracle: the epoch's weights in a network built for the purpose (the job reuses one).
        model = epoch_model(snap.config, snap.classes, event.state_dict, event.epoch)
        seen = cnnviz.probe(model, to_image(snap.sample))
        top = seen.predictions[0]
        assert view.prediction.label == top.label
        assert view.prediction.probability == pytest.approx(top.probability, abs=1e-6)
        assert view.layer == "features.c1"
        maps = figures.feature_grid(seen.layer("features.c1").output).image
        assert jpeg(view.maps).size == maps.size
        assert jpeg(view.filters).size == figures.filters_grid(event.state_dict).image.size
        cam = cnnviz.explain(model, seen.image, "gradcam")
        assert jpeg(view.cam).size == map_overlay(seen.image, cam).size
        assert view.cam_text == f"Grad-CAM for '{cam.label}' at {cam.layer}"
    assert snap.view(3) is None
    assert "views" not in repr(snap)  # pictures stay out of logs


def test_views_follow_the_weights_of_each_epoch(digits) -> None:
    events = [e for e in train(data=digits, epochs=2, lr=3e-3) if isinstance(e, EpochEvent)]
    views = EpochViews(TrainConfig(lr=3e-3), digits.classes, digits.val_x[0].numpy())
    first, second = (views.view(e) for e in events)
    assert (first.epoch, second.epoch) == (1, 2)
    assert first.filters != second.filters  # the reused network took the second epoch's weights


def test_a_view_that_fails_leaves_the_run_going(digits, monkeypatch, caplog) -> None:
    def broken(self, event):
        raise RuntimeError("no pictures")

    monkeypatch.setattr(EpochViews, "view", broken)
    job = TrainJob(process=False)  # the patch is in this process
    with caplog.at_level(logging.ERROR):
        run(job, TrainConfig(epochs=2), digits)

    snap = job.snapshot()
    assert snap.status == "done"
    assert [e.epoch for e in snap.epochs] == [1, 2]
    assert snap.views == ()
    assert "the view of epoch 1 failed" in caplog.text


def test_a_gradcam_that_fails_is_a_sentence_not_a_lost_view(digits, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise InputError("No layer to explain.")

    monkeypatch.setattr("cnnviz.training.views.explain", refuse)
    job = TrainJob(process=False)  # the patch is in this process
    run(job, TrainConfig(epochs=1), digits)

    (view,) = job.snapshot().views
    assert view.cam is None
    assert view.cam_text == "No layer to explain."
    assert jpeg(view.maps)  # the rest of the view is there


def test_the_share_comes_from_the_environment(monkeypatch, caplog) -> None:
    monkeypatch.delenv("CNNVIZ_TRAIN_NICE", raising=False)
    monkeypatch.delenv("CNNVIZ_TRAIN_THREADS", raising=False)
    assert CpuShare.from_env() == CpuShare(nice=10, threads=None)
    monkeypatch.setenv("CNNVIZ_TRAIN_NICE", "0")
    monkeypatch.setenv("CNNVIZ_TRAIN_THREADS", "1")
    assert CpuShare.from_env() == CpuShare(nice=0, threads=1)
    monkeypatch.setenv("CNNVIZ_TRAIN_NICE", "40")  # beyond Linux's 19
    monkeypatch.setenv("CNNVIZ_TRAIN_THREADS", "0")  # 0: no cap
    assert CpuShare.from_env() == CpuShare(nice=19, threads=None)
    monkeypatch.setenv("CNNVIZ_TRAIN_NICE", "low")
    assert CpuShare.from_env().nice == 10
    assert "CNNVIZ_TRAIN_NICE='low' is not a whole number" in caplog.text


def _in_thread(fn):
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join(JOIN_S)
    return out[0]


def _thread_settings() -> tuple[int, int]:
    x = torch.ones(1, 1, 8, 8)
    torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3))  # torch sets a thread up on first use
    return torch.get_num_threads(), current_nice()


@linux_only
def test_the_share_stays_in_the_training_thread() -> None:
    before = _thread_settings()
    later_before = _in_thread(_thread_settings)

    def trainer():
        share_cpu(CpuShare(nice=7, threads=1))
        return _thread_settings()

    assert _in_thread(trainer) == (1, before[1] + 7)
    # Neither the caller nor a thread started afterwards (Streamlit starts one per script run)
    # takes the training thread's cap or priority.
    assert _thread_settings() == before
    assert _in_thread(_thread_settings) == later_before


@linux_only
def test_a_job_trains_in_a_nice_capped_thread(digits, monkeypatch) -> None:
    seen = []

    def recording_train(*args, **kwargs):
        seen.append(_thread_settings())
        yield from train(*args, **kwargs)

    monkeypatch.setattr("cnnviz.training.worker.train", recording_train)
    monkeypatch.setenv("CNNVIZ_TRAIN_NICE", "5")
    monkeypatch.setenv("CNNVIZ_TRAIN_THREADS", "1")
    before = _thread_settings()
    job = TrainJob(process=False)
    run(job, TrainConfig(epochs=1), digits)

    assert job.snapshot().status == "done"
    assert seen == [(1, before[1] + 5)]
    assert _thread_settings() == before


def test_a_share_given_to_the_job_wins_over_the_environment(digits, monkeypatch) -> None:
    seen = []

    def recording_train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        yield from train(*args, **kwargs)

    monkeypatch.setattr("cnnviz.training.worker.train", recording_train)
    monkeypatch.setenv("CNNVIZ_TRAIN_THREADS", "1")
    job = TrainJob(share=CpuShare(nice=0, threads=2), process=False)
    run(job, TrainConfig(epochs=1), digits)
    assert seen == [2]
