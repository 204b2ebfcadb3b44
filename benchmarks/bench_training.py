"""Benchmark: cnnviz.train against a bare PyTorch loop, and time for LeNet-5 to learn the digits.

1. Throughput: samples/s of ``cnnviz.train`` vs a bare loop (same model, data, batch size,
   optimizer, threads; no events, no metrics). Target (issue 3): ratio >= 0.90.
2. Time to 97%: the shipped recipe (lenet5, digits, Adam + one-cycle 3e-3, batch 32) until the
   validation accuracy first reaches 97%, with and without loading the data. Target: <= 30 s.
3. TensorBoard: samples/s of ``cnnviz.train`` with its events written as TensorBoard logs
   (``write_tensorboard``: 3 scalars a step, 4 scalars and the filter image an epoch) vs without.
   Target (issue 9): ratio >= 0.95.
4. Live panel (issue 10): what one poll of the Training page's live panel costs (ms) before
   (the page rebuilt the epoch's network, probed it and drew both grids on every poll) and now
   (it draws the pictures the training thread made once per epoch: only the curves figure is
   built), at a short run's steps and at MAX_POINTS; and the images/s of a background run alone
   and while polled once a second either way. Target: the polled run keeps >= 0.90 of alone.
5. Sharing the CPU (issue 10): the latency of a LeNet-5 and a ResNet-18 probe in the main
   thread (a page's session) alone and while a run trains in the background, for the training
   thread as before (priority 0, all torch threads), niced (cnnviz's default), capped to half
   the threads, and both; with the run's images/s meanwhile and alone. Target: probes
   <= 1.5x idle. On a machine shared with other busy processes, run it twice: as is and with
   OMP_WAIT_POLICY=PASSIVE (spinning OpenMP workers lose their core to the other processes,
   which can make even the idle probes several times slower). Rows for a run in a thread of
   this process (as before) and in a child process (cnnviz's default): a child has its own GIL.
6. Process (issue 10): a run in a child process vs in a thread: seconds from start to its
   first step (the first run of a server starts the forkserver, which imports torch and
   cnnviz), images/s alone, and the child's RSS.
7. Lessons (issue 12): what the per-layer gradient norms every epoch now carries cost a
   training step (the norms alone vs a bare forward + backward of the same batch, LeNet-5 and
   the 20-layer deepnet); the planned learning-rate schedule the page draws (ms for its
   400 steps, each schedule); and the wall time of each run of the two experiments (overfitting
   with each remedy, vanishing gradients with each cure), trained in this process.
   Targets: norms <= 2% of a step; a schedule <= 100 ms; an experiment's run <= 60 s.

Run: .venv/bin/python benchmarks/bench_training.py [--only throughput tensorboard recipe live
     share process lessons] [--rounds N]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import plotly.io
import plotly.tools
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from timing import median_ms

import cnnviz
from cnnviz import figures
from cnnviz.data import Dataset, load_dataset
from cnnviz.models import MODELS, build_module
from cnnviz.training import (
    MAX_POINTS,
    CpuShare,
    EpochEvent,
    JobSnapshot,
    StepEvent,
    TrainConfig,
    TrainJob,
    epoch_model,
    to_image,
    train,
    write_tensorboard,
)

EPOCHS = 3
BATCH = 64


def bare_loop(data) -> float:
    """Samples per second of a plain loop over the same tensors."""
    spec = MODELS["lenet5"]
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    x = (data.train_x.float() / 255.0 - mean) / std
    y = data.train_y
    module = build_module("lenet5", num_classes=10)
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    seen, start = 0, time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for first in range(0, len(order), BATCH):
            index = order[first : first + BATCH]
            loss = F.cross_entropy(module(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(index)
    return seen / (time.perf_counter() - start)


def cnnviz_loop(data, tensorboard: bool = False) -> float:
    """Samples per second of cnnviz.train, from its own step events (wall time since the start,
    so time spent by the consumer, e.g. writing TensorBoard logs, counts)."""
    last = None
    with tempfile.TemporaryDirectory() as logdir:
        events = train(arch="lenet5", data=data, epochs=EPOCHS, batch_size=BATCH)
        if tensorboard:
            events = write_tensorboard(events, logdir)
        for event in events:
            if isinstance(event, StepEvent):
                last = event
    assert last is not None
    return last.samples_per_s


def time_to_97() -> tuple[float, float, int, float]:
    start = time.perf_counter()
    data = load_dataset("digits", size=32, channels=1)
    loaded = time.perf_counter()
    recipe = {"epochs": 20, "batch_size": 32, "lr": 3e-3, "schedule": "onecycle"}
    for event in train(arch="lenet5", data=data, **recipe):
        if isinstance(event, EpochEvent) and event.val_accuracy >= 0.97:
            now = time.perf_counter()
            return now - start, now - loaded, event.epoch, event.val_accuracy
    return float("nan"), float("nan"), -1, 0.0


def _chart(fig) -> str:
    """What st.plotly_chart does with a figure: validate it again, then write its JSON."""
    figure = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return plotly.io.to_json(figure, validate=False)


def tick_before(snap: JobSnapshot) -> None:
    """One poll of the live panel as it was: the network rebuilt and probed, both grids drawn."""
    event = snap.epochs[-1]
    _chart(figures.training_curves(snap.steps, snap.epochs))
    figures.to_png(figures.filters_grid(event.state_dict).image)
    model = epoch_model(snap.config, snap.classes, event.state_dict, event.epoch)
    seen = cnnviz.probe(model, to_image(snap.sample))
    first = next(x for x in seen.layers if x.kind == "conv")
    figures.to_jpeg(figures.feature_grid(first.output).image)


def tick_after(snap: JobSnapshot) -> None:
    """One poll now: the curves figure, and the epoch's ready JPEGs (st.image reads a header)."""
    _chart(figures.training_curves(snap.steps, snap.epochs))
    view = snap.views[-1]
    for picture in (view.filters, view.maps):
        Image.open(io.BytesIO(picture)).format  # noqa: B018 - what st.image checks of bytes


