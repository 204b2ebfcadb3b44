"""Students first: a training run waits between batches while pages run (PageRuns)."""

from __future__ import annotations

import threading
import time

import pytest

from cnnviz.training import TrainConfig, TrainJob
from cnnviz.training.priority import PAGES, PageRuns


def test_waiting_returns_at_once_when_no_page_runs() -> None:
    runs = PageRuns()

    start = time.perf_counter()
    assert runs.wait_for_pages(max_wait_s=5)
    assert time.perf_counter() - start < 1
    assert runs.active == 0


def test_waiting_gives_up_after_its_limit_while_a_page_runs() -> None:
    runs = PageRuns()
    with runs.running(), runs.running():
        assert runs.active == 2
        assert not runs.wait_for_pages(max_wait_s=0.05)
    assert runs.active == 0


def test_the_last_page_to_finish_wakes_the_waiting_thread() -> None:
    runs = PageRuns()
    entered, release = threading.Event(), threading.Event()

    def page() -> None:
        with runs.running():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=page)
    thread.start()
    entered.wait(5)
    waited: list[bool] = []
    waiter = threading.Thread(target=lambda: waited.append(runs.wait_for_pages(max_wait_s=30)))
    waiter.start()
    release.set()
    waiter.join(10)
    thread.join(10)

    assert waited == [True]  # woken when the page ended, long before its 30 s limit


def test_a_page_that_raises_still_counts_down() -> None:
    runs = PageRuns()
    try:
        with runs.running():
            raise RuntimeError("st.rerun and st.stop end a run with an exception")
    except RuntimeError:
        pass
    assert runs.active == 0


def test_the_flag_for_training_processes_is_set_while_no_page_runs() -> None:
    runs = PageRuns()
    with runs.running():
        flag = runs.idle_flag()  # made while a page runs: not set
        assert not flag.is_set()
        with runs.running():
            assert not flag.is_set()
        assert not flag.is_set()  # one page still runs
    assert flag.is_set()
    assert runs.idle_flag() is flag
    with runs.running():
        assert not flag.wait(0.05)  # what the child does between batches: it gives up
    assert flag.wait(0)


@pytest.mark.parametrize("process", [True, False], ids=["child process", "thread"])
def test_a_training_run_makes_no_step_while_a_page_runs(monkeypatch, process) -> None:
    monkeypatch.setattr("cnnviz.training.priority.MAX_WAIT_S", 30.0)
    job = TrainJob(slots=threading.BoundedSemaphore(1), process=process)
    with PAGES.running():
        job.start(TrainConfig(arch="lenet5", dataset="digits", epochs=1, batch_size=32))
        deadline = time.monotonic() + 60
        while not job.snapshot().steps and time.monotonic() < deadline:
            time.sleep(0.05)  # the data loaded and the network built: its first step is made
        time.sleep(0.5)  # long enough for dozens of LeNet-5 steps, were it not waiting
        during = len(job.snapshot().steps)
    job.thread.join(120)

    assert during == 1  # the step it made before it first asked, and no other
    assert job.snapshot().status == "done"  # the page ended: it trained on to the end
    assert len(job.snapshot().steps) > 1
