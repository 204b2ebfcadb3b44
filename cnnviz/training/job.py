"""One training run in a background thread, polled by the page (no Streamlit here)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from PIL import Image

from cnnviz.data import Dataset, load_dataset
from cnnviz.errors import InputError
from cnnviz.models import MODELS
from cnnviz.training.evaluation import checkpoint_bytes, confusion, misclassified, to_image
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent
from cnnviz.training.loop import TrainConfig, _check, train
from cnnviz.training.priority import PAGES, CpuShare, share_cpu
from cnnviz.training.tensorboard import write_tensorboard, zip_logs
from cnnviz.training.views import EpochView, EpochViews

log = logging.getLogger(__name__)

MAX_JOBS = 2
"""Training runs allowed at once in this process (each takes the CPU the pages leave over)."""
JOB_SLOTS = threading.BoundedSemaphore(MAX_JOBS)
"""Shared by every :class:`TrainJob`: a third concurrent run is refused, not queued."""
MAX_POINTS = 2000
"""Most step points a job keeps; beyond it every other point is dropped (the curve stays)."""
JobStatus = Literal["idle", "running", "done", "stopped", "diverged", "failed"]


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """An immutable copy of a :class:`TrainJob`'s state, for the page to draw.

    Attributes:
        status: ``"idle"``, ``"running"``, ``"done"``, ``"stopped"``, ``"diverged"`` (the loss
            blew up: the model holds the best epoch's weights) or ``"failed"``.
        message: One sentence on how the run went (empty while idle or running).
        config: The settings of the current or last run.
        steps: Step events, thinned to at most :data:`MAX_POINTS`.
        epochs: One event per finished epoch (with its weight snapshot).
        views: What the page shows of each finished epoch, made once by the training thread
            (one per epoch, in order; an epoch whose view failed has none).
        latest: The last step event, for the progress bar.
        done: The final event, once the run ended (not for ``"failed"``).
        confusion: (K, K) counts on the validation images, rows true, columns predicted.
        classes: Class names of the data set.
        checkpoint: The finished model as a checkpoint file (bytes for a download).
        sample: A fixed validation image, uint8 (C, H, W), to watch through the epochs.
        mistakes: Up to 12 validation images the finished model gets wrong, as
            (image, true class, predicted class).
        logdir: Folder of the run's TensorBoard logs on the server (``None``: not asked for).
        logs: Those logs as a zip (bytes for a download), once the run ended.
    """

    status: JobStatus = "idle"
    message: str = ""
    config: TrainConfig | None = None
    steps: tuple[StepEvent, ...] = ()
    epochs: tuple[EpochEvent, ...] = ()
    views: tuple[EpochView, ...] = field(default=(), repr=False)
    latest: StepEvent | None = None
    done: DoneEvent | None = None
    confusion: np.ndarray | None = field(default=None, repr=False)
    classes: tuple[str, ...] = ()
    checkpoint: bytes | None = field(default=None, repr=False)
    sample: np.ndarray | None = field(default=None, repr=False)
    mistakes: tuple[tuple[Image.Image, str, str], ...] = field(default=(), repr=False)
    logdir: str | None = None
    logs: bytes | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def has_model(self) -> bool:
        """Whether the run left a model worth using: not a blown-up run that finished no epoch."""
        done = self.done
        return done is not None and (done.status != "diverged" or bool(done.history))

    def view(self, epoch: int) -> EpochView | None:
        """The view of one finished epoch (``None``: not finished, or its view failed)."""
        return next((v for v in self.views if v.epoch == epoch), None)

    @property
    def progress(self) -> float:
        """Share of the run done, 0..1."""
        if self.status in ("done",):
            return 1.0
        return self.latest.progress if self.latest is not None else 0.0

    @property
    def progress_text(self) -> str:
        """``"Epoch 2 of 5 · step 40 of 115 · 1,234 images/s · about 12 s left"``."""
        last, config = self.latest, self.config
        if last is None or config is None:
            return "Loading the data and building the network…"
        eta = last.elapsed_s * (1 - last.progress) / max(last.progress, 1e-9)
        left = f"about {eta:.0f} s left" if self.running else self.status
        return (
            f"Epoch {last.epoch} of {config.epochs} · step {last.step} of {last.steps} · "
            f"{last.samples_per_s:,.0f} images/s · {left}"
        )


class TrainJob:
    """One training run in a daemon thread, safe to poll from another thread.

    The thread writes only to this object, under its lock; :meth:`snapshot` hands out an
    immutable copy. No Streamlit here: the page polls :meth:`snapshot`. The thread gives way to
    the pages (see :mod:`cnnviz.training.priority`) and makes each epoch's :class:`EpochView`
    once, so that a poll only reads.

    Args:
        slots: Semaphore capping concurrent runs (default :data:`JOB_SLOTS`, shared by all).
        share: How much CPU the thread takes (default: :meth:`CpuShare.from_env`, read at
            each start).
    """

    def __init__(
        self, slots: threading.BoundedSemaphore | None = None, share: CpuShare | None = None
    ) -> None:
        self._slots = slots if slots is not None else JOB_SLOTS
        self._share = share
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state = JobSnapshot()
        self._stride = 1
        self.thread: threading.Thread | None = None

    def start(
        self,
        config: TrainConfig,
        data: Dataset | None = None,
        logdir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Start training ``config`` in the background (``data`` default: load it there).

        Args:
            config: What to train.
            data: The data set, already loaded (default: load ``config.dataset`` in the thread).
            logdir: Write TensorBoard logs into this folder (see
                :func:`cnnviz.training.write_tensorboard`); the snapshot then offers them as a
                zip once the run ends.

        Raises:
            InputError: Bad settings, a run of this job is still going, or the server is
                already running :data:`MAX_JOBS` trainings.
        """
        _check(config)
        if self.thread is not None and self.thread.is_alive():
            raise InputError("A training run is still going: stop it first.")
        if not self._slots.acquire(blocking=False):
            raise InputError(
                f"The server is busy training {MAX_JOBS} other networks right now: "
                "try again in a minute."
            )
        self._stop.clear()
        self._stride = 1
        with self._lock:
            self._state = JobSnapshot(
                status="running", config=config, logdir=None if logdir is None else str(logdir)
            )
        share = self._share if self._share is not None else CpuShare.from_env()
        self.thread = threading.Thread(
            target=self._run, args=(config, data, share), name=f"cnnviz-train-{id(self):x}",
            daemon=True,
        )  # fmt: skip
        try:
            self.thread.start()
        except BaseException:
            self._slots.release()
            raise

    def stop(self) -> None:
        """Ask the run to end after the current batch (it keeps the model)."""
        self._stop.set()

    def snapshot(self) -> JobSnapshot:
        """An immutable copy of the job's state."""
        with self._lock:
            return self._state

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _add_step(self, event: StepEvent) -> None:
        with self._lock:
            steps = self._state.steps
            if event.step % self._stride == 0:
                steps = (*steps, event)
                if len(steps) > MAX_POINTS:
                    steps, self._stride = steps[1::2], self._stride * 2
            self._state = replace(self._state, steps=steps, latest=event)

    def _run(self, config: TrainConfig, data: Dataset | None, share: CpuShare) -> None:
        try:
            share_cpu(share)
            if data is None:
                spec = MODELS[config.arch]
                data = load_dataset(
                    config.dataset, size=spec.input_size, channels=spec.channels,
                    val_fraction=config.val_fraction, seed=config.seed,
                )  # fmt: skip
            sample = data.val_x[0].numpy()
            self._update(classes=data.classes, sample=sample)
            views = EpochViews(config, data.classes, sample)
            events = train(config, data=data, stop=self._stop)
            logdir = self.snapshot().logdir
            if logdir is not None:
                events = write_tensorboard(events, logdir, config)
            for event in events:
                if isinstance(event, StepEvent):
                    self._add_step(event)
                    PAGES.wait_for_pages()  # students first: see PageRuns
                elif isinstance(event, EpochEvent):
                    self._add_epoch(event, views)
                else:
                    self._finish(config, data, event)
        except InputError as error:
            self._update(status="failed", message=str(error))
        except Exception as error:
            log.exception("training run failed")
            self._update(
                status="failed",
                message=f"Training failed ({type(error).__name__}); the details are in the "
                "server log.",
            )
        finally:
            self._slots.release()

    def _add_epoch(self, event: EpochEvent, views: EpochViews) -> None:
        """The epoch and its view, together: the page never sees one without the other."""
        try:
            view = (views.view(event),)
        except Exception:
            # The run matters more than its pictures: train on without this epoch's view.
            log.exception("the view of epoch %d failed", event.epoch)
            view = ()
        with self._lock:
            state = self._state
            self._state = replace(state, epochs=(*state.epochs, event), views=(*state.views, *view))

    def _finish(self, config: TrainConfig, data: Dataset, done: DoneEvent) -> None:
        matrix = confusion(done.model, data)
        mistakes = tuple(
            (to_image(data.val_x[m.index].numpy()), data.classes[m.true], data.classes[m.predicted])
            for m in misclassified(done.model, data, limit=12)
        )
        logdir = self.snapshot().logdir
        self._update(
            confusion=matrix,
            mistakes=mistakes,
            checkpoint=checkpoint_bytes(done.model, config, done.kept_history),
            logs=None if logdir is None else zip_logs(logdir),
            done=done,
            message=done.message,
            status=done.status,  # last: the page treats a finished status as complete
        )
