"""Background training jobs, the confusion matrix, and the Training page's figures."""

from __future__ import annotations

import io
import multiprocessing.spawn
import os
import signal
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnviz
from cnnviz import figures
from cnnviz.data import load_dataset
from cnnviz.errors import InputError
from cnnviz.training import (
    JOB_SLOTS,
    MAX_JOBS,
    MAX_POINTS,
    CpuShare,
    StepEvent,
    TrainConfig,
    TrainJob,
    confusion,
    misclassified,
    predict,
    train,
)

JOIN_S = 120  # generous: a child at nice 10 on a machine busy with other work is slow


@pytest.fixture(scope="module")
def trained(digits):
    *_, done = train(arch="lenet5", data=digits, epochs=2, lr=3e-3)
    return done.model


def finish(job: TrainJob) -> None:
    assert job.thread is not None
    job.thread.join(JOIN_S)
    assert not job.thread.is_alive()


def test_a_short_job_runs_to_done(digits) -> None:
    job = TrainJob()
    assert job.snapshot().status == "idle"
    job.start(TrainConfig(epochs=1), data=digits)
    finish(job)

    snap = job.snapshot()
    assert snap.status == "done"
    assert snap.message.startswith("Trained 1 epoch:")
    assert snap.has_model
    assert snap.logdir is None  # no TensorBoard logs unless asked
    assert snap.logs is None
    assert len(snap.steps) == -(-len(digits.train_x) // 64)
    assert [e.epoch for e in snap.epochs] == [1]
    assert snap.progress == 1.0
    assert snap.classes == digits.classes
    assert snap.confusion.shape == (10, 10)
    assert snap.confusion.sum() == len(digits.val_x)
    model = cnnviz.load_model("lenet5", snap.checkpoint)  # the download loads back
    assert model.labels == digits.classes


def test_a_job_that_blows_up_is_diverged_not_done(digits) -> None:
    job = TrainJob()
    job.start(TrainConfig(epochs=3, optimizer="sgd", lr=1000.0), data=digits)
    finish(job)

    snap = job.snapshot()
    assert snap.status == "diverged"
    assert snap.message.startswith("At epoch 1, step 10 the loss blew up")
    assert "learning rate 1000 is too high, so try 100 (10x smaller)" in snap.message
    assert snap.done is not None
    assert snap.epochs == ()
    assert not snap.has_model  # only the initial weights: nothing worth using
    assert snap.progress < 1.0


def test_a_job_writes_tensorboard_logs_and_zips_them(digits, tmp_path) -> None:
    import zipfile

    from cnnviz.training import new_logdir

    logdir = new_logdir(TrainConfig(), root=tmp_path)
    job = TrainJob()
    job.start(TrainConfig(epochs=1), data=digits, logdir=logdir)
    assert job.snapshot().logdir == str(logdir)  # known at once: the page shows it while running
    finish(job)

    snap = job.snapshot()
    assert snap.status == "done"
    names = zipfile.ZipFile(io.BytesIO(snap.logs)).namelist()
    assert len(names) == 1
    assert names[0].startswith(f"{logdir.name}/events.out.tfevents.")


def test_a_job_loads_its_own_data_when_given_none() -> None:
    job = TrainJob()
    job.start(TrainConfig(epochs=1))
    finish(job)
    assert job.snapshot().status == "done"


def test_stop_ends_the_run_and_keeps_the_model(digits) -> None:
    job = TrainJob()
    job.stop()  # a stale stop from before the start is forgotten
    job.start(TrainConfig(epochs=200), data=digits)
    job.stop()
    finish(job)

    snap = job.snapshot()
    assert snap.status == "stopped"
    assert snap.message.startswith("Stopped by you")
    assert snap.done is not None
    assert snap.checkpoint is not None
    assert snap.latest.step < 200 * 23


def test_the_cap_refuses_a_third_job(digits) -> None:
    jobs = [TrainJob() for _ in range(MAX_JOBS)]
    try:
        for job in jobs:
            job.start(TrainConfig(epochs=500), data=digits)
        with pytest.raises(
            InputError, match=r"The server is busy training .* try again in a minute"
        ):
            TrainJob().start(TrainConfig(epochs=1), data=digits)
    finally:
        for job in jobs:
            job.stop()
        for job in jobs:
            finish(job)
    third = TrainJob()  # the slots came back
    third.start(TrainConfig(epochs=1), data=digits)
    finish(third)
    assert third.snapshot().status == "done"


def test_one_job_runs_once_at_a_time(digits) -> None:
    job = TrainJob(slots=threading.BoundedSemaphore(1))
    job.start(TrainConfig(epochs=500), data=digits)
    try:
        with pytest.raises(InputError, match="still going"):
            job.start(TrainConfig(epochs=1), data=digits)
    finally:
        job.stop()
        finish(job)


def test_a_failure_becomes_a_sentence(digits, monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        yield from ()
        raise RuntimeError("boom")

    monkeypatch.setattr("cnnviz.training.worker.train", broken)
    job = TrainJob(process=False)  # the patch is in this process
    job.start(TrainConfig(epochs=1), data=digits)
    finish(job)

    snap = job.snapshot()
    assert snap.status == "failed"
    assert snap.message == "Training failed (RuntimeError); the details are in the server log."
    assert "boom" in caplog.text  # the traceback is logged
    assert JOB_SLOTS.acquire(blocking=False)  # the slot was released
    JOB_SLOTS.release()


def test_bad_data_set_fails_with_its_message() -> None:
    job = TrainJob()
    job.start(TrainConfig(dataset="nope", epochs=1))
    finish(job)
    assert job.snapshot().status == "failed"
    assert job.snapshot().message.startswith("There is no data set called 'nope'")


def test_bad_settings_are_refused_before_starting() -> None:
    with pytest.raises(InputError, match="must be positive"):
        TrainJob().start(TrainConfig(epochs=0))


def test_steps_are_thinned_to_the_cap() -> None:
    job = TrainJob()
    for step in range(1, 5 * MAX_POINTS + 1):
        job._add_step(StepEvent(1, step, 5 * MAX_POINTS, 1.0, 0.5, 100.0, 1.0))
    snap = job.snapshot()
    assert MAX_POINTS // 2 <= len(snap.steps) <= MAX_POINTS
    kept = [s.step for s in snap.steps]
    assert kept == sorted(kept)
    assert len(set(np.diff(kept))) == 1  # evenly spaced
    assert snap.latest.step == 5 * MAX_POINTS


def test_confusion_counts_the_validation_predictions(digits, trained) -> None:
    matrix = confusion(trained, digits)
    predicted = predict(trained, digits.val_x)
    truth = digits.val_y.numpy()
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(truth)
    assert matrix[3].sum() == (truth == 3).sum()
    assert matrix[:, 3].sum() == (predicted == 3).sum()
    assert np.trace(matrix) == (predicted == truth).sum()
    assert np.trace(matrix) / matrix.sum() > 0.5  # chance is 0.1


def test_misclassified_lists_the_wrong_ones(digits, trained) -> None:
    predicted = predict(trained, digits.val_x)
    mistakes = misclassified(trained, digits, limit=1000)
    assert len(mistakes) == int((predicted != digits.val_y.numpy()).sum())
    for m in mistakes:
        assert m.true == int(digits.val_y[m.index]) != m.predicted == int(predicted[m.index])
    assert len(misclassified(trained, digits, limit=2)) == min(2, len(mistakes))


def test_predict_leaves_the_mode_alone(digits, trained) -> None:
    trained.module.train()
    try:
        predict(trained, digits.val_x[:4])
        assert trained.module.training
    finally:
        trained.module.eval()


def test_training_curves_have_loss_and_accuracy_panels(digits) -> None:
    events = list(train(arch="lenet5", data=digits, epochs=2))
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, cnnviz.EpochEvent)]
    fig = figures.training_curves(steps, epochs)
    assert [a.text for a in fig.layout.annotations] == ["Loss", "Accuracy"]
    assert len(fig.data) == 6
    raw, smooth, val = fig.data[:3]
    assert list(raw.y) == [s.loss for s in steps]
    assert smooth.y[0] == pytest.approx(steps[0].loss)  # debiased: no pull towards 0
    assert list(val.x) == [len(steps) // 2, len(steps)]
    assert list(val.y) == [e.val_loss for e in epochs]
    assert len(figures.training_curves([], []).data[0].x) == 0


def test_filters_grid_shows_the_first_conv_kernels(trained) -> None:
    weights = figures.first_conv_weights(trained.module)
    torch.testing.assert_close(
        torch.from_numpy(weights), trained.module.features.c1.weight.detach().mean(1)
    )
    grid = figures.filters_grid(trained.module.state_dict())
    assert grid.channels == tuple(range(6))


def test_filters_grid_averages_rgb_channels() -> None:
    module = cnnviz.load_model("tinyvgg", "random").module
    assert figures.first_conv_weights(module).shape == (10, 3, 3)
    with pytest.raises(ValueError, match="no convolution"):
        figures.first_conv_weights({"w": torch.zeros(3, 3)})


def test_confusion_figure() -> None:
    fig = figures.confusion_figure(np.array([[3, 1], [0, 4]]), ("cat", "dog"))
    heat = fig.data[0]
    assert list(heat.x) == ["cat", "dog"]
    assert list(heat.y) == ["cat", "dog"]
    assert fig.layout.title.text.endswith("(87.5% correct)")


# The child process: the default way a job trains (CNNVIZ_TRAIN_PROCESS=0 trains in a thread).


def _wait_for_steps(job: TrainJob, count: int = 1) -> None:
    deadline = time.monotonic() + JOIN_S
    while len(job.snapshot().steps) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(job.snapshot().steps) >= count


def test_a_job_trains_in_a_child_process_and_sends_plain_data_back(digits) -> None:
    job = TrainJob()
    job.start(TrainConfig(epochs=2), data=digits)
    finish(job)

    assert job.process is not None
    assert job.process.pid != os.getpid()
    assert job.process.exitcode == 0
    snap = job.snapshot()
    assert snap.status == "done"
    assert [e.epoch for e in snap.epochs] == [v.epoch for v in snap.views] == [1, 2]
    # Two channels out of the child agree: the last epoch's weights (arrays) and the model
    # rebuilt from the checkpoint's bytes (a weights-only load).
    final = snap.done.model.module.state_dict()
    for name, tensor in snap.epochs[-1].state_dict.items():
        torch.testing.assert_close(final[name], tensor)
    assert snap.done.model.weights == "trained"
    assert snap.done.model.weights_source.startswith("Trained in cnnviz on digits. Trained 2")
    assert snap.done.history == snap.epochs
    torch.testing.assert_close(torch.from_numpy(snap.sample), digits.val_x[0])
    # The mistakes are the validation images the finished model gets wrong, as it says.
    predicted = predict(snap.done.model, digits.val_x)
    wrong = np.flatnonzero(predicted != digits.val_y.numpy())[:12]
    assert len(snap.mistakes) == len(wrong)
    for (image, true, guess), i in zip(snap.mistakes, wrong, strict=True):
        np.testing.assert_array_equal(np.asarray(image), digits.val_x[i, 0].numpy())
        assert true == digits.classes[digits.val_y[i]]
        assert guess == digits.classes[predicted[i]]


def test_a_child_killed_mid_run_is_a_failed_run_not_a_hang(digits) -> None:
    job = TrainJob()
    job.start(TrainConfig(epochs=500), data=digits)
    _wait_for_steps(job)
    os.kill(job.process.pid, signal.SIGKILL)
    finish(job)

    snap = job.snapshot()
    assert snap.status == "failed"
    assert snap.message == (
        "The training process ended without finishing (killed by signal 9: killed, or out of "
        "memory); nothing was kept."
    )
    assert not snap.has_model
    assert JOB_SLOTS.acquire(blocking=False)  # the slot came back
    JOB_SLOTS.release()


def test_a_job_that_fails_in_the_server_ends_its_child(digits, monkeypatch, caplog) -> None:
    def broken(self, done):
        raise RuntimeError("cannot keep the epoch")

    monkeypatch.setattr(TrainJob, "_add_epoch", broken)  # the receiver's side, in this process
    job = TrainJob()
    job.start(TrainConfig(epochs=500), data=digits)
    finish(job)

    assert job.snapshot().status == "failed"
    assert job.snapshot().message == (
        "Training failed (RuntimeError); the details are in the server log."
    )
    assert "cannot keep the epoch" in caplog.text
    assert not job.process.is_alive()  # no child trains on unwatched, holding no slot


def test_the_child_does_not_run_the_parents_main_script(digits, monkeypatch, tmp_path) -> None:
    # A Streamlit script run puts the page's script in sys.modules["__main__"]: a child must
    # not run it (the whole app) before training, as spawn and forkserver children would.
    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    page.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", page)
    job = TrainJob()
    job.start(TrainConfig(epochs=1), data=digits)
    finish(job)

    assert job.snapshot().status == "done"
    assert not marker.exists()
    assert multiprocessing.spawn.get_preparation_data.__name__ == "get_preparation_data"


def test_stop_reaches_the_child_which_keeps_the_model(digits) -> None:
    job = TrainJob()
    job.start(TrainConfig(epochs=500), data=digits)
    _wait_for_steps(job, 3)
    job.stop()
    finish(job)

    snap = job.snapshot()
    assert snap.status == "stopped"
    assert job.process.exitcode == 0
    assert snap.latest.step < 500 * 23
    loaded = cnnviz.load_model("lenet5", snap.checkpoint)
    x = digits.val_x[:4].float()
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), snap.done.model.module(x))


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")
def test_the_child_runs_at_a_lower_priority_with_sleeping_openmp_threads(digits) -> None:
    policy = os.environ.get("OMP_WAIT_POLICY")
    job = TrainJob(share=CpuShare(nice=4))
    job.start(TrainConfig(epochs=500), data=digits)
    try:
        _wait_for_steps(job)
        child = os.getpriority(os.PRIO_PROCESS, job.process.pid)
        block = Path(f"/proc/{job.process.pid}/environ").read_bytes().split(b"\0")
        environ = dict(v.decode().partition("=")[::2] for v in block if b"=" in v)
    finally:
        job.stop()
        finish(job)
    assert child == min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 4)
    # Its OpenMP threads sleep when they wait (they spun by default, 8-10x slower on a busy
    # machine), and this process's environment is left as it was.
    assert environ["OMP_WAIT_POLICY"] == os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    assert os.environ.get("OMP_WAIT_POLICY") == policy


