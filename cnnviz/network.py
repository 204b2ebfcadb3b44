"""The network, for the two things cnnviz fetches (pretrained weights, torchvision data sets):
is a server reachable (a quick probe whose verdict is remembered for a while), and a download
that streams to a temporary file and renames it into place only when complete (and checked).

``weights="auto"`` must not make a page wait on a dead network at every rerun: the first question
costs at most :data:`PROBE_TIMEOUT_S` seconds, and its answer is kept for :data:`VERDICT_TTL_S`
seconds for every session of the process (a class on one server asks once). Setting the
environment variable ``CNNVIZ_OFFLINE=1`` says there is no network without asking (tests, CI,
a classroom without internet).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

OFFLINE_ENV = "CNNVIZ_OFFLINE"
"""Environment variable: ``1`` (or ``true``, ``yes``) means never use the network."""
PROBE_TIMEOUT_S = 2.0
"""How long the server may take to answer the probe, name lookup included, in seconds."""
VERDICT_TTL_S = 300.0
"""How long a probe's answer (reachable or not) is remembered, in seconds."""
DOWNLOAD_TIMEOUT_S = 20.0
"""How long a download may wait for the next bytes, in seconds."""
ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while a file downloads."""

_now = time.monotonic
_verdicts: dict[str, tuple[bool, float]] = {}  # "scheme://host" -> (reachable, expiry)
_lock = threading.Lock()  # held while probing, so concurrent sessions share one probe


def offline_by_choice() -> bool:
    """Whether :data:`OFFLINE_ENV` says to stay off the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def _server(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def known_unreachable(url: str) -> bool:
    """Whether the server of ``url`` is known to be out of reach, without asking it."""
    if offline_by_choice():
        return True
    with _lock:
        verdict = _verdicts.get(_server(url))
    return verdict is not None and not verdict[0] and verdict[1] > _now()


def reachable(url: str) -> bool:
    """Whether the server of ``url`` answers, asking it at most once per :data:`VERDICT_TTL_S`.

    A HEAD request that gets any answer (even an HTTP error) counts as reachable; no answer
    within :data:`PROBE_TIMEOUT_S` seconds, no route or no name does not.
    """
    if offline_by_choice():
        return False
    server = _server(url)
    with _lock:
        verdict = _verdicts.get(server)
        if verdict is None or verdict[1] <= _now():
            verdict = (_answers(url, PROBE_TIMEOUT_S), _now() + VERDICT_TTL_S)
            _verdicts[server] = verdict
            log.info("weights server %s %s", server, "answers" if verdict[0] else "is out of reach")
    return verdict[0]


def mark_unreachable(url: str) -> None:
    """Remember that a request to the server of ``url`` just failed (a download that broke)."""
    with _lock:
        _verdicts[_server(url)] = (False, _now() + VERDICT_TTL_S)


def _answers(url: str, timeout: float) -> bool:
    """One HEAD request, in a thread so that a slow name lookup (which urllib's own timeout does
    not cover) cannot make the caller wait longer than ``timeout``."""
    answered = threading.Event()

    def ask() -> None:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "cnnviz"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                answered.set()
        except urllib.error.HTTPError:
            answered.set()  # it answered; a refusal shows up when downloading
        except Exception as error:  # no route, no name, a timeout, a broken answer
            log.debug("probe of %s failed: %r", url, error)

    thread = threading.Thread(target=ask, name="cnnviz-weights-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return answered.is_set()


class ChecksumMismatch(ValueError):
    """A download arrived complete but with other bytes than expected."""


def download(
    url: str,
    target: str | os.PathLike[str],
    progress: ProgressCallback | None = None,
    sha256_prefix: str | None = None,
) -> None:
    """Stream ``url`` into ``target``: a temporary file beside it, renamed into place only when
    complete (and, given ``sha256_prefix``, when its SHA-256 starts with it), so an interrupted
    or corrupt download never leaves a file behind.

    Args:
        url: What to fetch.
        target: Where the file goes; its folder must exist.
        progress: Called with (bytes done, total bytes or None) as data arrives.
        sha256_prefix: Hex digits the file's SHA-256 must start with (torchvision puts them in
            its weights' file names).

    Raises:
        OSError: No answer, a broken connection or a timeout (``urllib.error.URLError`` and
            ``TimeoutError`` are ``OSError``s).
        ChecksumMismatch: The bytes are not the expected ones.
    """
    target = Path(target)
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "cnnviz"})
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                done = 0
                while chunk := response.read(1 << 16):
                    tmp.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            tmp.close()
            if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
                raise ChecksumMismatch(f"{url} arrived with other bytes than expected")
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)
