"""The training loop: it learns, stops, survives divergence, and round-trips checkpoints."""

from __future__ import annotations

import io
import threading

import pytest
import torch

import cnnviz
from cnnviz.data import load_dataset
from cnnviz.training import DoneEvent, EpochEvent, StepEvent, TrainConfig, save_checkpoint, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", size=32, channels=1, seed=0)


def run(**options):
    events = list(train(**options))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    return events, done


def test_the_loop_learns_the_digits(digits) -> None:
    events, done = run(arch="lenet5", data=digits, epochs=4, lr=3e-3, schedule="onecycle")
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert done.status == "done"
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert len(steps) == 4 * -(-len(digits.train_x) // 64)
    assert steps[-1].progress == 1.0
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert epochs[-1].val_accuracy > 0.8  # chance is 0.1
    assert "validation accuracy" in done.message
    assert done.model.labels == digits.classes
    assert not done.model.module.training
    assert done.history == tuple(epochs)


def test_same_seed_same_first_steps(digits) -> None:
    first = [
        e.loss for e in train(arch="lenet5", data=digits, epochs=1) if isinstance(e, StepEvent)
    ]
    again = [
        e.loss for e in train(arch="lenet5", data=digits, epochs=1) if isinstance(e, StepEvent)
    ]
    assert first[:5] == pytest.approx(again[:5], rel=1e-4)


def test_stop_ends_after_the_current_batch_and_keeps_the_model(digits) -> None:
    stop = threading.Event()
    seen = 0
    for event in train(arch="lenet5", data=digits, epochs=3, stop=stop):
        if isinstance(event, StepEvent):
            seen += 1
            if seen == 3:
                stop.set()
        done = event
    assert isinstance(done, DoneEvent)
    assert done.status == "stopped"
    assert seen == 3
    assert "Stopped" in done.message
    assert done.history == ()


def test_divergence_keeps_the_last_good_weights(digits) -> None:
    events, done = run(arch="lenet5", data=digits, epochs=3, optimizer="sgd", lr=1e6)
    assert done.status == "diverged"
    assert "learning rate" in done.message
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    kept = done.model.module.state_dict()
    expected = epochs[-1].state_dict if epochs else None
    if expected is not None:
        for name, tensor in expected.items():
            torch.testing.assert_close(kept[name], tensor)
    assert all(torch.isfinite(t).all() for t in kept.values())


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_every_optimizer_and_schedule_runs(digits, optimizer: str, schedule: str) -> None:
    _, done = run(
        arch="lenet5", data=digits, epochs=1, optimizer=optimizer, schedule=schedule, lr=1e-2
    )
    assert done.status == "done"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(cnnviz.InputError):
        next(train(arch="lenet5", epochs=0))
    with pytest.raises(cnnviz.InputError):
        next(train(arch="no-such-net"))


def test_checkpoint_round_trip_gives_the_same_outputs(digits, tmp_path) -> None:
    config = TrainConfig(arch="lenet5", epochs=1)
    _, done = run(config=config, data=digits)
    path = tmp_path / "lenet5.pt"
    save_checkpoint(done.model, path, config, done.history)
    loaded = cnnviz.load_model("lenet5", path)
    x = torch.randn(3, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), done.model.module(x))
    assert loaded.labels == digits.classes
    meta = torch.load(path, weights_only=True)["meta"]
    assert meta["arch"] == "lenet5"
    assert meta["config"]["epochs"] == 1
    assert meta["history"][0]["epoch"] == 1
    buffer = io.BytesIO()
    save_checkpoint(done.model, buffer)
    assert cnnviz.load_model("lenet5", buffer.getvalue()).labels == digits.classes


def test_epoch_model_rebuilds_the_network_of_an_epoch(digits) -> None:
    from cnnviz.training import epoch_model, to_image

    events, _ = run(arch="lenet5", data=digits, epochs=2)
    first = next(e for e in events if isinstance(e, EpochEvent))
    model = epoch_model(TrainConfig(arch="lenet5"), digits.classes, first.state_dict, first.epoch)
    assert model.weights_source == "Weights after epoch 1 of a training run."
    for name, tensor in first.state_dict.items():
        torch.testing.assert_close(model.module.state_dict()[name], tensor)
    image = to_image(digits.val_x[0].numpy())
    assert image.mode == "L"
    assert image.size == (32, 32)
    assert cnnviz.probe(model, image).layers[0].shape == (1, 32, 32)