def test_frozen_layers_stay_shared_between_epochs_across_the_boundary() -> None:
    shapes = load_dataset("shapes", size=32, channels=1, seed=0, count=120)
    job = TrainJob()
    job.start(TrainConfig(epochs=2, transfer=True, lr=1e-2), data=shapes)
    finish(job)

    first, last = (e.state_dict for e in job.snapshot().epochs)
    assert first["features.c1.weight"].data_ptr() == last["features.c1.weight"].data_ptr()
    assert not torch.equal(first["classifier.output.weight"], last["classifier.output.weight"])


def test_the_environment_chooses_a_thread_or_a_process(digits, monkeypatch) -> None:
    monkeypatch.setenv("CNNVIZ_TRAIN_PROCESS", "0")
    job = TrainJob()
    job.start(TrainConfig(epochs=1), data=digits)
    finish(job)
    assert job.process is None
    assert job.snapshot().status == "done"


def test_warm_up_starts_the_forkserver_once_in_the_background(monkeypatch) -> None:
    import multiprocessing.forkserver as fs

    from cnnviz.training import job as job_module

    monkeypatch.setattr(job_module, "_WARMING", threading.Event())
    monkeypatch.setenv("CNNVIZ_TRAIN_PROCESS", "0")
    job_module.warm_up()  # runs train in threads: nothing to start
    assert not job_module._WARMING.is_set()

    monkeypatch.delenv("CNNVIZ_TRAIN_PROCESS")
    before = {t.name for t in threading.enumerate()}
    job_module.warm_up()
    job_module.warm_up()  # once per process
    warmers = [t for t in threading.enumerate() if t.name == "cnnviz-forkserver-warm"]
    assert len(warmers) <= 1
    assert "cnnviz-forkserver-warm" not in before
    for thread in warmers:
        thread.join(JOIN_S)
    pid = fs._forkserver._forkserver_pid
    assert pid is not None
    assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # alive, ready for the first run
    job = TrainJob(process=True)
    job.start(TrainConfig(epochs=1, train_subset=32), data=load_dataset("digits", seed=0))
    finish(job)
    assert job.snapshot().status == "done"
    assert fs._forkserver._forkserver_pid == pid  # the run came from the warmed server
