"""Tests for cnnviz.school: HAProxy's configuration from the template, and stopping exactly the
processes a school started (by recorded pid and start time)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cnnviz import school
from cnnviz.school import Process, Replica, School, SchoolError

REPLICAS = [Replica("r1", "127.0.0.1", 8601), Replica("r2", "cnnviz-2", 8501)]


def _haproxy() -> str:
    try:
        return school.haproxy_binary()
    except SchoolError as error:
        pytest.skip(str(error))


def test_the_config_names_every_replica_with_its_cookie_and_health_check() -> None:
    text = school.render_config(REPLICAS, "0.0.0.0:8500")
    servers = re.findall(r"^\s*server (\S+) (\S+) (.*)$", text, re.M)
    assert servers == [
        ("r1", "127.0.0.1:8601", "check cookie r1"),
        ("r2", "cnnviz-2:8501", "check cookie r2"),
    ]
    assert re.search(r"^\s*bind 0\.0\.0\.0:8500$", text, re.M)
    assert re.search(r"^\s*cookie SERVERID insert indirect nocache", text, re.M)
    assert re.search(r"^\s*option httpchk GET /_stcore/health$", text, re.M)
    assert re.search(r"^\s*option redispatch", text, re.M)
    assert re.search(r"^\s*timeout tunnel 2h$", text, re.M)
    assert "$" not in text  # every field filled


def test_haproxy_accepts_the_rendered_config(tmp_path: Path) -> None:
    _haproxy()
    config = tmp_path / "haproxy.cfg"
    config.write_text(school.render_config(REPLICAS[:1], "127.0.0.1:8500"))
    school.check_config(config)  # raises with HAProxy's words if it refuses


def test_haproxy_refusals_are_reported_in_its_words(tmp_path: Path) -> None:
    _haproxy()
    config = tmp_path / "haproxy.cfg"
    config.write_text(school.render_config(REPLICAS, "127.0.0.1:8500") + "    nonsense here\n")
    with pytest.raises(SchoolError, match="nonsense"):
        school.check_config(config)


@pytest.mark.parametrize(
    "replicas",
    [[], [Replica("r1", "h", 1), Replica("r1", "h", 2)], [Replica("r 1", "h", 1)]],
)
def test_no_replicas_or_bad_names_are_refused(replicas: list[Replica]) -> None:
    with pytest.raises(SchoolError):
        school.render_config(replicas, ":8500")


def test_the_cli_prints_the_config_the_compose_file_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cnnviz import cli

    argv = ["school", "config", "--servers", "cnnviz-1:8501,cnnviz-2:8501", "--bind", ":8500"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out == school.render_config(
        [Replica("r1", "cnnviz-1", 8501), Replica("r2", "cnnviz-2", 8501)], ":8500"
    )


def test_a_replica_runs_what_make_run_runs() -> None:
    done = subprocess.run(
        ["make", "-n", "-C", str(school.ROOT), "run", "PORT=8601", "ADDRESS=127.0.0.1"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if not line.startswith("make")]
    make_run = shlex.split(lines[-1])
    command = school.server_command(8601, "127.0.0.1")
    assert (command[0], make_run[0]) == (sys.executable, ".venv/bin/python")
    assert command[4] == str(school.ROOT / make_run[4])  # serve.py
    assert command[1:4] + command[5:] == make_run[1:4] + make_run[5:]


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _record(run_dir: Path, *processes: Process) -> None:
    run_dir.mkdir(exist_ok=True)
    School(run_dir, "http://localhost:1", processes, None, run_dir / "shared").save()


def test_stop_stops_the_recorded_processes_and_only_those(tmp_path: Path) -> None:
    mine, other = _sleeper(), _sleeper()
    try:
        started = school._stat(mine.pid)[1]
        _record(tmp_path, Process("r1", mine.pid, started, 1))
        assert school.read_school(tmp_path).replicas[0].alive()

        assert school.stop(tmp_path) == [mine.pid]
        assert mine.wait(timeout=10) == -15  # SIGTERM
        assert other.poll() is None  # not recorded: untouched
        assert school.read_school(tmp_path) is None  # nothing left to stop
        assert school.stop(tmp_path) == []
    finally:
        for process in (mine, other):
            process.kill()
            process.wait()


def test_a_pid_that_now_names_another_process_is_left_alone(tmp_path: Path) -> None:
    stranger = _sleeper()  # as if the recorded replica ended and its pid went to this one
    try:
        started = school._stat(stranger.pid)[1]
        _record(tmp_path, Process("r1", stranger.pid, started - 1, 1))
        assert not school.read_school(tmp_path).replicas[0].alive()
        assert school.stop(tmp_path) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_the_record_is_plain_json_with_pids_and_start_times(tmp_path: Path) -> None:
    _record(tmp_path, Process("r1", 123, 456, 8601), Process("r2", 124, 457, 8602))
    data = json.loads((tmp_path / school.STATE_FILE).read_text())
    assert [(p["name"], p["pid"], p["started"], p["port"]) for p in data["replicas"]] == [
        ("r1", 123, 456, 8601),
        ("r2", 124, 457, 8602),
    ]
    assert data["haproxy"] is None


def test_a_school_does_not_start_twice_from_one_folder(tmp_path: Path) -> None:
    mine = _sleeper()
    try:
        _record(tmp_path, Process("r1", mine.pid, school._stat(mine.pid)[1], 1))
        with pytest.raises(SchoolError, match="already runs"):
            school.start(school.SchoolOptions(run_dir=tmp_path))
    finally:
        mine.kill()
        mine.wait()
