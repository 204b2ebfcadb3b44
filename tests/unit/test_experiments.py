"""Learning-rate schedules, gradient norms per layer, the deep plain net, and experiments
(overfitting and its remedies, vanishing gradients and their cures) run as a series by a job."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention

import cnnviz
from cnnviz import figures
from cnnviz.errors import InputError
from cnnviz.models import build_module
from cnnviz.nets import DeepNet, Variant
from cnnviz.training import (
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainJob,
    lr_schedule,
    overfitting,
    save_checkpoint,
    train,
    vanishing,
)
from cnnviz.training.experiments import REMEDIES, fading, fading_text, gap_text, power_text

JOIN_S = 180


def epochs_of(config: TrainConfig, data) -> list[EpochEvent]:
    return [e for e in train(config, data=data) if isinstance(e, EpochEvent)]


# --- learning-rate schedules ----------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_the_planned_schedule_is_the_rate_the_run_uses(digits, schedule, optimizer) -> None:
    config = TrainConfig(
        epochs=2, schedule=schedule, optimizer=optimizer, lr=0.05, train_subset=256, batch_size=64
    )
    live = [e.lr for e in train(config, data=digits) if isinstance(e, StepEvent)]
    assert len(live) == 8  # 4 steps per epoch
    np.testing.assert_allclose(lr_schedule(config, len(live)), live, rtol=1e-12)


def test_schedules_have_their_documented_shapes() -> None:
    steps = 300
    rates = {s: lr_schedule(TrainConfig(lr=0.1, schedule=s), steps) for s in
             ("constant", "step", "cosine", "onecycle")}  # fmt: skip
    assert np.all(rates["constant"] == 0.1)
    drop = int(np.flatnonzero(rates["step"] < 0.1)[0])
    assert drop == 2 * steps // 3  # x0.1 at two thirds of the run
    assert rates["step"][-1] == pytest.approx(0.01)
    cosine = rates["cosine"]
    assert cosine[0] == 0.1
    assert np.all(np.diff(cosine) <= 0)
    assert cosine[steps // 2] == pytest.approx(0.05, rel=0.02)  # half-way: half the rate
    cycle = rates["onecycle"]
    peak = int(cycle.argmax())
    assert cycle[peak] == pytest.approx(0.1)
    assert 0.2 * steps < peak < 0.4 * steps
    assert cycle[0] < 0.01
    assert cycle[-1] < 1e-4


def test_the_schedule_figure_draws_the_plan_and_the_live_rate(digits) -> None:
    config = TrainConfig(epochs=2, schedule="cosine", train_subset=128)
    steps = [e for e in train(config, data=digits) if isinstance(e, StepEvent)]
    fig = figures.lr_figure(lr_schedule(config, 100), config.epochs, steps[:3])
    planned, live = fig.data
    assert planned.name == "planned"
    assert live.name == "this run"
    assert planned.x[-1] < config.epochs <= fig.layout.xaxis.range[1]
    np.testing.assert_allclose(live.y, [s.lr for s in steps[:3]])
    np.testing.assert_allclose(live.x, [0.0, 0.5, 1.0])  # 2 steps per epoch
    assert len(figures.lr_figure(lr_schedule(config, 10), 2).data) == 1  # before the run


# --- gradient norms and the training subset ---------------------------------------------------


def test_grad_norms_are_each_layers_gradient_norm_in_order(digits) -> None:
    # One batch holding the whole subset: the epoch's mean is that one step's norm, which a
    # plain forward and backward of the same network on the same images gives.
    config = TrainConfig(epochs=1, train_subset=64, batch_size=64, seed=3)
    (epoch,) = epochs_of(config, digits)
    module = build_module("lenet5", num_classes=10, seed=3).train()
    x = (digits.train_x[:64].float() / 255 - 0.5) / 0.5
    F.cross_entropy(module(x), digits.train_y[:64]).backward()
    expected = {
        name.removesuffix(".weight"): float(p.grad.norm())
        for name, p in module.named_parameters()
        if p.dim() > 1
    }
    assert list(epoch.grad_norms) == list(expected)  # input side first
    assert next(iter(expected)) == "features.c1"
    assert list(expected)[-1] == "classifier.output"
    for name, value in expected.items():
        assert epoch.grad_norms[name] == pytest.approx(value, rel=1e-4)


def test_a_subset_trains_on_that_many_images_and_validates_on_all(digits) -> None:
    config = TrainConfig(epochs=1, train_subset=100, batch_size=32)
    events = list(train(config, data=digits))
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(steps) == math.ceil(100 / 32)
    assert steps[-1].samples_per_s > 0
    with pytest.raises(InputError, match="cannot be negative"):
        list(train(TrainConfig(train_subset=-1), data=digits))


def test_transfer_learning_reports_only_the_new_heads_gradient(digits) -> None:
    (epoch,) = epochs_of(TrainConfig(epochs=1, transfer=True, train_subset=64), digits)
    assert list(epoch.grad_norms) == ["classifier.output"]


# --- the deep plain net ----------------------------------------------------------------------


def test_deepnet_is_resnet20s_layout_with_or_without_shortcuts() -> None:
    plain, residual = DeepNet(), DeepNet(residual=True)
    weights = [n for n, p in plain.named_parameters() if p.dim() > 1]
    assert len(weights) == 20  # stem + 3 stages x 3 blocks x 2 convolutions + linear
    assert not any("shortcut" in n for n, _ in plain.named_parameters())
    shortcuts = {n for n, p in residual.named_parameters() if "shortcut" in n and p.dim() > 1}
    assert shortcuts == {"features.stage2_1.shortcut.conv.weight",
                         "features.stage3_1.shortcut.conv.weight"}  # fmt: skip
    x = torch.randn(2, 1, 32, 32)
    assert plain(x).shape == residual(x).shape == (2, 10)
    assert plain.features(x).shape == (2, 64, 8, 8)
    registry = cnnviz.load_model("deepnet", "random")
    assert registry.labels == tuple("0123456789")
    assert registry.spec.year == 2015


def test_a_shortcut_adds_the_input_and_a_plain_block_does_not() -> None:
    from cnnviz.nets import BasicBlock

    torch.manual_seed(0)
    block = BasicBlock(4, 4, batch_norm=False).eval()
    plain = BasicBlock(4, 4, batch_norm=False, residual=False).eval()
    plain.load_state_dict(block.state_dict())
    x = torch.randn(1, 4, 6, 6)
    inner = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(inner + x))
    torch.testing.assert_close(plain(x), torch.relu(inner))


def test_residual_is_only_for_the_deep_plain_net(digits) -> None:
    with pytest.raises(InputError, match="only on the deep plain net"):
        list(train(TrainConfig(arch="lenet5", residual=True), data=digits))
    assert Variant(residual=True).describe() == "residual connections"
    assert Variant(residual=True).kwargs() == {"residual": True}


def test_a_residual_deepnet_checkpoint_rebuilds_with_its_shortcuts(digits, tmp_path) -> None:
    config = TrainConfig(arch="deepnet", epochs=1, residual=True, train_subset=64)
    *_, done = train(config, data=digits)
    path = tmp_path / "deep.pt"
    save_checkpoint(done.model, path, config, done.history)
    model = cnnviz.load_model("deepnet", path)
    assert any("shortcut" in name for name in model.module.state_dict())
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(model.module(x), done.model.module(x))


def test_the_plain_nets_gradient_vanishes_and_shortcuts_or_batch_norm_carry_it(digits) -> None:
    runs = {
        label: epochs_of(replace_epochs(config), digits)[-1]
        for cure in ("residual", "batch_norm", "both")
        for label, config in vanishing(cure).runs
    }
    plain = runs["plain (no shortcuts, no batch norm)"]
    assert fading(plain) < 1e-4  # measured about 1e-7
    assert fading(runs["with residual connections"]) > 1e-2
    assert fading(runs["with batch norm"]) > 1e-2
    assert fading(runs["with both (ResNet-20)"]) > 1e-2
    assert " × 10⁻" in fading_text("plain", plain)  # written as a power of ten


def test_small_ratios_are_written_as_powers_of_ten() -> None:
    assert power_text(3e-9) == "3 × 10⁻⁹"
    assert power_text(0.0012) == "1 × 10⁻³"
    assert power_text(0.4) == "0.4"
    assert power_text(2.61) == "2.6"


def replace_epochs(config: TrainConfig) -> TrainConfig:
    """One short epoch: the fading shows from the first steps."""
    return dataclasses.replace(config, epochs=1, train_subset=256)


# --- experiments ----------------------------------------------------------------------------


@pytest.mark.parametrize("remedy", list(REMEDIES))
def test_an_overfitting_experiment_differs_only_in_its_remedy(remedy) -> None:
    experiment = overfitting(remedy)
    (_, base), (label, cured) = experiment.runs
    assert base.train_subset == 60
    assert base.epochs == 60
    assert base.augment == ()
    changed = {f.name for f in dataclasses.fields(TrainConfig)
               if getattr(base, f.name) != getattr(cured, f.name)}  # fmt: skip
    assert changed == set(REMEDIES[remedy][1])
    assert experiment.first == ("overfits (no remedy)", base)
    assert experiment.rest == ((label, cured),)
    with pytest.raises(InputError, match="no remedy called 'magic'"):
        overfitting("magic")


def test_the_vanishing_experiment_compares_the_same_depth(digits) -> None:
    (_, plain), (_, cured) = vanishing("residual").runs
    assert plain.arch == cured.arch == "deepnet"
    assert (plain.residual, cured.residual) == (None, True)
    with pytest.raises(InputError, match="no cure called"):
        vanishing("prayer")


def event(epoch: int, train_acc: float, val_acc: float, val_loss: float) -> EpochEvent:
    return EpochEvent(epoch, 3, 0.1, train_acc, val_loss, val_acc, {})


def test_the_gap_is_named_in_points_with_the_validation_loss() -> None:
    epochs = [event(1, 0.7, 0.65, 0.9), event(2, 0.95, 0.8, 0.6), event(3, 1.0, 0.81, 0.7)]
    assert gap_text("overfits", epochs) == (
        "overfits: training accuracy 100%, validation 81%: a gap of 19 points; validation "
        "loss lowest at epoch 2 (0.60), 0.70 now."
    )
    assert gap_text("cured", epochs[:2]).endswith("validation loss 0.60, still falling.")
    assert gap_text("none", []) == ""


def test_an_overfitting_run_learns_its_images_by_heart(digits) -> None:
    config = dataclasses.replace(overfitting().runs[0][1], epochs=30)
    epochs = epochs_of(config, digits)
    last = epochs[-1]
    assert last.train_accuracy == 1.0
    assert last.gap > 0.08  # measured 0.19 at 60 epochs
    assert min(e.val_loss for e in epochs) < last.val_loss  # it rose again after its low


def test_the_runs_and_gradient_figures_draw_every_run(digits) -> None:
    a = [event(1, 0.5, 0.4, 1.0), event(2, 0.9, 0.6, 0.8)]
    b = [dataclasses.replace(e, grad_norms={"c1": 1e-7, "extra": 1e-3, "fc": 1e-2}) for e in a]
    runs = figures.runs_figure([("first", a), ("second", a[:1])])
    assert len(runs.data) == 8  # per run: training and validation, accuracy and loss
    assert [t.name for t in runs.data if t.showlegend] == [
        "first: training", "first: validation", "second: training", "second: validation",
    ]  # fmt: skip
    grads = figures.gradient_figure([("plain", [dataclasses.replace(e, grad_norms={
        "c1": 1e-6, "fc": 1e-2}) for e in a]), ("cured", b)])  # fmt: skip
    assert len(grads.data) == 4  # one line per run and epoch
    assert list(grads.layout.xaxis.categoryarray) == ["c1", "extra", "fc"]
    assert grads.layout.yaxis.type == "log"
    assert [t.line.width for t in grads.data] == [1, 3, 1, 3]  # the last epoch bold


# --- a series of runs in one job ---------------------------------------------------------------


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_a_job_runs_a_series_and_keeps_each_runs_curves(digits, process) -> None:
    first = TrainConfig(epochs=2, train_subset=64)
    second = dataclasses.replace(first, dropout=0.5)
    job = TrainJob(process=process)
    job.start(first, data=digits, label="plain", then=[("with dropout", second)])
    seen = set()
    while job.thread.is_alive():
        snap = job.snapshot()
        seen.add(snap.status)
        job.thread.join(0.05)
    assert seen <= {"running", "done"}  # never "done" between the runs
    snap = job.snapshot()
    assert snap.status == "done"
    assert snap.config == second
    assert snap.label == "with dropout"
    assert snap.series_text == "Run 2 of 2: with dropout"
    (before,) = snap.earlier
    assert before.label == "plain"
    assert before.config == first
    assert [e.epoch for e in before.epochs] == [1, 2]
    assert all(e.state_dict == {} and e.grad_norms for e in before.epochs)
    assert [r.label for r in snap.runs] == ["plain", "with dropout"]
    assert [e.epoch for e in snap.runs[1].epochs] == [1, 2]
    assert cnnviz.load_model("lenet5", snap.checkpoint).module.classifier.drop5.p == 0.5


def test_stopping_a_series_ends_it_at_the_first_run(digits) -> None:
    first = TrainConfig(epochs=30, train_subset=64, batch_size=8)
    job = TrainJob(process=False)
    job.start(first, data=digits, label="a", then=[("b", dataclasses.replace(first, seed=1))])
    while not job.snapshot().steps:
        job.thread.join(0.02)
    job.stop()
    job.thread.join(JOIN_S)
    snap = job.snapshot()
    assert snap.status == "stopped"
    assert snap.label == "a"
    assert snap.earlier == ()
    assert snap.queued == (("b", dataclasses.replace(first, seed=1)),)


def test_a_long_run_draws_a_view_every_few_epochs_and_the_last(digits) -> None:
    job = TrainJob(process=False)
    job.start(TrainConfig(epochs=25, train_subset=32, batch_size=32), data=digits)
    job.thread.join(JOIN_S)
    snap = job.snapshot()
    assert snap.status == "done"
    assert len(snap.epochs) == 25
    assert [v.epoch for v in snap.views] == [*range(2, 25, 2), 25]  # at most 20 views


def test_the_schedule_figure_leaves_room_above_its_highest_rate() -> None:
    fig = figures.lr_figure(lr_schedule(TrainConfig(lr=0.001), 20), 1)
    assert fig.layout.yaxis.range == (0, pytest.approx(0.00115))  # a constant line below the top
    assert fig.layout.legend.yanchor == "bottom"  # above the plot area, off the lines
    assert fig.layout.legend.y == 1.0
