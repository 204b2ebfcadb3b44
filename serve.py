"""The cnnviz server: ``streamlit run serve.py`` (what ``make run`` does).

Streamlit runs ``app.py`` for every browser tab. This wraps it in Streamlit's ASGI app
(``st.App``) to add what runs once per server: at start, the default model, the samples and
their probe are loaded into the shared caches (:mod:`cnnviz.ui.warm`), so the first student of
a class does not wait for them. ``streamlit run app.py`` still works, without the warm-up.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware

# Before torch loads (in the lifespan): by default OpenMP's idle workers spin for a while, and
# on a busy server they keep a core from the sessions and the training run that need it (an
# idle LeNet-5 probe measured 56 ms instead of 4 beside another busy process). An operator's
# own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from cnnviz.static_files import MediaWait, StaticFiles
from cnnviz.training.priority import PAGES


class StudentsFirst:
    """ASGI middleware: while a browser waits for a file (the app's scripts, a picture), a
    training run steps aside, as it does for page runs (see
    :class:`cnnviz.training.priority.PageRuns`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with PAGES.running():
            await self.app(scope, receive, send)


@asynccontextmanager
async def lifespan(app: st.App) -> AsyncIterator[None]:
    # Imported once Streamlit's runtime runs (it starts before this): cnnviz.ui's data caches
    # are then created in the runtime's bounded store, not in a stand-alone one.
    from cnnviz.ui.warm import lifespan as warm_lifespan

    async with warm_lifespan(app):
        yield


# Outermost first: a training run steps aside while any file is sent, Streamlit's own scripts
# included, and those come compressed from memory (cnnviz/static_files.py).
app = st.App(
    "app.py",
    lifespan=lifespan,
    middleware=[
        Middleware(StudentsFirst),
        Middleware(
            StaticFiles,
            root=Path(st.__file__).resolve().parent / "static",
            base=st.get_option("server.baseUrlPath"),
        ),
        # A tab back from a replica that died asks for its pictures before its view has run
        # again here: they are waited for (a few seconds), not refused (cnnviz/static_files.py).
        Middleware(MediaWait, base=st.get_option("server.baseUrlPath")),
    ],
)
