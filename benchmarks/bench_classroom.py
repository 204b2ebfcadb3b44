"""Benchmark: a class of 30 on one cnnviz server while a training run goes.

The server runs offline with an empty TORCH_HOME, as ``make run`` starts it (``streamlit run
serve.py``, or app.py where there is no serve.py). First one tab walks the lesson path alone,
twice (the teacher's walk with cold caches, then a second tab): each view's wall time and
server CPU. Then the teacher starts a training run on the Training page (its defaults: LeNet-5
on the digits, batch 64, with 50 epochs so it outlasts the class) and keeps polling its live
panel once a second, as the page's timer does. Then --students tabs arrive at random moments
within --arrival-window seconds and follow the lesson path on the same model and sample:

    Home -> Convolution -> Feature maps -> 3 x "next layer" -> Pooling -> Grad-CAM,

each pausing --think seconds (uniform 0.5x-1.5x) between clicks. A tab is a protocol client
(benchmarks/streamlit_client.py): HTTP and Streamlit's websocket protocol with its protobuf
messages, no browser, so the generator costs the server's two cores little. Its own CPU time
(time.process_time of this process, all threads) is printed beside the server's.

Measured per view: wall time from the click to the run's script_finished with its images
loaded. Arrival = the page and its scripts and styles, the websocket, and the first run (Home)
with its images. Errors: exceptions and st.error on a page, failed image loads, a run that does
not finish within 120 s, a dropped connection, a layer step that does not change the layer.
Server: CPU (utime + stime of its process) over the class, peak RSS (VmHWM). Training runs in
a child process by default (--train-in process; "thread" sets CNNVIZ_TRAIN_PROCESS=0 for the
server, as cnnviz trained before): the server's descendants (the forkserver and the training
child) are measured too, CPU over the class and peak RSS (summed, sampled every 0.2 s).
Training: steps/s read from the live panel's "step N of M" before the class and during it.

The same arrivals also go to a minimal Streamlit app (a title and one st.image; cnnviz's
.streamlit/config.toml) on a fresh server give Streamlit's own floor for an arrival; cnnviz /
floor ratios are printed.

Targets (issue 10, 2 cores): arrival p95 <= 3 s, later views p95 <= 1 s, 0 errors, server RSS
<= 3 GB, the training run still progressing.

With --replicas N the class goes through a school instead (cnnviz.school, what ``make
school`` starts: N replicas behind HAProxy, cookie affinity, offline): the tabs keep HAProxy's
cookie as a browser does, server CPU and memory are summed over the replicas (CPU per replica and
HAProxy's printed too), and the minimal-app floor is left out.

Run: .venv/bin/python benchmarks/bench_classroom.py [--students 30] [--arrival-window 10]
     [--model lenet5|resnet18] [--no-training] [--train-in process|thread] [--think 2]
     [--seed 0] [--script serve.py] [--replicas N]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from servers import Server, school_server, streamlit_server
from streamlit_client import StreamlitClient, View, ViewError

ROOT = Path(__file__).resolve().parents[1]
LESSON = (
    ("convolution", "convolution", None),
    ("feature maps", "feature_maps", None),
    ("layer step", None, "fm.next"),
    ("layer step", None, "fm.next"),
    ("layer step", None, "fm.next"),
    ("pooling", "pooling", None),
    ("grad-cam", "attribution", None),
)
"""(view kind, page to open or None, button to press or None), after the arrival on Home."""
KINDS = ("arrival", "convolution", "feature maps", "layer step", "pooling", "grad-cam")
STATIC = "  static files"
"""The part of an arrival spent loading index.html, its scripts and styles (a row of its own)."""
TRAIN_EPOCHS = 50
TRAIN_BATCH = 64  # the Training page's default
BEFORE_S = 8.0  # training watched alone for this long before the class arrives
MINIMAL_APP = """import numpy as np
import streamlit as st

