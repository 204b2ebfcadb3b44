"""The cnnviz server: ``streamlit run serve.py`` (what ``make run`` does).

Streamlit runs ``app.py`` for every browser tab. This wraps it in Streamlit's ASGI app
(``st.App``) to add what runs once per server: at start, the default model, the samples and
their probe are loaded into the shared caches (:mod:`cnnviz.ui.warm`), so the first student of
a class does not wait for them. ``streamlit run app.py`` still works, without the warm-up.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def lifespan(app: st.App) -> AsyncIterator[None]:
    # Imported once Streamlit's runtime runs (it starts before this): cnnviz.ui's data caches
    # are then created in the runtime's bounded store, not in a stand-alone one.
    from cnnviz.ui.warm import lifespan as warm_lifespan

    async with warm_lifespan(app):
        yield


app = st.App("app.py", lifespan=lifespan)
