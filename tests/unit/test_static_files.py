"""Tests for cnnviz.static_files: Streamlit's scripts from memory, compressed, nothing else."""

from __future__ import annotations

import asyncio
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cnnviz.static_files import MediaWait, StaticFiles

SCRIPT = b"console.log('cnnviz');\n" * 200


async def _passed_on(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"streamlit"})


def _get(app: StaticFiles, path: str, method: str = "GET", **headers: str) -> tuple:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": method, "path": path,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    # In a thread of its own: the browser tests' Playwright keeps an event loop running in
    # this one, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, None, send)).result()
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "static" / "js" / "index.abc123.js").write_bytes(SCRIPT)
    (tmp_path / "static" / "font.woff2").write_bytes(b"\x00" * 300)
    (tmp_path / "secret.txt").write_bytes(b"not for the browser")
    return tmp_path


def test_a_script_comes_gzipped_when_the_browser_accepts_it(root: Path) -> None:
    app = StaticFiles(_passed_on, root)
    status, headers, body = _get(app, "/static/js/index.abc123.js", accept_encoding="gzip, br")
    assert status == 200
    assert headers[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body) == SCRIPT
    assert len(body) < len(SCRIPT) / 5
    assert headers[b"content-type"] == b"application/javascript"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert b"immutable" in headers[b"cache-control"]

    status, headers, body = _get(app, "/static/js/index.abc123.js")  # no gzip asked for
    assert (status, body) == (200, SCRIPT)
    assert b"content-encoding" not in headers


def test_a_known_file_is_not_modified_and_head_sends_no_body(root: Path) -> None:
    app = StaticFiles(_passed_on, root)
    _, headers, _ = _get(app, "/static/js/index.abc123.js")
    status, _, body = _get(
        app, "/static/js/index.abc123.js", if_none_match=headers[b"etag"].decode()
    )
    assert (status, body) == (304, b"")
    status, headers, body = _get(app, "/static/js/index.abc123.js", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers[b"content-length"] == str(len(SCRIPT)).encode()


def test_fonts_go_as_they_are_and_a_base_path_is_honoured(root: Path) -> None:
    app = StaticFiles(_passed_on, root, base="/class1/")
    status, headers, body = _get(app, "/class1/static/font.woff2", accept_encoding="gzip")
    assert (status, body) == (200, b"\x00" * 300)  # already compressed: sent as is
    assert b"content-encoding" not in headers
    assert _get(app, "/static/font.woff2")[2] == b"streamlit"  # not under the base: passed on


@pytest.mark.parametrize(
    "path",
    ["/static/../secret.txt", "/static/js/../../secret.txt", "/static/missing.js", "/static/js",
     "/media/picture.jpg", "/feature_maps"],
)  # fmt: skip
def test_anything_else_goes_on_to_streamlit(root: Path, path: str) -> None:
    app = StaticFiles(_passed_on, root)
    assert _get(app, path) == (404, {}, b"streamlit")
    assert path not in app._files  # made-up paths are not remembered


class _MediaLater:
    """Streamlit's media endpoint, where a picture appears after ``misses`` requests."""

    def __init__(self, misses: int) -> None:
        self.misses = misses
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        found = self.calls > self.misses
        await send({"type": "http.response.start", "status": 200 if found else 404, "headers": []})
        await send({"type": "http.response.body", "body": b"jpeg" if found else b"missing"})


def test_a_picture_that_appears_soon_is_waited_for() -> None:
    inner = _MediaLater(misses=3)
    status, _, body = _get(MediaWait(inner, wait_s=5.0, poll_s=0.01), "/media/abc.jpg")
    assert (status, body, inner.calls) == (200, b"jpeg", 4)


def test_a_picture_that_never_comes_is_refused_after_the_wait() -> None:
    inner = _MediaLater(misses=10**6)
    app = MediaWait(inner, wait_s=0.1, poll_s=0.02)
    status, _, body = _get(app, "/media/gone.jpg")
    assert (status, body) == (404, b"missing")
    assert 2 <= inner.calls <= 10


def test_only_pictures_wait() -> None:
    inner = _MediaLater(misses=10**6)
    app = MediaWait(inner, base="/school/", wait_s=5.0, poll_s=0.01)
    assert _get(app, "/school/static/app.js")[0] == 404
    assert _get(app, "/media/abc.jpg")[0] == 404  # not under this server's base path
    assert inner.calls == 2
