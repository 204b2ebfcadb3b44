"""A Streamlit server for the benchmarks: started on a free port, offline, and measured.

Shared by ``bench_browser.py`` and ``bench_classroom.py``: the process's CPU seconds
(``/proc/<pid>/stat``), its memory (``VmRSS``/``VmHWM``) and the tracebacks in its log. A
school (:mod:`cnnviz.school`: replicas behind HAProxy, as ``make school`` starts it) is measured
the same way, summed over its processes (:func:`school_server`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests

_TRACEBACK_END = re.compile(r"^Traceback \(most recent call last\):\n(?:[ \t].*\n)*(.+)$", re.M)


@dataclass
class Server:
    """A ``streamlit run`` process on a free localhost port."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    peak_rss: int = 0
    """Largest VmRSS sampled, bytes."""

    def pids(self) -> tuple[int, ...]:
        """The server's process (whose descendants are its training processes)."""
        return (self.process.pid,)

    def cpu_s(self) -> float:
        """CPU seconds (user + system, all threads) the server has used."""
        return cpu_seconds(self.process.pid)

    def memory(self, name: str) -> int:
        """``VmRSS`` or ``VmHWM`` of the server, in bytes."""
        return memory_of(self.process.pid, name)

    def logged_errors(self) -> list[str]:
        """The last line of each traceback in the server's log ("KeyError: 'x'")."""
        return _TRACEBACK_END.findall(self.log.read_text(errors="replace"))

    def sample(self, stop: threading.Event) -> None:
        """Record the peak RSS every 0.2 s until ``stop``."""
        while not stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.memory("VmRSS"))


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_of(pid: int, name: str) -> int:
    """``VmRSS`` or ``VmHWM`` of a process, in bytes (0 once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class SchoolServer(Server):
    """A school measured like one server: CPU summed over HAProxy and the replicas, memory
    over the replicas (``VmHWM`` summed: an upper bound of the peak together), every log;
    the replicas' descendants are their training processes."""

    running: Any = None
    """The :class:`cnnviz.school.School`."""

    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.running.replicas)

    def cpu_s(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.running.processes)

    def replica_cpu_s(self) -> dict[str, float]:
        """CPU seconds of each process of the school by name (``r1``..., ``haproxy``)."""
        return {p.name: cpu_seconds(p.pid) for p in self.running.processes}

    def memory(self, name: str) -> int:
        return sum(memory_of(p.pid, name) for p in self.running.replicas)

    def logged_errors(self) -> list[str]:
        return [e for log in sorted(self.log.glob("r*.log"))
                for e in _TRACEBACK_END.findall(log.read_text(errors="replace"))]  # fmt: skip


@contextmanager
def school_server(replicas: int, workdir: Path) -> Iterator[SchoolServer]:
    """Start a school of ``replicas`` offline (empty TORCH_HOME) behind HAProxy; stop it."""
    from cnnviz import school

    port = _free_port()
    torch_home = workdir / f"torch_home_{port}"
    torch_home.mkdir()
    options = school.SchoolOptions(
        replicas=replicas, port=port, host="127.0.0.1", run_dir=workdir / f"school_{port}",
        shared=workdir / "shared", env={"CNNVIZ_OFFLINE": "1", "TORCH_HOME": str(torch_home)},
    )  # fmt: skip
    try:
        running = school.start(options)
        first = SimpleNamespace(pid=running.replicas[0].pid)
        yield SchoolServer(first, running.url, options.run_dir / "logs", running=running)
    finally:
        school.stop(options.run_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(script: Path, workdir: Path) -> Iterator[Server]:
    """Start ``streamlit run script`` offline (empty TORCH_HOME); stop it on exit."""
    port = _free_port()
    torch_home = workdir / f"torch_home_{port}"
    torch_home.mkdir()
    env = {**os.environ, "CNNVIZ_OFFLINE": "1", "TORCH_HOME": str(torch_home)}
    log = workdir / f"server_{port}.log"
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=script.parent, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(server: Server, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if requests.get(server.url + "/_stcore/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server did not start:\n{server.log.read_text()[-3000:]}")