class Run:
    """A long background training run (stopped on exit) and its images/s over a window.

    ``process``: in a child process (cnnviz's default), or in a thread of this process.
    """

    def __init__(self, data: Dataset, share: CpuShare, process: bool = True) -> None:
        self.job = TrainJob(slots=threading.BoundedSemaphore(1), share=share, process=process)
        self.job.start(TrainConfig(epochs=10_000, batch_size=BATCH), data=data)

    def __enter__(self) -> Run:
        while not self.job.snapshot().views:  # past the first epoch: the panel has pictures
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.job.stop()
        self.job.thread.join()

    def rate(self, during: Callable[[], object]) -> float:
        """Training images/s while ``during()`` runs."""
        first, start = self.job.snapshot().latest.step, time.perf_counter()
        during()
        last, end = self.job.snapshot().latest.step, time.perf_counter()
        return (last - first) * BATCH / (end - start)


def polled(
    snap_of: Callable[[], JobSnapshot], tick: Callable[[JobSnapshot], None] | None, seconds: float
) -> Callable[[], None]:
    """Poll like run_every=1.0 for ``seconds`` (or just wait, with ``tick`` None)."""

    def run() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            began = time.perf_counter()
            if tick is not None:
                tick(snap_of())
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))

    return run


def bench_live(data: Dataset, rounds: int) -> None:
    job = TrainJob(slots=threading.BoundedSemaphore(1))
    job.start(TrainConfig(epochs=3, batch_size=BATCH), data=data)
    job.thread.join()
    snap = job.snapshot()
    long = tuple(StepEvent(1, k, 2 * MAX_POINTS, 2.3 / k**0.3, 0.5, 1e3, 1.0)
                 for k in range(1, MAX_POINTS + 1))  # fmt: skip
    full = dataclasses.replace(snap, steps=long)
    print("\nlive panel: one poll (median of 10 ms), lenet5 on digits after 3 epochs")
    print(f"{'steps on the curve':<20} {'before':>8} {'now':>8} {'ratio':>7}")
    for label, state in ((f"{len(snap.steps)}", snap), (f"{MAX_POINTS} (MAX_POINTS)", full)):
        before = median_ms(lambda s=state: tick_before(s), 10)
        now = median_ms(lambda s=state: tick_after(s), 10)
        print(f"{label:<20} {before:>8.1f} {now:>8.1f} {now / before:>7.2f}")
    rows: dict[str, list[float]] = {}
    for _ in range(rounds):  # interleaved rounds, so that load drift hits every row alike
        for label, share, process, tick in (
            ("before: alone", CpuShare(nice=0), False, None),
            ("before: polled", CpuShare(nice=0), False, tick_before),
            ("now: alone", CpuShare.from_env(), True, None),
            ("now: polled", CpuShare.from_env(), True, tick_after),
        ):
            with Run(data, share, process) as run:
                rows.setdefault(label, []).append(run.rate(polled(run.job.snapshot, tick, 6.0)))
    print(f"\nbackground run polled once a second, images/s, median of {rounds} x 6 s")
    for label, rates in rows.items():
        alone = statistics.median(rows[label.split(":")[0] + ": alone"])
        rate = statistics.median(rates)
        print(f"{label:<16} {rate:>8,.0f} {rate / alone:>7.2f}")
    print("  target: polled >= 0.90 of alone")