st.title("Minimal app")
st.image(np.full((64, 64, 3), 128, dtype=np.uint8), caption="one image")
"""
_STEP = re.compile(r"step ([\d,]+) of ([\d,]+)")


# -- the tabs -------------------------------------------------------------------------------


@dataclass
class Timing:
    """One view of one student."""

    kind: str
    seconds: float
    errors: list[str]
    cpu_s: float = math.nan
    """Server CPU seconds the view took (measured only for a tab alone on the server)."""


@dataclass
class Student:
    """One student's tab: when it arrives, its path, and what it measured."""

    url: str
    query: str
    arrive_at: float
    pauses: list[float]
    """Seconds before each click of the lesson; empty: arrive and stay on Home."""
    meter: Callable[[], float] | None = None
    """The server's CPU seconds so far, to charge each view its CPU (a tab alone only)."""
    timings: list[Timing] = field(default_factory=list)
    finished_at: float = 0.0

    def run(self) -> None:
        """Arrive at ``arrive_at`` (a perf_counter time), then follow the lesson."""
        time.sleep(max(0.0, self.arrive_at - time.perf_counter()))
        client = StreamlitClient(self.url, self.query)
        try:
            start, cpu = time.perf_counter(), self._cpu()
            client.fetch_static()
            self.timings.append(Timing(STATIC, time.perf_counter() - start, [], self._cpu() - cpu))
            client.connect()
            home = client.view()
            self.timings.append(
                Timing("arrival", time.perf_counter() - start, home.errors, self._cpu() - cpu)
            )
            self._follow(client)
        except ViewError as error:
            self.timings.append(Timing("dropped", 0.0, [str(error)]))
        finally:
            client.close()
            self.finished_at = time.perf_counter()

    def _follow(self, client: StreamlitClient) -> None:
        layer = None
        for (kind, page, press), pause in zip(LESSON, self.pauses, strict=False):
            time.sleep(pause)
            cpu = self._cpu()
            view = client.view(page=page, press=press)
            errors = list(view.errors)
            shown = view.heading("Output of ")
            if kind == "layer step" and (shown is None or shown == layer):
                errors.append(f"layer step did not change the layer ({shown!r})")
            layer = shown or layer
            self.timings.append(Timing(kind, view.seconds, errors, self._cpu() - cpu))

    def _cpu(self) -> float:
        return self.meter() if self.meter is not None else math.nan


