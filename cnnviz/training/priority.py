"""How a training run shares the CPU with the sessions people are looking at.

Every browser session runs its page's forward passes (probes, Grad-CAM) in its own script thread
of the server process. A training run left at full priority takes the cores from all of them,
so a run lowers its priority: nice 10 by default (Linux only), CPU weight 110 against 1,024 for
a page's thread. A busy core then serves the pages first and training gets the rest; an idle
machine still trains at full speed. Its torch threads can be capped too, but are not by default
(see below). A run trains in a child process by default (see :mod:`cnnviz.training.worker`):
there the nice value and the cap apply to the whole child (:func:`lower_priority`,
``torch.set_num_threads``) and the child waits between batches on :meth:`PageRuns.idle_flag`.
In a thread of the server (``CNNVIZ_TRAIN_PROCESS=0``) they apply to that thread only
(:func:`share_cpu`), and it waits on :meth:`PageRuns.wait_for_pages`.

Facts this relies on (measured on 2 cores, torch 2.14, Linux, training in a thread;
``benchmarks/bench_training.py``):

- The nice value is per thread on Linux (``setpriority(PRIO_PROCESS, native thread id)``), and
  the OpenMP workers torch starts for that thread inherit it: they are created by it, after.
- A LeNet-5 probe beside a niced run took 1.1-1.3x its idle time, with and without
  ``OMP_WAIT_POLICY=PASSIVE``. A niced run capped to one torch thread did as well with that
  setting, but without it now and then took 7-10x: the probe's spinning OpenMP worker (priority
  0) kept the niced thread off the CPU while it held the GIL the probe waited for. Uncapped, the
  run's own OpenMP team makes OpenMP stop spinning (more threads than cores), so no such wait.
- ``torch.set_num_threads`` in a thread sets that thread's OpenMP thread count, but also torch's
  process-wide value that every thread *started later* adopts on its first parallel operation.
  Streamlit runs each script run in a new thread, so a cap would leak into every session that
  starts afterwards; :func:`share_cpu` puts the process-wide value back.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

log = logging.getLogger(__name__)

NICE_ENV = "CNNVIZ_TRAIN_NICE"
THREADS_ENV = "CNNVIZ_TRAIN_THREADS"
DEFAULT_NICE = 10
"""Nice value added to training threads: CPU weight 110 against 1,024 for a session's thread."""

_CAP_LOCK = threading.Lock()
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CpuShare:
    """How much of the CPU a training thread takes.

    Attributes:
        nice: Added to the thread's nice value, up to 19 (0: as important as a page; Linux
            only).
        threads: Torch threads for the training thread's operations (``None``: no cap, as
            many as every other thread, one per core).
    """

    nice: int = DEFAULT_NICE
    threads: int | None = None

    @classmethod
    def from_env(cls) -> CpuShare:
        """The share ``CNNVIZ_TRAIN_NICE`` (default 10) and ``CNNVIZ_TRAIN_THREADS`` (default
        0: no cap; set ``OMP_WAIT_POLICY=PASSIVE`` too when capping) ask for.

        A value that is not a whole number is ignored with a warning.
        """
        nice = _env_int(NICE_ENV, DEFAULT_NICE, 0, 19)
        threads = _env_int(THREADS_ENV, 0, 0, 1024)
        return cls(nice=nice, threads=threads or None)


