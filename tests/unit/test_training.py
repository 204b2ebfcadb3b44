"""The training loop: it learns, stops, survives divergence, and round-trips checkpoints."""

from __future__ import annotations

import io
import math
import threading

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import cnnviz
from cnnviz.data import load_dataset
from cnnviz.models import build_module
from cnnviz.training import (
    DivergenceWatch,
    DoneEvent,
    EpochEvent,
    StepEvent,
    TrainConfig,
    save_checkpoint,
    train,
)


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
    assert done.message.startswith("Trained 4 epochs: ")
    assert "validation accuracy" in done.message
    assert done.model.labels == digits.classes
    assert not done.model.module.training
    assert done.history == tuple(epochs)
    # one-cycle: warm up from lr / 25 to the peak lr, then anneal
    rates = [s.lr for s in steps]
    assert rates[0] == pytest.approx(3e-3 / 25)
    assert max(rates) == pytest.approx(3e-3, rel=1e-3)
    assert rates[-1] < rates[0]


def test_one_epoch_is_singular(digits) -> None:
    events, done = run(arch="lenet5", data=digits, epochs=1)
    assert done.message.startswith("Trained 1 epoch: ")
    assert {s.lr for s in events if isinstance(s, StepEvent)} == {1e-3}  # constant schedule


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


def _initial_weights() -> dict[str, torch.Tensor]:
    return build_module("lenet5", num_classes=10, seed=0).state_dict()


@pytest.mark.parametrize(
    ("optimizer", "lr", "advice"),
    [
        ("sgd", 1e6, "learning rate 1e+06 is too high, so try 100000 (10x smaller)"),
        ("sgd", 1000.0, "learning rate 1000 is too high, so try 100 (10x smaller)"),  # issue 9
        ("adam", 10.0, "learning rate 10 is too high, so try 1 (10x smaller)"),
    ],
)
def test_a_loss_that_blows_up_is_divergence(digits, optimizer, lr, advice) -> None:
    events, done = run(arch="lenet5", data=digits, epochs=3, optimizer=optimizer, lr=lr)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert done.status == "diverged"
    assert advice in done.message
    assert done.message.endswith("the model keeps its initial weights, as no epoch finished.")
    # Stopped within the first epoch (23 steps), not after three epochs of ruined weights.
    assert len(steps) < 23
    assert done.history == ()
    assert done.best is None
    assert done.kept_history == ()
    kept = done.model.module.state_dict()
    for name, tensor in _initial_weights().items():
        torch.testing.assert_close(kept[name], tensor)
    with pytest.raises(cnnviz.TrainingDiverged) as raised:
        done.raise_for_status()
    assert str(raised.value) == done.message


def test_the_issue_9_blow_up_stops_at_step_10_with_the_numbers(digits) -> None:
    # sgd lr 1000 never reaches inf or nan: the 10-batch median passes 3 x the first loss.
    _, done = run(arch="lenet5", data=digits, epochs=1, optimizer="sgd", lr=1000.0)
    assert done.message.startswith("At epoch 1, step 10 the loss blew up to ")
    assert "(median of the last 10 batches; it started at 2.31)" in done.message


class _Sabotage:
    """``F`` for the loop: training losses of epoch 2 flipped (it unlearns), of epoch 3 x 10^4.

    The flipped loss makes epoch 2 worse than epoch 1 without blowing up (its losses are
    negative); the scaled one is a blow-up. Validation (inference mode) is left alone.
    """

    def __init__(self, per_epoch: int) -> None:
        self.per_epoch = per_epoch
        self.calls = 0

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor, **kw) -> torch.Tensor:
        loss = F.cross_entropy(logits, target, **kw)
        if torch.is_inference_mode_enabled():
            return loss
        self.calls += 1
        epoch = (self.calls - 1) // self.per_epoch + 1
        return {1: loss, 2: -loss}.get(epoch, loss * 1e4)


def test_divergence_keeps_the_best_epoch_not_the_last(digits, monkeypatch) -> None:
    per_epoch = -(-len(digits.train_x) // 64)
    monkeypatch.setattr("cnnviz.training.loop.F", _Sabotage(per_epoch))
    events, done = run(arch="lenet5", data=digits, epochs=5)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[1].val_accuracy < epochs[0].val_accuracy  # epoch 2 unlearned
    assert done.status == "diverged"
    # Epoch 3's 6th batch makes 6 of the last 10 losses huge: most of the window.
    assert done.message.startswith(f"At epoch 3, step {2 * per_epoch + 6} the loss blew up")
    assert done.message.endswith(
        f"the model keeps the weights of epoch 1, its best ({epochs[0].val_accuracy:.1%} "
        "validation accuracy)."
    )
    assert done.history == tuple(epochs)
    assert done.best is epochs[0]
    assert done.kept_history == (epochs[0],)
    kept = done.model.module.state_dict()
    for name, tensor in epochs[0].state_dict.items():
        torch.testing.assert_close(kept[name], tensor)


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "sgd", "lr": 0.1},
        {"optimizer": "sgd", "lr": 0.1, "schedule": "onecycle"},
        {"optimizer": "sgd", "lr": 0.1, "batch_size": 8},  # noisy: single batches spike 2x
        {"lr": 3e-3, "schedule": "onecycle", "batch_size": 32},
    ],
)
def test_healthy_high_rates_do_not_count_as_divergence(digits, options) -> None:
    _, done = run(arch="lenet5", data=digits, epochs=2, **options)
    assert done.status == "done", done.message


def test_tinyvgg_on_shapes_does_not_diverge() -> None:
    shapes = load_dataset("shapes", size=64, channels=3, seed=0, count=320)
    _, done = run(arch="tinyvgg", data=shapes, epochs=2, batch_size=32, optimizer="sgd", lr=0.1)
    assert done.status == "done", done.message


def test_the_watch_ignores_a_spike_but_not_a_lasting_blow_up() -> None:
    watch = DivergenceWatch(10)  # reference: ln 10 = 2.303 (above the first loss), limit 6.9
    assert not any(watch.update(v) for v in [2.0] * 10 + [1e6] + [2.0] * 20)
    assert watch.reference == pytest.approx(math.log(10))
    watch = DivergenceWatch(10)
    # Window of 10: 5 huge losses out of 10 are not yet most of it; the 6th is.
    seen = [watch.update(v) for v in [2.3] * 5 + [100.0] * 6]
    assert seen == [False] * 10 + [True]
    assert watch.describe() == (
        "the loss blew up to 100 (median of the last 10 batches; it started at 2.3)"
    )


def test_the_watch_measures_against_a_high_first_loss() -> None:
    watch = DivergenceWatch(2)  # ln 2 = 0.69 is below the first loss: 5.0 is the reference
    assert not any(watch.update(v) for v in [5.0] + [14.9] * 20)
    watch = DivergenceWatch(2)
    assert [watch.update(v) for v in [5.0] + [15.1] * 9] == [False] * 9 + [True]


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_the_watch_stops_at_the_first_loss_that_is_not_a_number(value) -> None:
    watch = DivergenceWatch(10)
    assert watch.update(2.3) is False
    assert watch.update(value) is True
    assert watch.describe() == f"the loss became {value}"


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
