"""The cnnviz server: ``streamlit run serve.py`` (what ``make run`` does).

Streamlit runs ``app.py`` for every browser tab. This wraps it in Streamlit's ASGI app
(``st.App``) to add what runs once per server: at start, the default model, the samples and
their probe are loaded into the shared caches (:mod:`cnnviz.ui.warm`), so the first student of
a class does not wait for them. ``streamlit run app.py`` still works, without the warm-up.
"""

import streamlit as st

from cnnviz.ui.warm import lifespan

app = st.App("app.py", lifespan=lifespan)
