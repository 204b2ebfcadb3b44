"""Training page lessons: the learning-rate schedule drawn before and during a run, the per-layer
gradient section, weight decay and the training subset, and the two experiments (overfitting and
its remedy, vanishing gradients and their cure) run as one series."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.training import experiments
from cnnviz.ui import training_views

JOIN_S = 240


@pytest.fixture(autouse=True)
def _no_jobs_left_over():
    yield
    for thread in _job_threads():
        thread.join(JOIN_S)


def _job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cnnviz-train-")]


def wait(at: AppTest) -> AppTest:
    """Wait for the background run (AppTest cannot tick ``run_every``), then rerun the page."""
    assert not at.exception
    for thread in _job_threads():
        thread.join(JOIN_S)
        assert not thread.is_alive()
    return at.run()


def test_the_schedule_is_drawn_before_training_and_follows_the_settings(
    open_page, charts, array, text
):
    at = open_page("training")
    planned = charts(at)["train.schedule_chart"]
    (trace,) = planned["data"]
    assert trace["name"] == "planned"
    assert np.all(array(trace["y"]) == 0.001)  # constant at the chosen rate
    assert planned["layout"]["xaxis"]["range"] == [0, 3]  # three epochs
    assert any(c.startswith("A constant rate") for c in text(at.caption))

    at.selectbox(key="train.schedule").set_value("step").run()
    rates = array(charts(at)["train.schedule_chart"]["data"][0]["y"])
    assert rates[0] == pytest.approx(0.001)
    assert rates[-1] == pytest.approx(0.0001)  # x0.1 for the last third
    assert np.flatnonzero(rates < 0.001)[0] == 2 * len(rates) // 3
    assert any(c.startswith("Step decay") for c in text(at.caption))


def test_a_run_draws_its_live_learning_rate_and_each_layers_gradient(open_page, charts, array):
    at = open_page("training", **{"train.gradients": "true"})
    at.selectbox(key="train.schedule").set_value("cosine")
    at.number_input(key="train.epochs").set_value(2)
    at.button(key="train.start").click().run()
    at = wait(at)

    figures = charts(at)
    planned, live = figures["train.lr_chart"]["data"]
    assert planned["name"] == "planned"
    assert live["name"] == "this run"
    rates = array(live["y"])
    assert rates[0] == pytest.approx(0.001)
    assert np.all(np.diff(rates) <= 0)  # cosine decay, step by step
    gradients = figures["train.gradient_chart"]
    assert len(gradients["data"]) == 2  # one line per epoch
    assert gradients["layout"]["xaxis"]["categoryarray"][0] == "features.c1"
    assert gradients["layout"]["yaxis"]["type"] == "log"


def test_weight_decay_and_a_training_subset_reach_the_run(open_page, charts, array, text):
    at = open_page("training")
    at.select_slider(key="train.weight_decay").set_value(0.01)
    at.select_slider(key="train.subset").set_value(100)
    assert at.toggle(key="train.residual").disabled  # only for the deep plain net
    at.number_input(key="train.epochs").set_value(1)
    at.button(key="train.start").click().run()
    at = wait(at)

    curves = charts(at)["train.curves"]
    assert len(array(curves["data"][0]["y"])) == 2  # 100 images in batches of 64
    assert text(at.success)[0].startswith("Trained 1 epoch:")


def test_the_overfitting_experiment_runs_both_and_names_the_gap(
    open_page, charts, text, monkeypatch
):
    short = functools.partial(experiments.overfitting, epochs=4)
    monkeypatch.setattr(training_views, "overfitting", short)
    at = open_page("training", **{"train.experiments": "true"})
    assert at.radio(key="train.experiment").value == "overfitting"
    assert at.selectbox(key="train.remedy").value == "augmentation"
    at.selectbox(key="train.remedy").set_value("dropout").run()
    assert any("**overfits (no remedy)**: LeNet-5 on 60 of the digits images, 4 epochs" in c
               for c in text(at.caption))  # fmt: skip
    at.button(key="train.experiment_start").click().run()
    at = wait(at)

    figures = charts(at)
    names = [t["name"] for t in figures["train.series_runs"]["data"] if t.get("showlegend")]
    assert names == [
        "overfits (no remedy): training", "overfits (no remedy): validation",
        "with dropout 0.5: training", "with dropout 0.5: validation",
    ]  # fmt: skip
    lines = " ".join(text(at.markdown))
    assert "overfits (no remedy): training accuracy" in lines
    assert "with dropout 0.5: training accuracy" in lines
    assert lines.count("a gap of") == 2
    assert "**Run 2 of 2: with dropout 0.5**" in text(at.markdown)
    assert text(at.success)[0].startswith("Trained 4 epochs:")  # the last run's model is kept


def test_the_vanishing_experiment_draws_each_layers_gradient_for_both(
    open_page, charts, text, monkeypatch
):
    short = functools.partial(experiments.vanishing, epochs=1)
    monkeypatch.setattr(training_views, "vanishing", short)
    at = open_page("training", **{"train.experiments": "true"})
    at.radio(key="train.experiment").set_value("vanishing").run()
    assert at.selectbox(key="train.cure").options == [
        "with both (ResNet-20)", "with residual connections", "with batch norm",
    ]  # fmt: skip
    at.selectbox(key="train.cure").set_value("residual")
    at.button(key="train.experiment_start").click().run()
    at = wait(at)

    gradients = charts(at)["train.series_gradients"]
    assert [t["name"] for t in gradients["data"]] == [
        "plain (no shortcuts, no batch norm), epoch 1", "with residual connections, epoch 1",
    ]  # fmt: skip
    assert len(gradients["layout"]["xaxis"]["categoryarray"]) == 22  # with the 2 shortcuts
    lines = " ".join(text(at.markdown))
    assert "plain (no shortcuts, no batch norm): after epoch 1 the first layer gets" in lines
    assert " × 10⁻" in lines  # the plain net's first layer: a power of ten below
