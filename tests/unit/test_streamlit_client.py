"""The benchmarks' protocol client (benchmarks/streamlit_client.py) against a real server.

A tiny app (a title, one image, a counter button) runs under ``streamlit run``; the client
loads it as a fresh tab, sees the run finish with its image fetched, and presses the button.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
APP = """import numpy as np
import streamlit as st

st.title("Tiny")
st.image(np.zeros((8, 8, 3), dtype=np.uint8))
st.session_state.setdefault("n", 0)
if st.button("Add", key="tiny.add"):
    st.session_state.n += 1
st.header(f"Count {st.session_state.n}")
"""


@pytest.fixture(scope="module")
def client_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "streamlit_client", ROOT / "benchmarks" / "streamlit_client.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("tiny_app")
    (folder / "app.py").write_text(APP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_fresh_tab_sees_the_run_finish_and_its_image(
    client_module: ModuleType, server_url: str
) -> None:
    client = client_module.StreamlitClient(server_url, timeout=30)
    try:
        assert client.fetch_static() > 100_000  # index.html and the scripts it names
        client.connect()
        view = client.view()
        assert view.errors == []
        assert view.texts == ["Tiny", "Count 0"]
        assert view.media == 1
        assert view.media_bytes > 0
        assert client.page_hash in client.pages.values()
        assert "tiny.add" in client.widget_ids
    finally:
        client.close()


def test_pressing_a_button_reruns_with_its_trigger(
    client_module: ModuleType, server_url: str
) -> None:
    client = client_module.StreamlitClient(server_url, timeout=30)
    try:
        client.connect()
        client.view()
        pressed = client.view(press="tiny.add")
        again = client.view(press="tiny.add")
        assert pressed.heading("Count") == "Count 1"
        assert again.heading("Count") == "Count 2"
        assert pressed.media == 0  # the same image URL: a tab fetches it once
    finally:
        client.close()


def test_cookies_the_server_sets_go_back_on_every_request(client_module: ModuleType) -> None:
    """As a browser's: a load balancer's affinity cookie keeps the tab on one replica."""
    import http.server
    import threading

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            self.send_response(200)
            if self.path == "/":
                self.send_header("Set-Cookie", "SERVERID=r2; path=/; HttpOnly")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http_ = client_module.HttpConnections(f"http://127.0.0.1:{server.server_port}", 10.0)
    try:
        http_.get("/")
        http_.get("/static/app.js")
        assert http_.cookie_header() == "SERVERID=r2"
    finally:
        http_.close()
        server.shutdown()
    assert seen == [None, "SERVERID=r2"]
