"""A Streamlit server for the benchmarks: started on a free port, offline, and measured.

Shared by ``bench_browser.py`` and ``bench_classroom.py``: the process's CPU seconds
(``/proc/<pid>/stat``), its memory (``VmRSS``/``VmHWM``) and the tracebacks in its log.
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

    def cpu_s(self) -> float:
        """CPU seconds (user + system, all threads) the server has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self, name: str) -> int:
        """``VmRSS`` or ``VmHWM`` of the server, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def logged_errors(self) -> list[str]:
        """The last line of each traceback in the server's log ("KeyError: 'x'")."""
        return _TRACEBACK_END.findall(self.log.read_text(errors="replace"))

    def sample(self, stop: threading.Event) -> None:
        """Record the peak RSS every 0.2 s until ``stop``."""
        while not stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.memory("VmRSS"))


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