def _env_int(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return min(high, max(low, int(text)))
    except ValueError:
        log.warning("%s=%r is not a whole number; using %d", name, text, default)
        return default


def share_cpu(share: CpuShare) -> None:
    """Apply ``share`` to the calling thread only (call it first thing in a training thread).

    Raises nothing: where the platform cannot lower one thread's priority (not Linux) the
    thread keeps it, and the cap still applies.
    """
    if share.nice > 0:
        lower_priority(current_nice() + share.nice)
    if share.threads is not None:
        _cap_threads(share.threads)


def lower_priority(nice: int) -> None:
    """Raise the calling thread's nice value to ``nice`` (at most 19); never lower it.

    Threads the calling thread starts afterwards (torch's OpenMP workers, a child process)
    inherit the value. Raises nothing: where the platform cannot lower one thread's priority
    (not Linux) it stays as it is.
    """
    if sys.platform != "linux":
        return
    try:
        # On Linux PRIO_PROCESS with a thread id changes just that thread (nice is per task);
        # elsewhere the id could name another process, so it is not tried.
        thread = threading.get_native_id()
        nice = min(19, nice)
        if nice > os.getpriority(os.PRIO_PROCESS, thread):
            os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError as error:
        log.warning("could not lower the training run's priority: %s", error)


def _cap_threads(threads: int) -> None:
    """Torch threads of this thread's operations, leaving other and later threads theirs."""
    with _CAP_LOCK:  # two runs starting at once must not restore each other's cap
        later = _in_new_thread(torch.get_num_threads)
        # Torch sets a thread up from the process-wide count on its first parallel operation
        # (get_num_threads counts as one); done first, so that it cannot undo the cap later.
        torch.get_num_threads()
        torch.set_num_threads(threads)
        # set_num_threads also set the count every thread started from now on takes (each
        # Streamlit script run is one): put that back from a short-lived thread.
        _in_new_thread(lambda: torch.set_num_threads(later))


def _in_new_thread(fn: Callable[[], _T]) -> _T:
    out: list[_T] = []
    helper = threading.Thread(target=lambda: out.append(fn()), name="cnnviz-threads")
    helper.start()
    helper.join()
    return out[0]


def current_nice() -> int:
    """The calling thread's nice value (0 where the platform cannot tell one thread's)."""
    if sys.platform != "linux":
        return 0
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


PROCESSES = multiprocessing.get_context("forkserver")
"""How training processes start: forked from a server process that imported cnnviz once (the
first run pays its start-up, later ones a fork), never forked from the Streamlit server itself
(a fork of a process with running threads can inherit a lock some thread held)."""

MAX_WAIT_S = 0.25
"""Longest a training thread waits for the pages between two batches: it still makes at least
four steps a second when students never stop clicking."""


class PageRuns:
    """Counts the page runs going on in this process, so a training run can step aside.

    Nice works on the cores, but every thread of the server also takes turns holding Python's
    GIL, and a small network's training loop is mostly Python: measured with 30 students and a
    LeNet-5 run in a thread of the server, the run alone took half a core and the students'
    later views slowed from a p95 of 0.33 s to 1.25 s. A page run enters :meth:`running`; a
    training thread calls :meth:`wait_for_pages` between batches, which sleeps (without the
    GIL) until no page is running, up to ``max_wait_s``, so training slows while students wait
    and never stops. A training *process* waits on :meth:`idle_flag` instead, a
    ``multiprocessing`` event set while no page runs.
    """

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()
        self._flag: Any = None  # made on the first call of idle_flag: most servers train never

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Mark a page run (app.py wraps each page's script in it)."""
        with self._idle:
            self._count += 1
            if self._count == 1 and self._flag is not None:
                self._flag.clear()
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                if self._count == 0:
                    self._idle.notify_all()
                    if self._flag is not None:
                        self._flag.set()

    @property
    def active(self) -> int:
        """Page runs going on now."""
        return self._count

    def wait_for_pages(self, max_wait_s: float | None = None) -> bool:
        """Sleep until no page runs, or ``max_wait_s`` (default :data:`MAX_WAIT_S`) passed;
        ``True`` when none runs."""
        limit = MAX_WAIT_S if max_wait_s is None else max_wait_s
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=limit)

    def idle_flag(self) -> Any:
        """A ``multiprocessing`` event of :data:`PROCESSES`, set while no page runs: a training
        process calls its ``wait(max_wait_s)`` between batches (pass it to the process)."""
        with self._idle:
            if self._flag is None:
                self._flag = PROCESSES.Event()
                if self._count == 0:
                    self._flag.set()
            return self._flag


PAGES = PageRuns()
"""The process's page runs, shared by app.py and every training job."""
