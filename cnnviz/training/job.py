"""One training run in a child process (or a thread), polled by the page (no Streamlit here).

By default a run trains in a child process (see :mod:`cnnviz.training.worker` for why): a
thread of the server, the *receiver*, reads the child's messages and writes them into the
job under its lock, so a page only ever reads a snapshot and never waits on the child.
``CNNVIZ_TRAIN_PROCESS=0`` (or ``TrainJob(process=False)``) trains in a thread of the server
instead, as cnnviz did before: the same work and messages, without the process boundary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing import forkserver, spawn
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from cnnviz.data import Dataset
from cnnviz.errors import InputError
from cnnviz.models import load_model
from cnnviz.training import priority, worker
from cnnviz.training.evaluation import to_image
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent
from cnnviz.training.loop import TrainConfig, _check
from cnnviz.training.priority import PAGES, PROCESSES, CpuShare, current_nice, share_cpu
from cnnviz.training.views import EpochView
from cnnviz.training.worker import EpochDone, Failed, Finished, Loaded, Message, Order

log = logging.getLogger(__name__)

MAX_JOBS = 2
"""Training runs allowed at once in this process (each takes the CPU the pages leave over)."""
JOB_SLOTS = threading.BoundedSemaphore(MAX_JOBS)
"""Shared by every :class:`TrainJob`: a third concurrent run is refused, not queued."""
MAX_POINTS = 2000
"""Most step points a job keeps; beyond it every other point is dropped (the curve stays)."""
PROCESS_ENV = "CNNVIZ_TRAIN_PROCESS"
"""``0``: train in a thread of the server instead of a child process (default ``1``)."""
PRELOAD = ["cnnviz.training.worker", "sklearn.datasets"]
"""Imported once by the server that forks training processes (the digits come from scikit-learn:
importing it took 2-4 s of each child's start)."""
POLL_S = 0.5
"""How often the receiver looks whether a silent child still lives."""
JobStatus = Literal["idle", "running", "done", "stopped", "diverged", "failed"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run of a series (an experiment), as its chart compares it with the others.

    Attributes:
        label: What the run stands for (``"overfits"``, ``"with dropout 0.5"``).
        config: Its settings.
        epochs: Its finished epochs, without their weights (``state_dict`` empty).
        status: ``"running"`` while it trains, then how it ended.
    """

    label: str
    config: TrainConfig
    epochs: tuple[EpochEvent, ...]
    status: JobStatus = "done"


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
        views: What the page shows of each finished epoch, made once by the run
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
        label: What the current run stands for in a series (``""`` for a single run).
        earlier: The series' runs that finished before this one.
        queued: The series' runs still to come, as (label, settings).
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
    label: str = ""
    earlier: tuple[RunResult, ...] = ()
    queued: tuple[tuple[str, TrainConfig], ...] = ()

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def runs(self) -> tuple[RunResult, ...]:
        """Every run of the series so far, the current one last (its epochs as far as done)."""
        if self.config is None:
            return self.earlier
        current = RunResult(self.label, self.config, _light(self.epochs), self.status)
        return (*self.earlier, current)

    @property
    def series_text(self) -> str:
        """``"Run 2 of 2: with dropout 0.5"``, or ``""`` for a single run."""
        total = len(self.earlier) + 1 + len(self.queued)
        if total == 1:
            return ""
        return f"Run {len(self.earlier) + 1} of {total}: {self.label}"

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
    """One training run in a child process (or a thread), safe to poll from any thread.

    Only the job's own thread writes to it, under its lock; :meth:`snapshot` hands out an
    immutable copy. No Streamlit here: the page polls :meth:`snapshot`. The run gives way to
    the pages (see :mod:`cnnviz.training.priority`) and makes each epoch's :class:`EpochView`
    once, so that a poll only reads.

    Args:
        slots: Semaphore capping concurrent runs (default :data:`JOB_SLOTS`, shared by all).
        share: How much CPU the run takes (default: :meth:`CpuShare.from_env`, read at
            each start).
        process: Train in a child process (default: unless ``CNNVIZ_TRAIN_PROCESS=0``, read
            at each start) or in a thread of this process.

    Attributes:
        thread: The job's thread: the receiver of a child's messages, or the training thread
            itself. It ends once the run's result is in the job.
        process: The child process of the last run (``None`` when it trained in a thread).
    """

    def __init__(
        self,
        slots: threading.BoundedSemaphore | None = None,
        share: CpuShare | None = None,
        process: bool | None = None,
    ) -> None:
        self._slots = slots if slots is not None else JOB_SLOTS
        self._share = share
        self._in_process = process
        self._lock = threading.Lock()
        self._stop: Any = threading.Event()
        self._state = JobSnapshot()
        self._stride = 1
        self.thread: threading.Thread | None = None
        self.process: Any = None

    def start(
        self,
        config: TrainConfig,
        data: Dataset | None = None,
        logdir: str | os.PathLike[str] | None = None,
        *,
        label: str = "",
        then: Sequence[tuple[str, TrainConfig]] = (),
    ) -> None:
        """Start training ``config`` in the background (``data`` default: load it there).

        Args:
            config: What to train.
            data: The data set, already loaded (default: load ``config.dataset`` in the run).
            logdir: Write TensorBoard logs into this folder (see
                :func:`cnnviz.training.write_tensorboard`); the snapshot then offers them as a
                zip once the run ends (the first run of a series only).
            label: What this run stands for in a series (see ``then``).
            then: More runs, as (label, settings), each started once the one before it
                finished (an experiment: see :mod:`cnnviz.training.experiments`). The snapshot
                stays ``"running"`` from the first to the last; each finished run's epochs go
                to :attr:`JobSnapshot.earlier`, and only the last run's model is kept. A run
                that is stopped, diverges or fails ends the series.

        Raises:
            InputError: Bad settings, a run of this job is still going, or the server is
                already running :data:`MAX_JOBS` trainings.
        """
        for settings in (config, *(settings for _, settings in then)):
            _check(settings)
        if self.thread is not None and self.thread.is_alive():
            raise InputError("A training run is still going: stop it first.")
        if not self._slots.acquire(blocking=False):
            raise InputError(
                f"The server is busy training {MAX_JOBS} other networks right now: "
                "try again in a minute."
            )
        try:
            self._launch([(label, config), *then], data, logdir)
        except BaseException:
            self._slots.release()
            raise

    def _launch(
        self,
        runs: list[tuple[str, TrainConfig]],
        data: Dataset | None,
        logdir: str | os.PathLike[str] | None,
    ) -> None:
        in_process = self._in_process if self._in_process is not None else _process_from_env()
        arrays = None if data is None else worker.DataArrays.of(data)
        share = self._share if self._share is not None else CpuShare.from_env()
        orders = [
            Order(
                config=config, data=arrays,
                logdir=None if logdir is None or number else str(logdir),
                share=share, max_wait_s=priority.MAX_WAIT_S,
                env=dict(os.environ) if in_process else {},
            )
            for number, (_, config) in enumerate(runs)
        ]  # fmt: skip
        self._stop = PROCESSES.Event() if in_process else threading.Event()
        self._stride = 1
        self.process = None
        (label, config), *queued = runs
        with self._lock:
            self._state = JobSnapshot(
                status="running", config=config, logdir=orders[0].logdir, label=label,
                queued=tuple(queued),
            )  # fmt: skip
        self.thread = threading.Thread(
            target=self._work, args=(orders, in_process),
            name=f"cnnviz-train-{id(self):x}", daemon=True,
        )  # fmt: skip
        self.thread.start()

    def _work(self, orders: list[Order], in_process: bool) -> None:
        """The job's thread: each run in turn, while the series goes on (see :meth:`start`)."""
        try:
            for order in orders:
                if not self.snapshot().running:
                    break  # the run before ended the series (stopped, diverged, failed)
                (self._receive if in_process else self._run)(order)
        finally:
            self._slots.release()

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

    def _run(self, order: Order) -> None:
        """The training thread: the run itself, its messages applied as they come."""
        share_cpu(order.share)
        worker.run(order, self._apply, self._stop, PAGES.wait_for_pages)

    def _receive(self, order: Order) -> None:
        """The receiver thread: start the child, apply its messages, notice its end."""
        reader = None
        try:
            reader, writer = PROCESSES.Pipe(duplex=False)
            PROCESSES.set_forkserver_preload(PRELOAD)
            base = current_nice()
            self.process = PROCESSES.Process(
                target=worker.child_main, name="cnnviz-train", daemon=True,
                args=(order, writer, self._stop, PAGES.idle_flag(), base),
            )  # fmt: skip
            _start(self.process)  # the child lowers its own priority (see child_main)
            writer.close()  # the child's copy is the only one left: its end is our EOF
            self._drain(reader, self.process)
        except Exception as error:
            log.exception("training process failed")
            self._update(
                status="failed",
                message=f"Training failed ({type(error).__name__}); the details are in the "
                "server log.",
            )
        finally:
            if self.process is not None and self.process.is_alive():
                self.process.kill()  # the job failed here: no child may train on unwatched
                self.process.join(POLL_S * 20)
            if reader is not None:
                reader.close()

    def _drain(self, reader: Any, child: Any) -> None:
        """Apply the child's messages until its last; a child that dies first is a failure."""
        ended = False
        while not ended:
            if reader.poll(POLL_S):
                try:
                    message = reader.recv()
                except EOFError:
                    break
                self._apply(message)
                ended = isinstance(message, Finished | Failed)
            elif child.exitcode is not None and not reader.poll(0):
                break
        child.join(POLL_S * 20)
        if child.is_alive():  # it sent its result: nothing of it is left to wait for
            child.kill()
            child.join(POLL_S * 20)
        if not ended:
            code = child.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"code {code}"
            log.error("training process %s ended without a result (%s)", child.pid, how)
            self._update(
                status="failed",
                message=f"The training process ended without finishing ({how}: killed, or out "
                "of memory); nothing was kept.",
            )

    def _apply(self, message: Message) -> None:
        """Write one message of the run into the job."""
        if isinstance(message, StepEvent):
            self._add_step(message)
        elif isinstance(message, Loaded):
            self._update(classes=message.classes, sample=message.sample)
        elif isinstance(message, EpochDone):
            self._add_epoch(message)
        elif isinstance(message, Finished):
            self._finish(message)
        else:
            self._update(status="failed", message=message.message)

    def _add_step(self, event: StepEvent) -> None:
        with self._lock:
            steps = self._state.steps
            if event.step % self._stride == 0:
                steps = (*steps, event)
                if len(steps) > MAX_POINTS:
                    steps, self._stride = steps[1::2], self._stride * 2
            self._state = replace(self._state, steps=steps, latest=event)

    def _add_epoch(self, done: EpochDone) -> None:
        """The epoch and its view, together: the page never sees one without the other."""
        epochs = self.snapshot().epochs
        before = epochs[-1].state_dict if epochs else {}
        weights = {
            name: before[name] if values is None else torch.from_numpy(values)
            for name, values in done.weights.items()
        }
        event = replace(done.event, state_dict=weights)
        view = () if done.view is None else (done.view,)
        with self._lock:
            state = self._state
            self._state = replace(state, epochs=(*state.epochs, event), views=(*state.views, *view))

    def _finish(self, end: Finished) -> None:
        state = self.snapshot()
        config = state.config
        assert config is not None  # a run in progress has its settings
        if state.queued and end.status == "done" and not self._stop.is_set():
            self._next_run(state)
            return
        # The network again, from the checkpoint's bytes (weights only), as a download would.
        model = dataclasses.replace(
            load_model(config.arch, end.checkpoint), weights="trained",
            weights_source=end.weights_source, key=end.key,
        )  # fmt: skip
        self._update(
            confusion=end.confusion,
            mistakes=tuple((to_image(pixels), true, guess) for pixels, true, guess in end.mistakes),
            checkpoint=end.checkpoint,
            logs=end.logs,
            done=DoneEvent(end.status, end.message, model, self.snapshot().epochs),
            message=end.message,
            status=end.status,  # last: the page treats a finished status as complete
        )

    def _next_run(self, state: JobSnapshot) -> None:
        """The series goes on: keep the finished run's curves, set up the next run's state."""
        assert state.config is not None
        done = RunResult(state.label, state.config, _light(state.epochs))
        (label, config), *queued = state.queued
        self._stride = 1
        fresh = JobSnapshot(
            status="running", config=config, label=label, earlier=(*state.earlier, done),
            queued=tuple(queued),
        )  # fmt: skip
        with self._lock:
            self._state = fresh


def _light(epochs: tuple[EpochEvent, ...]) -> tuple[EpochEvent, ...]:
    """The epochs without their weights (what a comparison of runs needs)."""
    return tuple(replace(e, state_dict={}) for e in epochs)


def _process_from_env() -> bool:
    return os.environ.get(PROCESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


_START_LOCK = threading.Lock()
_WARMING = threading.Event()


@contextlib.contextmanager
def _prepared() -> Iterator[None]:
    """While starting a child (or the forkserver): no ``__main__``, sleeping OpenMP threads.

    A child started by ``forkserver`` or ``spawn`` first runs the parent's ``__main__`` script
    again (so that functions defined there unpickle), and the forkserver imports it too. In
    Streamlit that is the page's script (a script run puts it in ``sys.modules["__main__"]``):
    every training child ran the whole app once, in bare mode, before training. The child needs
    nothing from ``__main__`` (its code is :func:`cnnviz.training.worker.child_main`), so its
    preparation data leaves it out.

    The forkserver, when started here, also gets ``OMP_WAIT_POLICY=PASSIVE`` unless the
    variable is set. OpenMP reads it once, when torch loads (in the forkserver, before any
    child). Its default (spin while waiting) made a child's 2-thread team on a busy 2-core
    machine 8-10x slower than the same run in a thread of the server, whose OpenMP threads
    outnumbered the cores and so did not spin (measured: 89-141 against 819-1,023 images/s;
    with PASSIVE 1,112-1,830 against 1,805-2,330). ``serve.py`` sets it for the server
    already; this covers notebooks, scripts and tests. This process's own OpenMP read it long
    ago: it is unaffected.
    """
    with _START_LOCK:  # read and put back under the lock: two starts never nest the patch
        original = spawn.get_preparation_data

        def without_main(name: str) -> dict[str, Any]:
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            data.pop("main_path", None)  # the forkserver's key for it (absent in 3.11's data)
            return data

        policy = os.environ.get("OMP_WAIT_POLICY")
        spawn.get_preparation_data = without_main
        if policy is None:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            yield
        finally:
            spawn.get_preparation_data = original
            if policy is None:
                os.environ.pop("OMP_WAIT_POLICY", None)


def _start(child: Any) -> None:
    """Start ``child`` without this process's ``__main__``, with sleeping OpenMP threads
    (see :func:`_prepared`)."""
    with _prepared():
        child.start()


def warm_up() -> None:
    """Start the forkserver that training children come from now, in the background, once.

    The first run of a server otherwise waits 7-10 s for it (it imports torch, cnnviz and
    scikit-learn, :data:`PRELOAD`). The Training page calls this when a tab opens it, so the
    forkserver is ready by the time someone presses Train; a server whose Training page nobody
    opens never holds it (about 0.8 GB). Does nothing when runs train in threads
    (``CNNVIZ_TRAIN_PROCESS=0``) or after the first call.
    """
    if not _process_from_env() or _WARMING.is_set():
        return
    _WARMING.set()
    threading.Thread(target=_warm, name="cnnviz-forkserver-warm", daemon=True).start()


def _warm() -> None:
    try:
        with _prepared():
            PROCESSES.set_forkserver_preload(PRELOAD)
            forkserver.ensure_running()
    except Exception:
        log.exception("could not start the training forkserver early; the first run will")
