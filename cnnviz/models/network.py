"""Is the weights server reachable? A quick probe whose verdict is remembered for a while.

``weights="auto"`` must not make a page wait on a dead network at every rerun: the first question
costs at most :data:`PROBE_TIMEOUT_S` seconds, and its answer is kept for :data:`VERDICT_TTL_S`
seconds for every session of the process (a class on one server asks once). Setting the
environment variable ``CNNVIZ_OFFLINE=1`` says there is no network without asking (tests, CI,
a classroom without internet).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger(__name__)

OFFLINE_ENV = "CNNVIZ_OFFLINE"
"""Environment variable: ``1`` (or ``true``, ``yes``) means never use the network."""
PROBE_TIMEOUT_S = 2.0
"""How long the server may take to answer the probe, name lookup included, in seconds."""
VERDICT_TTL_S = 300.0
"""How long a probe's answer (reachable or not) is remembered, in seconds."""

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