@dataclass
class Teacher:
    """The teacher's tab: opens Home, starts training, polls the live panel once a second."""

    url: str
    query: str
    progress: list[tuple[float, int, int]] = field(default_factory=list)
    """(perf_counter time, step, steps) from each poll that showed a step."""
    errors: list[str] = field(default_factory=list)
    last_text: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Start the run, poll until ``stop``, then press Stop."""
        client = StreamlitClient(self.url, self.query)
        try:
            # The page first, as a browser loads it: behind a school's HAProxy its cookie sends
            # the websocket and the pictures to one replica (without it, pictures 404).
            client.fetch_static()
            client.connect()
            self._record(client.view())
            self._record(client.view(page="training"))
            self._record(client.view(press="train.start", values={"train.epochs": TRAIN_EPOCHS}))
            while not self.stop.is_set() and client.auto_rerun is not None:
                self.stop.wait(client.auto_rerun[0])
                self._record(client.poll_fragment())
            self._record(client.view(press="train.stop"))
        except ViewError as error:
            self.errors.append(str(error))
        finally:
            self.started.set()
            client.close()

    def _record(self, view: View) -> None:
        self.errors.extend(view.errors)
        text = view.heading("Epoch ")
        match = _STEP.search(text or "")
        if match:
            self.last_text = text or ""
            step, steps = (int(g.replace(",", "")) for g in match.groups())
            self.progress.append((time.perf_counter(), step, steps))
            self.started.set()

    def steps_per_s(self, start: float, end: float) -> float:
        """Training steps per second between two perf_counter times (from the polls)."""
        inside = [(t, s) for t, s, _ in self.progress if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return float("nan")
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


# -- one class ------------------------------------------------------------------------------


@dataclass
class ClassResult:
    """What one class measured."""

    students: list[Student]
    wall_s: float
    server_cpu_s: float
    generator_cpu_s: float
    machine_cpu_s: float
    peak_rss: int
    teacher: Teacher | None = None
    alone: tuple[Student, ...] = ()
    """The teacher's walk through the lesson (cold caches), then another tab's (warm)."""
    logged: list[str] = field(default_factory=list)
    """The server log's tracebacks (their last lines)."""
    before: tuple[float, float] = (0.0, 0.0)
    during: tuple[float, float] = (0.0, 0.0)
    children: Children | None = None
    """The server's descendants (a training process and the server that forks it)."""

    def seconds(self, kind: str) -> list[float]:
        return [t.seconds for s in self.students for t in s.timings if t.kind == kind]

    def errors(self) -> list[str]:
        found = [e for s in self.students for t in s.timings for e in t.errors]
        return found + (self.teacher.errors if self.teacher else [])


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (all processes), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds, RSS bytes) of every process now."""
    table = {}
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        table[int(entry.name)] = (int(fields[1]), cpu, int(fields[21]) * page)
    return table


@dataclass
class Children:
    """The server's descendant processes: their CPU over a span and their peak summed RSS."""

    roots: tuple[int, ...]
    """The server process (every replica of a school)."""
    cpu0: dict[int, float] = field(default_factory=dict)
    peak_rss: int = 0
    peak_pss: int = 0
    cpu_s: float = 0.0
    count: int = 0

    def _mine(self) -> dict[int, tuple[int, float, int]]:
        table, found, todo = _process_table(), {}, list(self.roots)
        while todo:
            parent = todo.pop()
            for pid, row in table.items():
                if row[0] == parent and pid not in found:
                    found[pid] = row
                    todo.append(pid)
        return found

    def start(self) -> None:
        self.cpu0 = {pid: row[1] for pid, row in self._mine().items()}

    def sample(self, stop: threading.Event) -> None:
        """Peak RSS of all of them together every 0.2 s until ``stop``; every second the peak
        PSS of them and the server together (shared pages split between the processes)."""
        ticks = 0
        while not stop.wait(0.2):
            mine = self._mine()
            self.peak_rss = max(self.peak_rss, sum(row[2] for row in mine.values()))
            self.count = max(self.count, len(mine))
            ticks += 1
            if ticks % 5 == 0:
                pss = sum(_pss(pid) for pid in (*self.roots, *mine))
                self.peak_pss = max(self.peak_pss, pss)

    def end(self) -> None:
        now = self._mine()
        self.cpu_s = sum(row[1] - self.cpu0.get(pid, 0.0) for pid, row in now.items())


def _pss(pid: int) -> int:
    """Proportional set size of a process, bytes (0 if it ended)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def walk_alone(server: Server, query: str, lesson: bool) -> Student:
    """One tab alone on the server takes the lesson without pauses; each view's server CPU."""
    pauses = [0.0] * len(LESSON) if lesson else []
    tab = Student(server.url, query, time.perf_counter(), pauses, meter=server.cpu_s)
    tab.run()
    return tab


def _students(url: str, query: str, args: argparse.Namespace, lesson: bool) -> list[Student]:
    """The class, arriving from now on at random within the arrival window (seeded)."""
    rng = random.Random(args.seed)
    start = time.perf_counter()
    students = []
    for _ in range(args.students):
        arrive_at = start + rng.uniform(0, args.arrival_window)
        pauses = [args.think * rng.uniform(0.5, 1.5) for _ in LESSON] if lesson else []
        students.append(Student(url, query, arrive_at, pauses))
    return students


