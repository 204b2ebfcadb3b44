"""Tests for deploy/: what can be checked here without Docker or Kubernetes. The files parse,
the image installs and starts with make's own commands, and every deployment uses the health
endpoint, the shared store, one cookie secret and cookie affinity like `make school` does."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import yaml

from cnnviz import cli, school
from cnnviz.models.store import STORE_ENV

DEPLOY = school.ROOT / "deploy"


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def _args(instruction: str) -> list[str]:
    return [args for name, args in _dockerfile() if name == instruction]


def _make_n(*argv: str) -> list[str]:
    """The commands ``make -n`` would run (what make would do, nothing done)."""
    done = subprocess.run(
        ["make", "-n", "-C", str(school.ROOT), *argv], capture_output=True, text=True, check=True
    )
    return [line for line in done.stdout.splitlines() if not line.startswith("make")]


def test_the_image_installs_with_make_targets_that_exist() -> None:
    commands = [c.strip() for run in _args("RUN") for c in run.split("&&")]
    makes = [c.removeprefix("make ") for c in commands if c.startswith("make ")]
    assert makes == ["/opt/venv/bin/python VENV=/opt/venv", "install VENV=/opt/venv"]
    for command in makes:
        assert _make_n(*shlex.split(command))  # make knows the target: it would run something


def test_the_image_starts_what_make_run_starts() -> None:
    (cmd,) = _args("CMD")
    expected = _make_n("run", "VENV=/opt/venv", "PORT=8501", "ADDRESS=0.0.0.0")[-1]
    assert shlex.join(json.loads(cmd)) == expected
    assert _args("EXPOSE") == ["8501"]


def test_the_image_runs_as_a_user_checks_health_and_installs_cpu_torch() -> None:
    (user,) = _args("USER")
    assert user not in ("root", "0")
    (health,) = _args("HEALTHCHECK")
    assert "http://127.0.0.1:8501/_stcore/health" in health
    (env,) = _args("ENV")
    assert f"{STORE_ENV}=/data/shared" in env
    torch = next(r for r in _args("RUN") if "torch==" in r)
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch
    # The versions the project's own bounds allow at most.
    pins = dict(re.findall(r"(torch|torchvision)==(\S+)", torch))
    deps = tomllib.loads((school.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name, version in pins.items():
        assert any(d.startswith(f"{name}>=") and d.endswith(f"<={version}") for d in deps)


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_renders_haproxy_for_its_replicas_with_the_school_template(
    tmp_path: Path,
) -> None:
    services = _compose()["services"]
    replicas = sorted(name for name in services if re.fullmatch(r"cnnviz-\d+", name))
    assert len(replicas) >= 2
    command = services["haproxy-config"]["command"]
    assert command[:3] == ["/opt/venv/bin/python", "-m", "cnnviz.cli"]
    out = command.index("--out")
    assert cli.main([*command[3:out], "--out", str(tmp_path / "haproxy.cfg")]) == 0
    config = (tmp_path / "haproxy.cfg").read_text()
    assert re.findall(r"server \S+ (\S+):8501 check", config) == replicas
    bind = re.search(r"^\s*bind :(\d+)$", config, re.M).group(1)
    assert services["haproxy"]["ports"] == [f"{bind}:{bind}"]
    mounted = services["haproxy"]["volumes"][0].split(":")
    assert mounted[1] == "/usr/local/etc/haproxy"  # where the official image reads haproxy.cfg
    assert Path(command[out + 1]).name == "haproxy.cfg"


def test_compose_replicas_share_the_store_and_one_cookie_secret() -> None:
    services = _compose()["services"]
    for name in ("cnnviz-1", "cnnviz-2"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "CNNVIZ_COOKIE_SECRET" in service["environment"][school.SECRET_ENV]
        assert "shared:/data/shared" in service["volumes"]


def test_kubernetes_example_has_affinity_probes_and_a_shared_volume() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    assert set(docs) == {"PersistentVolumeClaim", "Deployment", "Service", "Ingress"}
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == 8501
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env[school.SECRET_ENV]["valueFrom"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "shared")
    assert env[STORE_ENV]["value"] == mount["mountPath"]
    claim = next(v for v in pod["volumes"] if v["name"] == "shared")
    assert (
        claim["persistentVolumeClaim"]["claimName"]
        == docs["PersistentVolumeClaim"]["metadata"]["name"]
    )
    assert pod["securityContext"]["runAsNonRoot"] is True
    notes = docs["Ingress"]["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
