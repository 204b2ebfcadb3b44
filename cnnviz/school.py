"""A school on one machine: N cnnviz replicas behind HAProxy (``make school``).

Streamlit keeps each browser tab's session, its pictures and its uploads in the memory of the
process that opened it, so the way past one process is several identical replicas behind a
load balancer with session affinity:

* HAProxy's configuration is rendered from ``deploy/haproxy.cfg.template`` (the same template
  the compose file uses): a cookie (``SERVERID``) keeps a tab on its replica, websockets are
  tunnelled, ``/_stcore/health`` is checked every 0.5 s and a replica that fails twice is out;
  a tab whose replica died is sent to a live one (``option redispatch``), where it comes back
  on the same view, since the URL carries the view.
* What must agree lives outside the processes: every replica gets the same shared-model store
  (``CNNVIZ_SHARED``, :mod:`cnnviz.models.store`) and the same ``server.cookieSecret`` (made
  for each start; Streamlit signs its login cookies with it).
* The run folder (``.school/`` by default) holds ``school.json`` (every process's pid and start
  time), the rendered ``haproxy.cfg``, the secret (mode 0600) and the logs. :func:`stop` signals
  exactly those processes, and only while the pid still names the process that was started
  (its start time matches), never a later process that reuses the number.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnviz.errors import CnnvizError
from cnnviz.models.store import STORE_ENV, default_root

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "haproxy.cfg.template"
RUN_DIR = ROOT / ".school"
SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"
"""Streamlit reads ``server.cookieSecret`` from this variable (kept out of ``ps`` output)."""
STATE_FILE = "school.json"
HEALTH = "/_stcore/health"


class SchoolError(CnnvizError):
    """The school cannot start or stop: HAProxy missing, a replica that does not come up..."""


@dataclass(frozen=True, slots=True)
class Replica:
    """One cnnviz server as HAProxy sees it.

    Attributes:
        name: HAProxy's server name, also the value of the ``SERVERID`` cookie (``r1``...).
        host: Where HAProxy reaches it (an address, or a host name in a container network).
        port: Its port.
    """

    name: str
    host: str
    port: int


def render_config(
    replicas: Sequence[Replica], bind: str, maxconn: int = 4096, tunnel_timeout: str = "2h"
) -> str:
    """HAProxy's configuration for ``replicas``, from ``deploy/haproxy.cfg.template``.

    Args:
        replicas: The cnnviz servers, at least one; names are unique ``[A-Za-z0-9_-]`` words.
        bind: HAProxy's front address, ``"host:port"`` (``":8500"`` or ``"0.0.0.0:8500"``:
            every interface).
        maxconn: Most connections HAProxy holds at once (a tab holds 1-7).
        tunnel_timeout: How long an idle websocket is kept (HAProxy's time format), at least
            a lesson.

    Returns:
        The configuration text; ``haproxy -c -f`` accepts it.

    Raises:
        SchoolError: No replicas, or a name HAProxy or a cookie cannot carry.
    """
    if not replicas:
        raise SchoolError("A school needs at least one replica.")
    names = [r.name for r in replicas]
    if len(set(names)) != len(names) or not all(n and _is_word(n) for n in names):
        raise SchoolError(f"Replica names must be unique words of letters and digits: {names}.")
    servers = "\n".join(
        f"    server {r.name} {r.host}:{r.port} check cookie {r.name}" for r in replicas
    )
    fields = dict(bind=bind, servers=servers, maxconn=maxconn, tunnel_timeout=tunnel_timeout)
    return string.Template(TEMPLATE.read_text()).substitute(fields)


def _is_word(name: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c in "_-") for c in name)


def server_command(port: int, address: str) -> list[str]:
    """One replica's command: ``streamlit run serve.py``, as ``make run`` and the image run it."""
    return [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"),
        "--server.port", str(port), "--server.address", address,
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Process:
    """A process the school started.

    Attributes:
        name: ``r1``... for a replica, ``haproxy`` for HAProxy.
        pid: Its process id.
        started: Its start time (clock ticks after boot, ``/proc/<pid>/stat``): a pid that
            names another process later has another start time.
        port: The port it listens on.
    """

    name: str
    pid: int
    started: int
    port: int

    def alive(self) -> bool:
        """Whether the pid still names this very process (not a zombie, not a reused pid)."""
        stat = _stat(self.pid)
        return stat is not None and stat[0] not in "ZX" and stat[1] == self.started


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or ``None`` when none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[19])


@dataclass(frozen=True, slots=True)
class School:
    """A running school, as recorded in its run folder.

    Attributes:
        run_dir: The run folder.
        url: Where students go (HAProxy's front), e.g. ``http://localhost:8500``.
        replicas: The cnnviz servers.
        haproxy: HAProxy, once started.
        shared: The shared-model store every replica uses.
    """

    run_dir: Path
    url: str
    replicas: tuple[Process, ...]
    haproxy: Process | None
    shared: Path

    @property
    def processes(self) -> tuple[Process, ...]:
        """HAProxy first (it stops taking tabs first), then the replicas."""
        return ((self.haproxy,) if self.haproxy else ()) + self.replicas

    def save(self) -> None:
        data = {
            "url": self.url,
            "shared": str(self.shared),
            "replicas": [asdict(p) for p in self.replicas],
            "haproxy": asdict(self.haproxy) if self.haproxy else None,
        }
        target = self.run_dir / STATE_FILE
        target.with_suffix(".part").write_text(json.dumps(data, indent=2))
        target.with_suffix(".part").replace(target)


def read_school(run_dir: Path = RUN_DIR) -> School | None:
    """The school recorded in ``run_dir``, or ``None`` when none is."""
    try:
        data = json.loads((run_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise SchoolError(f"{run_dir / STATE_FILE} cannot be read ({error}).") from error
    haproxy = Process(**data["haproxy"]) if data.get("haproxy") else None
    replicas = tuple(Process(**p) for p in data["replicas"])
    return School(run_dir, data["url"], replicas, haproxy, Path(data["shared"]))


@dataclass(frozen=True, slots=True)
class SchoolOptions:
    """How to start a school.

    Attributes:
        replicas: cnnviz servers, each on a free localhost port.
        port: HAProxy's port, where students go.
        host: HAProxy's address: ``0.0.0.0`` for every interface (a class on the network),
            ``127.0.0.1`` for this computer only.
        run_dir: Where pids, the configuration, the secret and the logs go.
        shared: The shared-model store (default: ``$CNNVIZ_SHARED`` or the user's cache).
        env: More environment variables for the replicas (e.g. ``TORCH_HOME``).
        timeout_s: Seconds every replica and HAProxy have to answer ``/_stcore/health``.
    """

    replicas: int = 2
    port: int = 8500
    host: str = "0.0.0.0"
    run_dir: Path = RUN_DIR
    shared: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 180.0


def haproxy_binary() -> str:
    """The ``haproxy`` program (``/usr/sbin`` is not on every user's ``PATH``).

    Raises:
        SchoolError: It is not installed.
    """
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SchoolError("HAProxy is not installed: run `make haproxy` (Debian's package).")
    return found


def check_config(config: Path) -> None:
    """``haproxy -c``: refuse a configuration HAProxy would refuse.

    Raises:
        SchoolError: HAProxy's complaint, in its own words.
    """
    done = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(config)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SchoolError(f"HAProxy refuses {config}: {(done.stderr or done.stdout).strip()}")


def start(options: SchoolOptions) -> School:
    """Start the replicas and HAProxy in front; return once all answer their health check.

    The pids are recorded before anything is waited for, so :func:`stop` can always stop what
    was started, even after a failed start.

    Raises:
        SchoolError: A school already runs from ``run_dir``, HAProxy is missing or refuses its
            configuration, or a process exits or does not answer within ``timeout_s``.
    """
    if options.replicas < 1:
        raise SchoolError("A school needs at least one replica.")
    running = read_school(options.run_dir)
    if running is not None and any(p.alive() for p in running.processes):
        raise SchoolError(f"A school already runs from {options.run_dir} ({running.url}): "
                          "stop it first (`make school-stop`).")  # fmt: skip
    binary = haproxy_binary()
    logs = options.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    shared = options.shared or default_root()
    env = {**os.environ, **options.env, STORE_ENV: str(shared), SECRET_ENV: _secret(options)}
    host = "localhost" if options.host in ("0.0.0.0", "::", "") else options.host
    school = School(options.run_dir, f"http://{host}:{options.port}", (), None, shared)
    ports = _free_ports(options.replicas)
    for number, port in enumerate(ports, 1):
        command = server_command(port, "127.0.0.1")
        school = _with(school, _spawn(f"r{number}", command, port, env, logs))
    replicas = [Replica(p.name, "127.0.0.1", p.port) for p in school.replicas]
    config = options.run_dir / "haproxy.cfg"
    config.write_text(render_config(replicas, f"{options.host}:{options.port}"))
    check_config(config)
    command = [binary, "-db", "-f", str(config)]
    school = _with(school, _spawn("haproxy", command, options.port, env, logs))
    deadline = time.monotonic() + options.timeout_s
    for process in school.processes:
        where = "127.0.0.1" if process.name != "haproxy" or host == "localhost" else host
        url = f"http://{where}:{process.port}{HEALTH}"
        _wait_healthy(process, url, logs / f"{process.name}.log", deadline)
    return school


def _with(school: School, process: Process) -> School:
    """The school with one more process, recorded at once."""
    if process.name == "haproxy":
        school = School(school.run_dir, school.url, school.replicas, process, school.shared)
    else:
        replicas = (*school.replicas, process)
        school = School(school.run_dir, school.url, replicas, school.haproxy, school.shared)
    school.save()
    return school


def _secret(options: SchoolOptions) -> str:
    """A new cookie secret for this start, kept in the run folder (readable by its owner)."""
    secret = secrets.token_urlsafe(32)
    path = options.run_dir / "cookie_secret"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret)
    return secret


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free localhost ports (held open together, so no two are the same)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _spawn(name: str, command: list[str], port: int, env: dict[str, str], logs: Path) -> Process:
    """Start ``command`` in a session of its own (it outlives ``make``), logging to a file."""
    with (logs / f"{name}.log").open("ab") as out:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    stat = _stat(child.pid)
    log.info("started %s (pid %d): %s", name, child.pid, " ".join(command))
    return Process(name, child.pid, stat[1] if stat else 0, port)


def _wait_healthy(process: Process, url: str, log_file: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not process.alive():
            tail = log_file.read_text(errors="replace")[-2000:]
            raise SchoolError(f"{process.name} (pid {process.pid}) exited at start:\n{tail}")
        if health(url):
            return
        time.sleep(0.3)
    raise SchoolError(f"{process.name} did not answer {url} in time; see {log_file}.")


def health(url: str) -> bool:
    """Whether ``url`` (a ``/_stcore/health`` address) answers ``ok`` now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read() == b"ok"
    except (OSError, urllib.error.URLError):
        return False


def stop(run_dir: Path = RUN_DIR, timeout_s: float = 15.0) -> list[int]:
    """Stop the processes recorded in ``run_dir`` (SIGTERM, then SIGKILL after ``timeout_s``).

    Only processes that are still the ones started are signalled (see :class:`Process`).

    Returns:
        The pids signalled; empty when nothing recorded was running.
    """
    school = read_school(run_dir)
    if school is None:
        return []
    mine = [p for p in school.processes if p.alive()]
    for process in mine:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(p.alive() for p in mine) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in mine:
        if process.alive():
            _signal(process, signal.SIGKILL)
    (run_dir / STATE_FILE).unlink(missing_ok=True)
    return [p.pid for p in mine]


def _signal(process: Process, signum: signal.Signals) -> None:
    if process.alive():  # checked again just before: the pid must still be this process
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(process.pid, signum)
