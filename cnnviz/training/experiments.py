"""Training experiments: two runs that differ in one thing, trained one after the other.

An :class:`Experiment` is the settings of each run and what it shows. The Training page starts
one as a series of one job (``label, config = experiment.first``, then ``job.start(config,
label=label, then=experiment.rest)``) and draws every run on one chart; a notebook can train the
runs itself with :func:`cnnviz.train`.

* :func:`overfitting`: LeNet-5 learns 60 digit images by heart over 60 epochs (training
  accuracy 100%, validation stuck near 80%, validation loss rising after its low), then the
  same run with a remedy (dropout, augmentation or weight decay).
* :func:`vanishing`: a 20-layer plain CNN (``deepnet``), whose gradient fades by about seven
  orders of magnitude on its way back to the first layer, then the same depth with ResNet's
  shortcuts, with batch norm, or with both (ResNet-20).

The numbers in these docstrings were measured on the bundled digits (seed 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cnnviz.errors import InputError
from cnnviz.training.events import EpochEvent
from cnnviz.training.loop import TrainConfig

REMEDIES: dict[str, tuple[str, dict[str, object]]] = {
    "augmentation": ("with augmentation (crop, rotate)", {"augment": ("crop", "rotate")}),
    "dropout": ("with dropout 0.5", {"dropout": 0.5}),
    "weight_decay": ("with weight decay 0.01", {"weight_decay": 0.01}),
}
"""Remedies for overfitting, by name: the run's label and the settings it changes."""
CURES: dict[str, tuple[str, dict[str, object]]] = {
    "both": ("with both (ResNet-20)", {"residual": True, "batch_norm": True}),
    "residual": ("with residual connections", {"residual": True}),
    "batch_norm": ("with batch norm", {"batch_norm": True}),
}
"""Cures for the vanishing gradient of the deep plain net, by name, as :data:`REMEDIES`."""


@dataclass(frozen=True, slots=True)
class Experiment:
    """Runs that differ in one setting, trained one after the other and drawn on one chart.

    Attributes:
        name: ``"overfitting"`` or ``"vanishing"``.
        title: A short title for the page.
        runs: (label, settings) of each run, in order.
    """

    name: str
    title: str
    runs: tuple[tuple[str, TrainConfig], ...]

    @property
    def first(self) -> tuple[str, TrainConfig]:
        """The first run: (label, settings)."""
        return self.runs[0]

    @property
    def rest(self) -> tuple[tuple[str, TrainConfig], ...]:
        """The other runs, as :meth:`TrainJob.start`'s ``then``."""
        return self.runs[1:]


def _pick(table: dict[str, tuple[str, dict[str, object]]], name: str, what: str):
    if name not in table:
        raise InputError(f"There is no {what} called '{name}'; choose from {', '.join(table)}.")
    return table[name]


def overfitting(
    remedy: str = "augmentation", *, subset: int = 60, epochs: int = 60, seed: int = 0
) -> Experiment:
    """LeNet-5 overfits a few digits on purpose, then the same run with ``remedy``.

    Measured (seed 0, 60 images, 80 epochs): without a remedy training accuracy 100%,
    validation 81% (its loss lowest at epoch 20, then rising); augmentation 93% / 87%, dropout
    95% / 86% (90% / 78% at 60 epochs: it closes the gap more than it helps validation);
    weight decay keeps the validation loss from rising but not the gap.

    Args:
        remedy: A name in :data:`REMEDIES`.
        subset: Training images (the validation images stay all 360).
        epochs: Passes over them: many, so that it learns them by heart.
        seed: The same seed for both runs: the same first weights and the same images.

    Raises:
        InputError: Unknown remedy.
    """
    label, change = _pick(REMEDIES, remedy, "remedy")
    base = TrainConfig(
        arch="lenet5", dataset="digits", epochs=epochs, batch_size=32, seed=seed,
        train_subset=subset,
    )  # fmt: skip
    return Experiment(
        "overfitting",
        f"Overfitting: {subset} images, {epochs} epochs, then {label}",
        (("overfits (no remedy)", base), (label, replace(base, **change))),
    )


def vanishing(cure: str = "both", *, epochs: int = 2, seed: int = 0) -> Experiment:
    """The 20-layer plain CNN, then the same depth with ``cure``.

    Measured (seed 0, Adam 1e-3): the plain net's first layer gets a gradient about 10^-7
    times its last hidden layer's and stays at chance (9-11%). With shortcuts alone the two
    are within a factor of 3 but it learns slowly (10% after 2 epochs, 25% after 4); with batch
    norm alone 51% after 2 epochs; with both (ResNet-20, the default cure) 84% after 2. The
    gradients tell the story from the first epoch, so the default is 2 epochs (about 15-40 s
    a run on a 2-core laptop).

    Args:
        cure: A name in :data:`CURES`.
        epochs: Epochs of each run.
        seed: The same seed for both runs.

    Raises:
        InputError: Unknown cure.
    """
    label, change = _pick(CURES, cure, "cure")
    base = TrainConfig(arch="deepnet", dataset="digits", epochs=epochs, seed=seed)
    return Experiment(
        "vanishing",
        f"Vanishing gradients: 20 plain layers, then {label}",
        (("plain (no shortcuts, no batch norm)", base), (label, replace(base, **change))),
    )


def gap_text(label: str, epochs: Sequence[EpochEvent]) -> str:
    """The gap of a run's last epoch in words (``""`` before its first epoch).

    ``"overfits: training accuracy 100%, validation 81%: a gap of 19 points; validation loss
    lowest at epoch 20 (0.92), 1.26 now."``
    """
    if not epochs:
        return ""
    last = epochs[-1]
    low = min(epochs, key=lambda e: e.val_loss)
    loss = (
        f"validation loss lowest at epoch {low.epoch} ({low.val_loss:.2f}), {last.val_loss:.2f} now"
        if low.epoch < last.epoch
        else f"validation loss {last.val_loss:.2f}, still falling"
    )
    return (
        f"{label}: training accuracy {last.train_accuracy:.0%}, validation "
        f"{last.val_accuracy:.0%}: a gap of {round(100 * last.gap)} points; {loss}."
    )


def fading(epoch: EpochEvent) -> float | None:
    """How much of the last layer's gradient reaches the first: first norm / last norm.

    The network's own output layer is left out (its gradient comes straight from the loss),
    so "last" is the last layer before it. ``None`` without at least three tracked layers or
    where the last norm is 0.
    """
    norms = list(epoch.grad_norms.values())
    if len(norms) < 3 or norms[-2] == 0:
        return None
    return norms[0] / norms[-2]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_text(value: float) -> str:
    """``3e-09`` as ``"3 × 10⁻⁹"`` (values from 0.01 up as plain numbers, ``"0.4"``)."""
    if value >= 0.01:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def fading_text(label: str, epoch: EpochEvent) -> str:
    """``"plain: after epoch 1 the first layer gets 3 × 10⁻⁹ times the gradient of the last
    hidden layer."`` (``""`` without gradient norms)."""
    ratio = fading(epoch)
    if ratio is None:
        return ""
    return (
        f"{label}: after epoch {epoch.epoch} the first layer gets {power_text(ratio)} times the "
        "gradient of the last hidden layer."
    )