def run_class(
    server: Server, args: argparse.Namespace, lesson: bool, training: bool
) -> ClassResult:
    """Two tabs alone (cold, warm), then training; then the students arrive; wait for all."""
    query = f"model={args.model}" if lesson else ""
    alone = (walk_alone(server, query, lesson), walk_alone(server, query, lesson))
    teacher = Teacher(server.url, query) if training else None
    threads = []
    if teacher is not None:
        threads.append(threading.Thread(target=teacher.run, daemon=True))
        threads[0].start()
        teacher.started.wait(300)
        time.sleep(BEFORE_S)
    stop_sampling = threading.Event()
    threading.Thread(target=server.sample, args=(stop_sampling,), daemon=True).start()
    children = Children(server.pids())
    children.start()
    threading.Thread(target=children.sample, args=(stop_sampling,), daemon=True).start()
    start = time.perf_counter()
    students = _students(server.url, query, args, lesson)
    cpu0, gen0, machine0 = server.cpu_s(), time.process_time(), machine_cpu_s()
    workers = [threading.Thread(target=s.run, daemon=True) for s in students]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    end = time.perf_counter()
    children.end()
    result = ClassResult(
        students, end - start, server.cpu_s() - cpu0, time.process_time() - gen0,
        machine_cpu_s() - machine0, max(server.peak_rss, server.memory("VmHWM")), teacher, alone,
    )  # fmt: skip
    stop_sampling.set()
    result.children = children
    if teacher is not None:
        teacher.stop.set()
        threads[0].join(60)
        result.before = (start - BEFORE_S, start)
        result.during = (start, end)
    result.logged = server.logged_errors()
    return result


# -- the report -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def print_views(result: ClassResult, kinds: tuple[str, ...]) -> None:
    header = f"{'view':<14}{'n':>5}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for kind in (kinds[0], STATIC, *kinds[1:]):
        times = result.seconds(kind)
        errors = sum(len(t.errors) for s in result.students for t in s.timings if t.kind == kind)
        print(f"{kind:<14}{len(times):>5}{percentile(times, 50):>9.2f}{percentile(times, 95):>9.2f}"
              f"{max(times, default=float('nan')):>9.2f}{errors:>8}")  # fmt: skip
    later = [x for kind in kinds[1:] for x in result.seconds(kind)]
    if later:
        print(f"{'later views':<14}{len(later):>5}{percentile(later, 50):>9.2f}"
              f"{percentile(later, 95):>9.2f}{max(later):>9.2f}")  # fmt: skip


def print_alone(result: ClassResult, kinds: tuple[str, ...]) -> None:
    """Wall and server CPU seconds per view of the tab alone (a kind's mean): cold, then warm."""
    header = f"{'view':<14}{'cold s':>9}{'CPU-s':>8}{'warm s':>9}{'CPU-s':>8}"
    print(header)
    print("-" * len(header))
    for kind in (kinds[0], STATIC, *kinds[1:], "whole path"):
        row = f"{kind:<14}"
        for tab in result.alone:
            if kind == "whole path":  # the arrival already holds its static files
                views = [t for t in tab.timings if t.kind != STATIC]
                wall, cpu = sum(t.seconds for t in views), sum(t.cpu_s for t in views)
            else:
                views = [t for t in tab.timings if t.kind == kind]
                wall = statistics.fmean(t.seconds for t in views) if views else math.nan
                cpu = statistics.fmean(t.cpu_s for t in views) if views else math.nan
            row += f"{wall:>9.2f}{cpu:>8.2f}"
        print(row)