def test_a_variant_trains_and_its_checkpoint_rebuilds_it(digits, tmp_path) -> None:
    config = TrainConfig(
        arch="lenet5", epochs=2, lr=3e-3, activation="gelu", batch_norm=True, dropout=0.2
    )
    _, done = run(config=config, data=digits)
    module = done.model.module
    assert isinstance(module.features.act1, torch.nn.GELU)
    assert isinstance(module.features.bn1, torch.nn.BatchNorm2d)
    assert isinstance(module.classifier.drop5, torch.nn.Dropout)
    assert done.history[-1].val_accuracy > 0.5
    path = tmp_path / "variant.pt"
    save_checkpoint(done.model, path, config, done.history)
    loaded = cnnviz.load_model("lenet5", path)
    x = torch.randn(2, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), module(x))
    last = done.history[-1]
    from cnnviz.training import epoch_model

    again = epoch_model(config, digits.classes, last.state_dict, last.epoch)
    with torch.inference_mode():
        torch.testing.assert_close(again.module(x), module(x))


@pytest.mark.parametrize(
    "options",
    [
        {"activation": "swish"},
        {"dropout": 1.0},
        {"augment": ("flip", "blur")},
        {"arch": "resnet18"},  # from scratch: far too large
        {"arch": "resnet18", "transfer": True, "batch_norm": False},
    ],
)
def test_impossible_options_are_refused_with_a_sentence(options) -> None:
    with pytest.raises(cnnviz.InputError) as raised:
        next(train(**options))
    assert str(raised.value).endswith(".")


def test_augmentation_changes_the_images_each_epoch_but_still_learns(digits) -> None:
    plain = [
        e.loss for e in train(arch="lenet5", data=digits, epochs=1) if isinstance(e, StepEvent)
    ]
    events, done = run(
        arch="lenet5", data=digits, epochs=3, lr=3e-3, augment=("rotate", "crop", "color")
    )
    changed = [e.loss for e in events if isinstance(e, StepEvent)]
    assert changed[:3] != pytest.approx(plain[:3])  # same seed, different (augmented) pixels
    assert done.history[-1].val_accuracy > 0.5


def test_transfer_learning_trains_only_a_new_head(digits) -> None:
    from cnnviz.models import build_module

    base = build_module("lenet5", num_classes=10)
    base_state = {k: v.clone() for k, v in base.state_dict().items()}
    shapes = load_dataset("shapes", size=32, channels=1, seed=0, count=300)
    events, done = run(arch="lenet5", data=shapes, epochs=2, transfer=True, lr=1e-2)
    assert done.status == "done"
    state = done.model.module.state_dict()
    # The bundled digit weights stayed as they were; only `classifier.output` is new.
    bundled = cnnviz.load_model("lenet5", weights="auto").module.state_dict()
    for name, tensor in bundled.items():
        if not name.startswith("classifier.output."):
            torch.testing.assert_close(state[name], tensor)
    assert state["classifier.output.weight"].shape == (len(shapes.classes), 84)
    assert not torch.equal(state["features.c1.weight"], base_state["features.c1.weight"])
    assert "Only the new last layer (classifier.output) learned" in done.message
    assert all(p.requires_grad for p in done.model.module.parameters())
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    # frozen tensors are shared between epoch snapshots, the head is copied
    first, last = epochs[0].state_dict, epochs[1].state_dict
    assert first["features.c1.weight"].data_ptr() == last["features.c1.weight"].data_ptr()
    assert (
        first["classifier.output.weight"].data_ptr() != last["classifier.output.weight"].data_ptr()
    )
    assert epochs[-1].val_accuracy > 1 / len(shapes.classes)


def test_transfer_learning_on_a_torchvision_model() -> None:
    shapes = load_dataset("shapes", size=64, channels=3, seed=0, count=60)
    _, done = run(arch="mobilenet_v3_small", data=shapes, epochs=1, transfer=True, batch_size=32)
    assert done.status == "done"
    assert "random weights" in done.message  # no cached ImageNet weights in the tests
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert done.model.module(x).shape == (1, len(shapes.classes))
