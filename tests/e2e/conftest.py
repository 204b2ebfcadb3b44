"""Browser tests: one ``streamlit run serve.py`` per session (as ``make run``), driven by chromium.

No browser download: pytest-playwright's ``page`` fixture launches ``/usr/bin/chromium`` (or
``$CNNVIZ_CHROMIUM``) through a ``browser_type_launch_args`` override. The server runs offline
with an empty ``TORCH_HOME``, so the default model is LeNet-5 with random weights.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from browser import App
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 60
RUN_TIMEOUT_MS = 90_000  # any single wait: a cold model load plus a probe on a slow CPU


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the browser tests where there is no chromium to drive."""
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM} (set CNNVIZ_CHROMIUM)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium, headless, with the flags a closed network and a container need."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A tall viewport, so the sidebar and the first charts are on screen without scrolling."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1600}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_log(log: Any) -> str:
    log.flush()
    log.seek(0)
    return log.read()


@contextlib.contextmanager
def serve(torch_home: Path, port: int | None = None, **extra_env: str) -> Iterator[str]:
    """Run ``streamlit run serve.py`` on localhost; yield its base URL; stop it.

    Args:
        torch_home: The server's ``TORCH_HOME``.
        port: The port (default a free one): the same port again restarts "the same" server.
        **extra_env: More environment variables for the server (e.g. ``CNNVIZ_SHARED``).
    """
    env = {
        **os.environ,
        "TORCH_HOME": str(torch_home),
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **extra_env,
    }
    port = port or _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "serve.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    # A pipe that nobody reads can fill up and block the server: log to a file instead.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"streamlit exited with code {proc.returncode} before it was ready:\n"
                        + _read_log(log)
                    )
                try:
                    if requests.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"streamlit did not answer /_stcore/health within {STARTUP_TIMEOUT_S} s:\n"
                        + _read_log(log)
                    )
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the app on a free localhost port; yield its base URL; stop it at the end."""
    with serve(tmp_path_factory.mktemp("torch_home")) as url:
        yield url


@pytest.fixture
def server() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """``with server(torch_home, port, CNNVIZ_X="1") as url:`` a server of the test's own (to
    restart it, or to give it other settings); ``server.free_port()`` picks a port."""
    serve.free_port = _free_port  # type: ignore[attr-defined]
    return serve


@pytest.fixture
def app_page(page: Page, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page; a failed test leaves a full-page screenshot in the temp dir."""
    page.set_default_timeout(RUN_TIMEOUT_MS)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = Path(tempfile.gettempdir()) / f"cnnviz-e2e-{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as error:  # the page may be gone; the test's own error matters more
            sys.stderr.write(f"\nno screenshot of the failed page ({error})\n")
        else:
            sys.stderr.write(f"\nscreenshot of the failed page ({page.url}): {shot}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def app(app_page: Page, app_url: str) -> App:
    """The browser page on the test server: ``app.open("/pooling")`` loads it and waits."""
    return App(app_page, app_url)