def print_resources(result: ClassResult, students: int) -> None:
    wall = result.wall_s
    extra = ", training and the teacher's polling included" if result.teacher else ""
    kids = result.children
    kids_cpu = kids.cpu_s if kids is not None else 0.0
    others = result.machine_cpu_s - result.server_cpu_s - result.generator_cpu_s - kids_cpu
    print(f"class lasted {wall:.1f} s; CPU over it (2 cores = {2 * wall:.0f} CPU-s):")
    print(f"  server     {result.server_cpu_s:7.1f} CPU-s  ({result.server_cpu_s / students:.2f} "
          f"per student{extra})")  # fmt: skip
    if kids is not None and kids.count:
        print(f"  children   {kids_cpu:7.1f} CPU-s  (the server's {kids.count} descendant "
              "processes: the training child and the server that forks it)")  # fmt: skip
    generator = result.generator_cpu_s
    print(f"  generator  {generator:7.1f} CPU-s  ({generator / students:.3f} per student; "
          f"this process, all {students} tabs)")  # fmt: skip
    print(f"  others     {others:7.1f} CPU-s  (other processes on the machine)")
    print(f"server peak RSS {result.peak_rss / 2**30:.2f} GB")
    if kids is not None and kids.count:
        print(f"children peak RSS {kids.peak_rss / 2**30:.2f} GB (summed; shared library pages "
              f"count in each); server + children {total_rss(result) / 2**30:.2f} GB, their "
              f"peak PSS together {kids.peak_pss / 2**30:.2f} GB")  # fmt: skip


def total_rss(result: ClassResult) -> int:
    """Peak RSS of the server plus that of its descendants (an upper bound of their sum)."""
    return result.peak_rss + (result.children.peak_rss if result.children is not None else 0)


def print_training(result: ClassResult) -> None:
    teacher = result.teacher
    if teacher is None:
        return
    before = teacher.steps_per_s(*result.before)
    during = teacher.steps_per_s(*result.during)
    print(f"training (batch {TRAIN_BATCH}): {before:.1f} steps/s ({before * TRAIN_BATCH:,.0f} "
          f"images/s) alone, {during:.1f} steps/s ({during * TRAIN_BATCH:,.0f} images/s) during"
          f" the class, ratio {during / before:.2f}")  # fmt: skip
    print(f"  last seen: {teacher.last_text}")


def print_errors(result: ClassResult) -> None:
    errors = result.errors()
    print(f"errors: {len(errors)}")
    for error in sorted(set(errors))[:10]:
        print(f"  {errors.count(error)} x {error[:160]}")
    if result.logged:
        print(f"server log: {len(result.logged)} tracebacks, ending in")
        for line in sorted(set(result.logged))[:10]:
            print(f"  {result.logged.count(line)} x {line[:160]}")


