"""TensorBoard logs of a run, read back with TensorBoard's own reader."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnviz import figures
from cnnviz.training import (
    DoneEvent,
    EpochEvent,
    StepEvent,
    TrainConfig,
    new_logdir,
    train,
    write_tensorboard,
    zip_logs,
)
from cnnviz.training.tensorboard import EPOCH_TAGS, FILTERS_TAG, ROOT_ENV, STEP_TAGS, logs_root


def read(logdir) -> EventAccumulator:
    board = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    board.Reload()
    return board


def text(board: EventAccumulator, tag: str) -> str:
    (event,) = board.Tensors(f"{tag}/text_summary")
    return event.tensor_proto.string_val[0].decode()


def test_a_run_logs_steps_epochs_filters_and_its_end(digits, tmp_path) -> None:
    config = TrainConfig(epochs=2, lr=3e-3, schedule="onecycle")
    events = list(write_tensorboard(train(config, data=digits), tmp_path, config))

    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert isinstance(events[-1], DoneEvent)  # passed through, in order
    board = read(tmp_path)
    tags = board.Tags()
    assert set(tags["scalars"]) == {*STEP_TAGS, *EPOCH_TAGS}
    assert tags["images"] == [FILTERS_TAG]
    for tag, field in zip(STEP_TAGS, ("loss", "accuracy", "lr"), strict=True):
        points = board.Scalars(tag)
        assert [p.step for p in points] == [s.step for s in steps]
        assert [p.value for p in points] == pytest.approx([getattr(s, field) for s in steps])
    assert board.Scalars("step/learning_rate")[0].value == pytest.approx(3e-3 / 25)
    for tag in EPOCH_TAGS:
        points = board.Scalars(tag)
        assert [p.step for p in points] == [1, 2]
        field = tag.removeprefix("epoch/")
        assert [p.value for p in points] == pytest.approx([getattr(e, field) for e in epochs])
    pictures = board.Images(FILTERS_TAG)
    assert [p.step for p in pictures] == [1, 2]
    last = np.asarray(Image.open(io.BytesIO(pictures[-1].encoded_image_string)).convert("RGB"))
    expected = np.asarray(figures.filters_grid(epochs[-1].state_dict).image.convert("RGB"))
    np.testing.assert_array_equal(last, expected)  # the page's filter picture, losslessly
    assert "| lr | 0.003 |" in text(board, "settings")
    assert text(board, "result") == f"**done**: {events[-1].message}"


def test_a_diverged_run_says_so_in_its_logs(digits, tmp_path) -> None:
    config = TrainConfig(epochs=1, optimizer="sgd", lr=1000.0)
    events = list(write_tensorboard(train(config, data=digits), tmp_path))
    board = read(tmp_path)
    assert len(board.Scalars("step/loss")) == 9  # the 10th batch is the one that stopped it
    assert board.Tags()["images"] == []  # no epoch finished
    assert text(board, "result").startswith("**diverged**: At epoch 1, step 10 ")
    assert events[-1].status == "diverged"


def test_the_logs_are_on_disk_when_the_done_event_arrives(digits, tmp_path) -> None:
    for event in write_tensorboard(train(epochs=1, data=digits), tmp_path):
        if isinstance(event, DoneEvent):
            break  # the caller stops here; the generator is not finished
    assert len(read(tmp_path).Scalars("epoch/val_loss")) == 1


def test_new_logdir_names_a_fresh_folder_per_run(tmp_path, monkeypatch) -> None:
    config = TrainConfig(arch="tinyvgg", dataset="shapes")
    first, second = new_logdir(config, root=tmp_path), new_logdir(config, root=tmp_path)
    assert first != second
    assert first.is_dir()
    assert first.parent == tmp_path
    assert first.name.startswith("tinyvgg-shapes-")
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "boards"))
    assert logs_root() == tmp_path / "boards"
    assert new_logdir(config).parent == tmp_path / "boards"


def test_zip_logs_keeps_the_run_folder(tmp_path) -> None:
    run = tmp_path / "lenet5-digits-1"
    (run / "sub").mkdir(parents=True)
    (run / "events.out.tfevents.1").write_bytes(b"abc")
    (run / "sub" / "events.out.tfevents.2").write_bytes(b"de")
    archive = zipfile.ZipFile(io.BytesIO(zip_logs(run)))
    assert sorted(archive.namelist()) == [
        "lenet5-digits-1/events.out.tfevents.1",
        "lenet5-digits-1/sub/events.out.tfevents.2",
    ]
    assert archive.read("lenet5-digits-1/sub/events.out.tfevents.2") == b"de"