def probe_ms(model: cnnviz.Model, image: Image.Image, repeats: int) -> float:
    return median_ms(lambda: cnnviz.probe(model, image), repeats, warmup=0)


def shares() -> dict[str, tuple[CpuShare, bool]]:
    """Where the run trains (a thread of this process or a child process) and how much CPU
    it takes, in the sharing benchmark."""
    half = max(1, torch.get_num_threads() // 2)
    return {
        "thread, nice 0 (before)": (CpuShare(nice=0), False),
        "thread, nice 10": (CpuShare(), False),
        f"thread, nice 10, {half} thread(s)": (CpuShare(threads=half), False),
        "process, nice 10 (cnnviz default)": (CpuShare(), True),
        f"process, nice 10, {half} thread(s)": (CpuShare(threads=half), True),
    }


def share_round(data: Dataset, nets, image: Image.Image, out: dict[tuple[str, str], list]) -> None:
    """One round: for each share, the probes idle, then during a run; the run alone after."""
    for label, (share, process) in shares().items():
        idle = {name: probe_ms(model, image, repeats) for name, model, repeats in nets}
        with Run(data, share, process) as run:
            time.sleep(0.5)
            busy: dict[str, float] = {}
            rate = run.rate(lambda b=busy: b.update({n: probe_ms(m, image, r) for n, m, r in nets}))
            out.setdefault((label, "alone"), []).append(run.rate(lambda: time.sleep(3)))
        out.setdefault((label, "during"), []).append(rate)
        for name in idle:
            out.setdefault(("idle", name), []).append(idle[name])
            out.setdefault((label, name), []).append(busy[name])
            # Against the idle probe just before: drift in the machine's load cancels out.
            out.setdefault((label, f"{name} ratio"), []).append(busy[name] / idle[name])


def bench_share(data: Dataset, rounds: int) -> None:
    image = cnnviz.load_sample("chelsea")
    nets = (
        ("lenet5", cnnviz.load_model("lenet5"), 30),
        ("resnet18", cnnviz.load_model("resnet18", "random"), 5),
    )
    for _, model, _ in nets:
        probe_ms(model, image, 2)
    out: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # interleaved, so that load drift hits every share alike
        share_round(data, nets, image, out)
    med = {key: statistics.median(values) for key, values in out.items()}
    print(
        f"\nsharing the CPU: probe ms in the main thread during a background run ({os.cpu_count()}"
        f" cores, {torch.get_num_threads()} torch threads); medians of {rounds} rounds, x idle: "
        "of the ratios to the idle probe just before"
    )
    print(
        f"{'training run':<36} {'lenet5':>8} {'x idle':>7} {'resnet18':>9} {'x idle':>7} "
        f"{'train img/s meanwhile':>22} {'alone':>7}"
    )
    lenet, resnet = med[("idle", "lenet5")], med[("idle", "resnet18")]
    print(f"{'no run (idle)':<36} {lenet:>8.1f} {1.0:>7.2f} {resnet:>9.1f} {1.0:>7.2f}")
    for label in shares():
        row = [med[(label, k)] for k in ("lenet5", "lenet5 ratio", "resnet18", "resnet18 ratio")]
        print(
            f"{label:<36} {row[0]:>8.1f} {row[1]:>7.2f} {row[2]:>9.1f} {row[3]:>7.2f} "
            f"{med[(label, 'during')]:>22,.0f} {med[(label, 'alone')]:>7,.0f}"
        )
    print("  target: probes <= 1.5x idle while the run still trains")


def _first_step_s(job: TrainJob, data: Dataset) -> float:
    """Seconds from start() to the first step a snapshot shows (the run is then stopped)."""
    start = time.perf_counter()
    job.start(TrainConfig(epochs=10_000, batch_size=BATCH), data=data)
    while not job.snapshot().steps:
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    job.stop()
    job.thread.join()
    return seconds


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def bench_process(data: Dataset, rounds: int) -> None:
    """A run in a child process against one in a thread: start-up, images/s alone, memory."""
    process = TrainJob(slots=threading.BoundedSemaphore(1), process=True)
    thread = TrainJob(slots=threading.BoundedSemaphore(1), process=False)
    first = _first_step_s(process, data)  # this one starts the forkserver (imports cnnviz)
    later = statistics.median(_first_step_s(process, data) for _ in range(3))
    in_thread = statistics.median(_first_step_s(thread, data) for _ in range(3))
    print("\ntraining in a child process vs in a thread: start to first step, s (median of 3)")
    print(f"  process, first run of this server (forkserver starts) {first:7.2f}")
    print(f"  process, later runs                                   {later:7.2f}")
    print(f"  thread                                                {in_thread:7.2f}")
    rows: dict[str, list[float]] = {}
    memory: dict[str, int] = {}
    for _ in range(rounds):  # interleaved, so that load drift hits both alike
        for label, process_mode in (("thread", False), ("process", True)):
            with Run(data, CpuShare.from_env(), process_mode) as run:
                rows.setdefault(label, []).append(run.rate(lambda: time.sleep(6)))
                if run.job.process is not None:
                    memory["child"] = max(memory.get("child", 0), _rss(run.job.process.pid))
    rate = {label: statistics.median(values) for label, values in rows.items()}
    print(f"\nbackground run alone, images/s, median of {rounds} x 6 s (CpuShare.from_env())")
    for label, value in rate.items():
        print(f"  {label:<8} {value:>8,.0f} {value / rate['thread']:>7.2f}")
    print(f"  child process RSS {memory.get('child', 0) / 2**20:,.0f} MB; this process "
          f"{_rss(os.getpid()) / 2**20:,.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sections = ("throughput", "tensorboard", "recipe", "live", "share", "process", "lessons")
    parser.add_argument("--only", nargs="+", choices=sections, default=sections)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of sections 4, 5 and 6")
    args = parser.parse_args()
    print(
        f"cnnviz {cnnviz.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads"
        f", OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    data = load_dataset("digits", size=32, channels=1)
    if "throughput" in args.only:
        bench_throughput(data)
    if "tensorboard" in args.only:
        bench_tensorboard(data)
    if "recipe" in args.only:
        bench_recipe()
    if "live" in args.only:
        bench_live(data, args.rounds)
    if "share" in args.only:
        bench_share(data, args.rounds)
    if "process" in args.only:
        bench_process(data, args.rounds)
    if "lessons" in args.only:
        bench_lessons(data)


def bench_throughput(data: Dataset) -> None:
    bare, ours = [], []
    for _ in range(3):  # interleaved, so that load drift hits both alike
        bare.append(bare_loop(data))
        ours.append(cnnviz_loop(data))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"\nthroughput, lenet5 on digits 32x32, batch {BATCH}, {EPOCHS} epochs, median of 3")
    print(f"{'loop':<14} {'samples/s':>10} {'ratio':>7}")
    print(f"{'bare PyTorch':<14} {b:>10,.0f} {1.0:>7.2f}")
    print(f"{'cnnviz.train':<14} {o:>10,.0f} {o / b:>7.2f}   (target >= 0.90)")


def bench_tensorboard(data: Dataset) -> None:
    plain, logged = [], []
    for _ in range(3):
        plain.append(cnnviz_loop(data))
        logged.append(cnnviz_loop(data, tensorboard=True))
    p, q = statistics.median(plain), statistics.median(logged)
    print("\nTensorBoard logging, same run, median of 3")
    print(f"{'cnnviz.train':<26} {p:>10,.0f} {1.0:>7.2f}")
    print(f"{'+ write_tensorboard':<26} {q:>10,.0f} {q / p:>7.2f}   (target >= 0.95)")


def bench_recipe() -> None:
    total, training, epoch, accuracy = time_to_97()
    print("\ntime to >= 97% validation accuracy (shipped recipe)")
    print(
        f"  epoch {epoch}, {accuracy:.1%}: {training:.1f} s training, "
        f"{total:.1f} s with data loading"
    )
    print("  target <= 30 s")


def bench_lessons(data: Dataset) -> None:
    from cnnviz.training import experiments, lr_schedule
    from cnnviz.training.loop import _grad_norms, _tracked

    print("\nper-layer gradient norms vs a forward + backward of one batch of 64 (median ms)")
    x, y = data.train_x[:BATCH].float() / 255, data.train_y[:BATCH]
    for arch in ("lenet5", "deepnet"):
        module = build_module(arch, num_classes=10).train()

        def step(module=module) -> None:
            module.zero_grad(set_to_none=True)
            F.cross_entropy(module(x), y).backward()

        step_ms = median_ms(step, 15)
        tracked = _tracked(module)
        norms_ms = median_ms(lambda tracked=tracked: _grad_norms(tracked), 200)
        print(
            f"  {arch:<8} {len(tracked):>2} layers: norms {norms_ms:.3f} ms, step {step_ms:.1f} ms"
            f" = {norms_ms / step_ms:.2%}   (target <= 2%)"
        )
    print("\nplanned schedule, 400 steps as the page draws it (median ms; target <= 100)")
    for schedule in ("constant", "step", "cosine", "onecycle"):
        config = TrainConfig(schedule=schedule)
        print(f"  {schedule:<9} {median_ms(lambda c=config: lr_schedule(c, 400), 5):6.1f} ms")
    print("\nexperiments, each run trained in this process (s; target <= 60 per run)")
    runs = [experiments.overfitting(r) for r in experiments.REMEDIES]
    runs += [experiments.vanishing(c) for c in experiments.CURES]
    done: set[tuple[str, TrainConfig]] = set()
    for experiment in runs:
        for label, config in experiment.runs:
            if (label, config) in done:
                continue  # the first run of each experiment is the same for every remedy
            done.add((label, config))
            start = time.perf_counter()
            *_, last = cnnviz.train(config, data=data)
            seconds = time.perf_counter() - start
            final = last.history[-1]
            print(
                f"  {experiment.name:<11} {label:<38} {seconds:6.1f} s  training "
                f"{final.train_accuracy:.0%}, validation {final.val_accuracy:.0%}"
            )


if __name__ == "__main__":
    main()
