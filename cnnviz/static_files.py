"""Streamlit's own static files (its scripts, styles and fonts), served from memory, compressed.

Streamlit 1.67 sends them uncompressed from disk: a fresh tab fetches about 100 files, 3 MB, and
a class of 30 fetches 90 MB over the school's WiFi while the server reads, stats and sends each
file in Python. This ASGI middleware keeps each file once in memory with its gzip form (made the
first time it is asked for) and answers from there: about a third of the bytes, no disk, and a
``304 Not Modified`` when the browser already has it. Anything else (pages, the websocket,
pictures, a path outside the folder) goes on to Streamlit untouched. No Streamlit import here:
``serve.py`` passes the folder.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

COMPRESSED = frozenset({".woff2", ".woff", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".gz"})
"""Endings whose files are already compressed: sent as they are."""
CACHE_CONTROL = b"public, immutable, max-age=31536000"  # file names carry a content hash
LARGEST = 20 * 1024 * 1024  # bytes: a larger file is left to Streamlit


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    gzipped: bytes | None
    etag: bytes
    content_type: bytes


class StaticFiles:
    """ASGI middleware serving ``<base>/static/...`` from memory, gzip-compressed when the
    browser accepts it.

    Args:
        app: The ASGI app it stands in front of (Streamlit's).
        root: The folder that holds ``static/`` (Streamlit's ``streamlit/static``).
        base: The server's ``server.baseUrlPath`` ("" for none).
    """

    def __init__(self, app: Any, root: Path, base: str = "") -> None:
        self.app = app
        self.root = root.resolve()
        self.prefix = f"/{base.strip('/')}/static/" if base.strip("/") else "/static/"
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        found = self._files.get(path)
        if found is None:
            found = await anyio.to_thread.run_sync(self._load, path)
        if found is None:
            await self.app(scope, receive, send)
            return
        await _answer(found, scope, send)

    def _load(self, path: str) -> _File | None:
        """Read (and compress) one file, once; ``None`` for anything not a file of the folder
        (not remembered: made-up paths must not fill the memory)."""
        with self._lock:
            if path in self._files:
                return self._files[path]
            found = _read(self.root, "static/" + path[len(self.prefix) :])
            if found is not None:
                self._files[path] = found
            return found


def _read(root: Path, relative: str) -> _File | None:
    target = (root / relative).resolve()
    if not target.is_relative_to(root / "static") or not target.is_file():
        return None
    if target.stat().st_size > LARGEST:
        return None
    body = target.read_bytes()
    packed = None
    if target.suffix.lower() not in COMPRESSED:
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        if len(packed) >= len(body):
            packed = None
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind in ("text/javascript", "application/x-javascript"):
        kind = "application/javascript"
    etag = b'"' + hashlib.md5(body, usedforsecurity=False).hexdigest().encode() + b'"'
    return _File(body, packed, etag, kind.encode())


def _header(scope: dict[str, Any], name: bytes) -> bytes:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), b"")


async def _answer(found: _File, scope: dict[str, Any], send: Any) -> None:
    headers = [
        (b"content-type", found.content_type),
        (b"cache-control", CACHE_CONTROL),
        (b"etag", found.etag),
        (b"vary", b"accept-encoding"),
    ]
    if found.etag in _header(scope, b"if-none-match"):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = found.body
    if found.gzipped is not None and b"gzip" in _header(scope, b"accept-encoding"):
        body = found.gzipped
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


MEDIA_WAIT_S = 5.0
"""Seconds a picture this server does not have (yet) is waited for before a 404."""


class MediaWait:
    """ASGI middleware: a picture (``<base>/media/...``) this server does not have yet is
    waited for, up to ``wait_s``, instead of refused at once.

    When a tab's server goes away (a replica of a school dies, a server restarts), the browser
    asks the server it reconnects to for the pictures it was showing, before its view has run
    again there (:func:`cnnviz.ui.rerun_on_reconnect`). That run makes the very same files (a
    picture's address is a hash of its bytes) a moment later; a 404 now would leave a broken
    picture on the page, since the run gives the element the same address and the browser does
    not ask again. A picture that never comes is refused after ``wait_s``, as before.

    Args:
        app: The ASGI app it stands in front of (Streamlit's).
        base: The server's ``server.baseUrlPath`` ("" for none).
        wait_s: Longest wait for a missing picture.
        poll_s: How often it asks again meanwhile.
    """

    def __init__(
        self, app: Any, base: str = "", wait_s: float = MEDIA_WAIT_S, poll_s: float = 0.2
    ) -> None:
        self.app = app
        self.prefix = f"/{base.strip('/')}/media/" if base.strip("/") else "/media/"
        self.wait_s = wait_s
        self.poll_s = poll_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope.get("path", "").startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.wait_s
        while await self._missing(scope, send, last=anyio.current_time() >= deadline):
            await anyio.sleep(self.poll_s)

    async def _missing(self, scope: dict[str, Any], send: Any, last: bool) -> bool:
        """Pass the request on; ``True`` (and nothing sent) when it was a 404 to try again."""
        held = False

        async def forward(message: dict[str, Any]) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 404:
                held = not last
            if not held:
                await send(message)

        await self.app(scope, _no_body, forward)  # a GET's body is empty, however often read
        return held


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}
