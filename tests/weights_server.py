"""A local stand-in for torchvision's weights server, for the download and "auto" tests.

Test modules import it by name (``from weights_server import ...``), as ``tests/`` is on
``sys.path`` beside ``tests/conftest.py``. Everything here listens on 127.0.0.1 only, and
:func:`local_only` makes any other host fail to resolve, so no test reaches the internet.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import torchvision

from cnnviz import network
from cnnviz.models import MODELS, build_module


def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh reachability verdicts, ``CNNVIZ_OFFLINE`` unset, and names other than 127.0.0.1
    and localhost unresolvable: the network is allowed, but only to servers a test starts."""
    monkeypatch.setattr(network, "_verdicts", {})
    monkeypatch.delenv(network.OFFLINE_ENV, raising=False)
    real = socket.getaddrinfo

    def local(host: str, *args: object, **kwargs: object) -> list:
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(f"tests stay off the internet ({host})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)


def point_weights_at(name: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make torchvision's default weights of registry model ``name`` live at ``url``."""
    weights = torchvision.models.get_model_weights(MODELS[name].torchvision_name).DEFAULT
    monkeypatch.setattr(weights.value, "url", url)


@dataclass
class WeightsServer:
    """A local HTTP server of the files in :attr:`root`, logging every request it answers."""

    url: str
    root: Path
    requests: list[tuple[str, str]] = field(default_factory=list)

    def serve(self, name: str, monkeypatch: pytest.MonkeyPatch, seed: int = 4) -> tuple[dict, Path]:
        """Serve a state dict of ``name`` named as torchvision names its files
        (``<name>-<sha256[:8]>.pth``) and point the registry's weights URL at it.

        Returns:
            The state dict and the served file.
        """
        state = build_module(name, seed=seed).state_dict()
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
        served = self.root / f"{name}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
        served.write_bytes(data)
        point_weights_at(name, f"{self.url}/{served.name}", monkeypatch)
        return state, served


@contextlib.contextmanager
def weights_server(root: Path) -> Iterator[WeightsServer]:
    """Serve the files in ``root`` on a free port of 127.0.0.1 while the block runs."""
    requests: list[tuple[str, str]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append((self.command, self.path))

        def log_message(self, *args: object) -> None:
            pass  # quiet test output; requests are logged above

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield WeightsServer(f"http://127.0.0.1:{httpd.server_address[1]}", root, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def connections(listener: socket.socket) -> int:
    """How many connections wait on ``listener`` (each one a probe that got no answer)."""
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]
