"""The work of one training run, and the plain messages it sends to its :class:`TrainJob`.

:func:`run` loads the data, trains, makes each epoch's view and the final results, and sends
what it made as :data:`Message` values: frozen dataclasses of numbers, strings, numpy arrays and
bytes, never a tensor, a module or an image. The same function runs in the server's own thread
(``send`` applies a message to the job directly) or in a child process (:func:`child_main`:
``send`` writes it to a pipe that a thread of the server reads), so both ways behave alike.

Why a child process: every thread of one Python process takes turns holding its GIL, so a
training loop (mostly Python for a small network) in the server's process slows every page that
process serves, however low its priority. A child has its own GIL; it runs at a lower priority
(nice) and pauses between batches while pages run (``idle``, an event the server's
:class:`~cnnviz.training.priority.PageRuns` sets while no page runs).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

from cnnviz.data import Dataset, load_dataset
from cnnviz.errors import InputError
from cnnviz.models import MODELS
from cnnviz.training.evaluation import checkpoint_bytes, confusion, misclassified
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent
from cnnviz.training.loop import TrainConfig, train
from cnnviz.training.priority import CpuShare, lower_priority
from cnnviz.training.tensorboard import write_tensorboard, zip_logs
from cnnviz.training.views import EpochView, EpochViews

log = logging.getLogger(__name__)


class Flag(Protocol):
    """What :func:`run` needs of an event: ``threading.Event`` and ``multiprocessing``'s both."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


MAX_VIEWS = 20
"""Most epoch views a run makes: a longer run makes one every few epochs (and the last), so that
a 60-epoch run of a few images spends its time training, not drawing (a view costs about as
much as an epoch of 60 images)."""
TENSORS = ("train_x", "train_y", "val_x", "val_y")
"""The fields of a :class:`~cnnviz.data.Dataset` that hold tensors."""


@dataclass(frozen=True, slots=True)
class DataArrays:
    """A :class:`~cnnviz.data.Dataset` as plain data: its :data:`TENSORS` as numpy arrays."""

    name: str
    classes: tuple[str, ...]
    source: str
    arrays: dict[str, np.ndarray] = field(repr=False)

    @classmethod
    def of(cls, data: Dataset) -> DataArrays:
        """The arrays of ``data`` (no copy: they share its memory)."""
        arrays = {name: getattr(data, name).numpy() for name in TENSORS}
        return cls(data.name, data.classes, data.source, arrays)

    def dataset(self) -> Dataset:
        """The :class:`~cnnviz.data.Dataset` again (no copy)."""
        tensors = {name: torch.from_numpy(values) for name, values in self.arrays.items()}
        return Dataset(self.name, self.classes, source=self.source, **tensors)


@dataclass(frozen=True, slots=True)
class Order:
    """What one run is to do.

    Attributes:
        config: What to train.
        data: The data set, already loaded (``None``: load ``config.dataset``).
        logdir: Folder for TensorBoard logs (``None``: none).
        share: The run's CPU share (nice, torch threads); applied by :func:`child_main`.
        max_wait_s: Longest pause between two batches while pages run.
        env: The server's environment when the run started (a forked child may have an older
            one: the data and model folders are read from it).
    """

    config: TrainConfig
    data: DataArrays | None = None
    logdir: str | None = None
    share: CpuShare = field(default_factory=CpuShare)
    max_wait_s: float = 0.25
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Loaded:
    """The data is loaded: its class names and the fixed validation image, uint8 (C, H, W)."""

    classes: tuple[str, ...]
    sample: np.ndarray = field(repr=False)


@dataclass(frozen=True, slots=True)
class EpochDone:
    """One epoch done: its :class:`EpochEvent` without the weights, the weights, its view.

    ``weights`` maps every state-dict name to its values; ``None`` where the tensor is the
    same as the previous epoch's (the frozen layers of transfer learning: the job shares it).
    """

    event: EpochEvent = field(repr=False)
    weights: dict[str, np.ndarray | None] = field(repr=False)
    view: EpochView | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Finished:
    """The run ended (see :class:`DoneEvent`); the model travels as its checkpoint's bytes.

    Attributes:
        mistakes: Up to 12 wrong validation images: (uint8 (C, H, W), true class, predicted).
    """

    status: Literal["done", "stopped", "diverged"]
    message: str
    weights_source: str
    key: str
    checkpoint: bytes = field(repr=False)
    confusion: np.ndarray = field(repr=False)
    mistakes: tuple[tuple[np.ndarray, str, str], ...] = field(repr=False)
    logs: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Failed:
    """The run failed; ``message`` says so in one sentence."""

    message: str


