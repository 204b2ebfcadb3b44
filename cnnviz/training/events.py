"""What :func:`cnnviz.training.train` yields: a step, an epoch, and the end of the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from cnnviz.errors import TrainingDiverged
from cnnviz.models import Model


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One optimizer step done.

    Attributes:
        epoch: Epoch of the step, from 1.
        step: Steps done so far in the run, from 1.
        steps: Steps in the whole run.
        loss: Mean cross-entropy loss of the batch, before the step.
        accuracy: Share of the batch the network got right, 0..1.
        samples_per_s: Training images per second so far.
        elapsed_s: Seconds since the run started.
        lr: Learning rate of this step (as the schedule set it; 0.0 where not known).
    """

    epoch: int
    step: int
    steps: int
    loss: float
    accuracy: float
    samples_per_s: float
    elapsed_s: float
    lr: float = 0.0

    @property
    def progress(self) -> float:
        """Share of the run done, 0..1."""
        return self.step / max(1, self.steps)


@dataclass(frozen=True, slots=True)
class EpochEvent:
    """One epoch done, with validation metrics and a snapshot of the weights.

    Attributes:
        epoch: The epoch, from 1.
        epochs: Epochs in the whole run.
        train_loss: Mean loss over the epoch's training batches (in training mode).
        train_accuracy: Share of the training images it got right while learning them.
        val_loss: Mean loss on the validation images (evaluation mode), after the epoch.
        val_accuracy: Share of the validation images it gets right, after the epoch.
        state_dict: The weights after the epoch.
        grad_norms: Each trained layer's weight-gradient norm (L2), averaged over the
            epoch's steps, from the input's end of the network to the output's (convolution
            and linear layers, by module name). Where it fades towards the input, the first
            layers barely learn: the vanishing gradient.
    """

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    grad_norms: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def gap(self) -> float:
        """Training minus validation accuracy: how much better it knows the images it learned
        from than new ones (overfitting, when it grows)."""
        return self.train_accuracy - self.val_accuracy


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """The run ended: ``status`` says how, ``message`` says it in a sentence.

    A run that diverged is not a success: ``status`` is ``"diverged"``, ``model`` holds the
    weights of the :attr:`best` epoch (or the initial weights if no epoch finished), and
    :meth:`raise_for_status` turns it into a :class:`~cnnviz.errors.TrainingDiverged`.
    """

    status: Literal["done", "stopped", "diverged"]
    message: str
    model: Model = field(repr=False)
    history: tuple[EpochEvent, ...] = field(repr=False)

    @property
    def best(self) -> EpochEvent | None:
        """The finished epoch with the highest validation accuracy (the first of equals)."""
        return best_epoch(self.history)

    @property
    def kept_history(self) -> tuple[EpochEvent, ...]:
        """The epochs that led to :attr:`model`'s weights, for its checkpoint.

        All of them, except after a divergence: then the model holds the best epoch's weights,
        so the epochs up to that one (none if it kept the initial weights).
        """
        if self.status != "diverged":
            return self.history
        best = self.best
        return tuple(e for e in self.history if best is not None and e.epoch <= best.epoch)

    def raise_for_status(self) -> None:
        """Raise if the run diverged; do nothing if it finished or was stopped.

        Raises:
            TrainingDiverged: The loss blew up; the error's message is :attr:`message`.
        """
        if self.status == "diverged":
            raise TrainingDiverged(self.message)


TrainEvent = StepEvent | EpochEvent | DoneEvent


def best_epoch(history: Sequence[EpochEvent]) -> EpochEvent | None:
    """The epoch with the highest validation accuracy (the first of equals; ``None`` if none)."""
    return max(history, key=lambda e: e.val_accuracy, default=None)
