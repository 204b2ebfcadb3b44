"""Server start: what the first student would wait for is done before anyone arrives.

``serve.py`` wraps app.py in Streamlit's ASGI app (``st.App``) with :func:`lifespan`, which
starts :func:`warm_up` in a thread while the server already answers. The warm-up fills the same
shared caches the pages read (so a student arriving mid-way waits for it, not for a second
copy), then freezes the heap: see :func:`freeze_heap`.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import cnnviz
from cnnviz.ui import session
from cnnviz.ui.widgets import gallery_thumbnail

log = logging.getLogger(__name__)

PAGE_LIBRARIES = ("captum.attr", "plotly.graph_objects")
"""Imported by the pages when first used (seconds each on a laptop): imported here instead."""

WARM_THREAD = "cnnviz-warm-up"


class _NoContextWarning(logging.Filter):
    """Streamlit warns "missing ScriptRunContext" when a cached loader runs outside a page;
    the warm-up does that on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread().name != WARM_THREAD


def warm_up() -> float:
    """Load the default model, the samples, the gallery and the default probe into the shared
    caches, import what the pages import, and freeze the heap.

    Nothing is downloaded: the model is what "auto" gives on this computer now.

    Returns:
        Seconds it took.
    """
    start = time.perf_counter()
    session.configure_runtime()
    for name in PAGE_LIBRARIES:
        importlib.import_module(name)
    for item in cnnviz.list_samples():
        gallery_thumbnail(item.key)
    name = session.default_model()
    model = session.auto_model(name)
    image, digest = session.sample(session.default_sample(name))
    session.probe_of(model, image, digest)
    freeze_heap()
    return time.perf_counter() - start


def freeze_heap() -> None:
    """Move every object alive now (modules, the model, the samples) out of the garbage
    collector's sight.

    The process holds about half a million long-lived objects (torch, plotly, captum): a full
    collection walks all of them, 0.2-0.3 s on a laptop, and Streamlit ran one after every
    script run (``runner.postScriptGC``, off in ``.streamlit/config.toml``): most of a fresh
    session's server CPU. Frozen, they are never walked again; what sessions create is
    collected as usual.
    """
    gc.collect()
    gc.freeze()


def _warm_up_logged() -> None:
    try:
        seconds = warm_up()
    except Exception:  # a broken default must not stop the server: the pages say what is wrong
        log.exception("warm-up failed; the first visitor loads the model instead")
    else:
        log.info("warm: default model, samples and probe ready in %.1f s", seconds)


@asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[None]:
    """``st.App``'s lifespan: start the warm-up when the server starts (without waiting)."""
    for handler_name in ("streamlit.runtime.scriptrunner_utils.script_run_context",):
        logging.getLogger(handler_name).addFilter(_NoContextWarning())
    threading.Thread(target=_warm_up_logged, name=WARM_THREAD, daemon=True).start()
    yield