Message = Loaded | StepEvent | EpochDone | Finished | Failed


def run(order: Order, send: Callable[[Message], Any], stop: Flag, pause: Callable[[], Any]) -> None:
    """Do ``order``, sending each :data:`Message`; a failure is sent as :class:`Failed`.

    Args:
        order: What to train.
        send: Takes each message (the job, or a pipe to it).
        stop: Set: end the run after the current batch.
        pause: Called after each batch; returns once no page runs, or after a short while.
    """
    try:
        config = order.config
        if order.data is not None:
            data = order.data.dataset()
        else:
            spec = MODELS[config.arch]
            data = load_dataset(
                config.dataset, size=spec.input_size, channels=spec.channels,
                val_fraction=config.val_fraction, seed=config.seed,
            )  # fmt: skip
        sample = data.val_x[0].numpy()
        send(Loaded(data.classes, sample))
        views = EpochViews(config, data.classes, sample)
        events = train(config, data=data, stop=stop)
        if order.logdir is not None:
            events = write_tensorboard(events, order.logdir, config)
        previous: dict[str, torch.Tensor] = {}
        every = math.ceil(config.epochs / MAX_VIEWS)
        for event in events:
            if isinstance(event, StepEvent):
                send(event)
                pause()  # students first: see PageRuns
            elif isinstance(event, EpochEvent):
                due = event.epoch % every == 0 or event.epoch == config.epochs
                send(_epoch(event, views if due else None, previous))
                previous = event.state_dict
            else:
                send(_finished(config, data, event, order.logdir))
    except InputError as error:
        send(Failed(str(error)))
    except Exception as error:
        log.exception("training run failed")
        name = type(error).__name__
        send(Failed(f"Training failed ({name}); the details are in the server log."))


def _epoch(
    event: EpochEvent, views: EpochViews | None, previous: dict[str, torch.Tensor]
) -> EpochDone:
    try:
        view = None if views is None else views.view(event)
    except Exception:
        # The run matters more than its pictures: train on without this epoch's view.
        log.exception("the view of epoch %d failed", event.epoch)
        view = None
    weights = {
        name: None if _same(previous.get(name), tensor) else tensor.detach().cpu().numpy()
        for name, tensor in event.state_dict.items()
    }
    return EpochDone(dataclasses.replace(event, state_dict={}), weights, view)


def _same(before: torch.Tensor | None, now: torch.Tensor) -> bool:
    """The same memory: a frozen layer's tensor, shared between epoch snapshots."""
    return before is not None and before.data_ptr() == now.data_ptr() and before.shape == now.shape


def _finished(config: TrainConfig, data: Dataset, done: DoneEvent, logdir: str | None) -> Finished:
    wrong = misclassified(done.model, data, limit=12)
    return Finished(
        status=done.status,
        message=done.message,
        weights_source=done.model.weights_source,
        key=done.model.key,
        checkpoint=checkpoint_bytes(done.model, config, done.kept_history),
        confusion=confusion(done.model, data),
        mistakes=tuple(
            (data.val_x[m.index].numpy(), data.classes[m.true], data.classes[m.predicted])
            for m in wrong
        ),
        logs=None if logdir is None else zip_logs(logdir),
    )


def child_main(order: Order, conn: Any, stop: Flag, idle: Flag, base_nice: int) -> None:
    """A child process's whole life: take the CPU share, :func:`run`, close the pipe.

    Args:
        order: What to train.
        conn: The writing end of the pipe the server reads messages from. When the server is
            gone, writing to it fails and the child ends.
        stop: Set by the server: end after the current batch.
        idle: Set by the server while no page runs.
        base_nice: The server's own nice value; the child runs at ``base_nice + share.nice``.
            The server that forks the children keeps the server's priority, so that every run
            gets the share it asks for (a process can lower its priority, never raise it);
            its one-off import of torch and cnnviz (about 3 CPU-seconds) is not niced.
    """
    os.environ.clear()
    os.environ.update(order.env)
    lower_priority(base_nice + order.share.nice)
    if order.share.threads is not None:
        torch.set_num_threads(order.share.threads)  # the whole child: nothing else runs here
    try:
        run(order, conn.send, stop, lambda: idle.wait(order.max_wait_s))
    finally:
        conn.close()