def verdict(result: ClassResult, floor: ClassResult | None, training: bool) -> None:
    arrival = percentile(result.seconds("arrival"), 95)
    later = percentile([x for k in KINDS[1:] for x in result.seconds(k)], 95)
    progressing = True
    if training and result.teacher is not None:
        progressing = result.teacher.steps_per_s(*result.during) > 0
    checks = [
        ("arrival p95 <= 3 s", arrival <= 3.0, f"{arrival:.2f} s"),
        ("later views p95 <= 1 s", later <= 1.0, f"{later:.2f} s"),
        ("0 errors", not result.errors(), str(len(result.errors()))),
        (
            "server (+ children) RSS <= 3 GB",
            total_rss(result) <= 3 * 2**30,
            f"{total_rss(result) / 2**30:.2f} GB",
        ),
    ]
    if training:
        checks.append(("training still progressing", progressing, "yes" if progressing else "no"))
    if floor is None:
        print("\ntargets:")
        for name, ok, value in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {name:<28} {value}")
        return
    floor_p50 = percentile(floor.seconds("arrival"), 50)
    floor_p95 = percentile(floor.seconds("arrival"), 95)
    print(f"\narrival vs the minimal app: p50 {percentile(result.seconds('arrival'), 50):.2f} / "
          f"{floor_p50:.2f} s = {percentile(result.seconds('arrival'), 50) / floor_p50:.1f}x, "
          f"p95 {arrival:.2f} / {floor_p95:.2f} s = {arrival / floor_p95:.1f}x")  # fmt: skip
    print("\ntargets:")
    for name, ok, value in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<28} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--arrival-window", type=float, default=10.0)
    parser.add_argument("--model", choices=["lenet5", "resnet18"], default="lenet5")
    parser.add_argument("--no-training", dest="training", action="store_false")
    parser.add_argument(
        "--train-in", choices=["process", "thread"], default="process",
        help="where the server trains: a child process (cnnviz's default) or a thread of it",
    )  # fmt: skip
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between clicks, s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--script", default="serve.py" if (ROOT / "serve.py").exists() else "app.py",
        help="what `streamlit run` serves (default: serve.py where there is one, as `make run`)",
    )  # fmt: skip
    parser.add_argument(
        "--replicas", type=int, default=0,
        help="go through a school of this many replicas behind HAProxy (make school)",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ["CNNVIZ_TRAIN_PROCESS"] = "1" if args.train_in == "process" else "0"  # servers'
    where = f"in a {args.train_in}" if args.training else "off"
    print(f"{args.students} students within {args.arrival_window:.0f} s, model {args.model}, "
          f"think {args.think:.1f} s, training {where}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    if args.replicas:
        run_school(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench_classroom_") as tmp:
        workdir = Path(tmp)
        (workdir / "minimal_app.py").write_text(MINIMAL_APP)
        # The same server settings as cnnviz's (no file watcher above all: Streamlit's default
        # watcher costs every new session more CPU than the whole minimal app).
        (workdir / ".streamlit").mkdir()
        shutil.copy(ROOT / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
        with streamlit_server(workdir / "minimal_app.py", workdir) as server:
            floor = run_class(server, args, lesson=False, training=False)
        with streamlit_server(ROOT / args.script, workdir) as server:
            result = run_class(server, args, lesson=True, training=args.training)
    print("\nminimal Streamlit app (a title and one st.image), one tab alone, then a class of "
          f"{args.students} arriving:")  # fmt: skip
    print_alone(floor, ("arrival",))
    print()
    print_views(floor, ("arrival",))
    print_resources(floor, args.students)
    print_errors(floor)
    print(f"\ncnnviz ({args.model}, streamlit run {args.script}), the lesson path: one tab alone "
          "(the teacher's walk with cold caches, then a second tab), no training yet:")  # fmt: skip
    print_alone(result, KINDS)
    print(f"\nthe class: {args.students} tabs within {args.arrival_window:.0f} s"
          f"{', training' if args.training else ''}:")  # fmt: skip
    print_views(result, KINDS)
    print_resources(result, args.students)
    print_training(result)
    print_errors(result)
    verdict(result, floor, args.training)


def run_school(args: argparse.Namespace) -> None:
    """The class through a school of ``--replicas`` behind HAProxy (no minimal-app floor)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench_school_") as tmp,
        school_server(args.replicas, Path(tmp)) as server,
    ):
        start = server.replica_cpu_s()
        result = run_class(server, args, lesson=True, training=args.training)
        spent = {k: v - start.get(k, 0.0) for k, v in server.replica_cpu_s().items()}
    print(f"\ncnnviz ({args.model}) through HAProxy, {args.replicas} replicas (make school), "
          "the lesson path: one tab alone (cold, then a second tab), no training yet:")  # fmt: skip
    print_alone(result, KINDS)
    print(f"\nthe class: {args.students} tabs within {args.arrival_window:.0f} s"
          f"{', training' if args.training else ''}:")  # fmt: skip
    print_views(result, KINDS)
    print_resources(result, args.students)
    print("CPU per process over the whole run (the tabs alone included): " + ", ".join(
        f"{name} {cpu:.1f} s" for name, cpu in spent.items()))  # fmt: skip
    print_training(result)
    print_errors(result)
    verdict(result, None, args.training)


if __name__ == "__main__":
    main()
