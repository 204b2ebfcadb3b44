"""Links for the class: an app link with its QR code, and "Share with the class" after training.

A link is what a teacher reads out or projects; the QR code is the same link for phones. Both
are built from the browser's own address (``st.context.url``), so they work behind whatever
host name the class uses.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from cnnviz import figures
from cnnviz.lessons import PAGES
from cnnviz.models import store
from cnnviz.ui.session import error_boundary


def app_link(page: str, query: dict[str, str]) -> str:
    """The full URL of ``page`` (``""`` for Home) with ``query``, as this browser reaches the app.

    Without a browser (AppTest), the link is relative: ``/feature_maps?model=lenet5``.
    """
    here = st.context.url or ""
    scheme, netloc, path, _, _ = urlsplit(here)
    parts = [p for p in path.split("/") if p]
    if parts and parts[-1] in _page_paths():  # the app's root is the current page's parent
        parts.pop()
    root = "/".join([*parts, page]) if page else "/".join(parts)
    return urlunsplit((scheme, netloc, "/" + root, urlencode(query, safe=","), ""))


def _page_paths() -> set[str]:
    """The URL paths of the running app's pages (``st.navigation``'s), else :data:`PAGES`."""
    try:  # Streamlit keeps them only internally; what st.context.url itself trims with
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        pages = get_script_run_ctx().pages_manager.get_pages().values()
        found = {page.get("url_pathname", "") for page in pages} - {""}
    except Exception:  # another Streamlit version, or no script run
        found = set()
    return found or set(PAGES[1:])


@st.cache_resource(max_entries=64, show_spinner=False)
def _qr(url: str) -> bytes:
    return figures.qr_png(url)


def link_with_qr(url: str, caption: str, width: int = 160) -> None:
    """A link to copy and its QR code (made once per server per link)."""
    st.code(url, language=None, wrap_lines=True)
    st.image(_qr(url), caption=caption, width=width)


def _share(arch: str, checkpoint: bytes, key: str) -> None:
    with error_boundary("sharing the model"):
        shared = store.default_store().share(checkpoint)
        st.session_state[key] = (hashlib.sha256(checkpoint).hexdigest(), shared.ref, arch)


def share_with_class(arch: str, checkpoint: bytes, key: str = "train.share") -> None:
    """The "Share with the class" button for a trained model; once pressed, its link and QR code.

    The checkpoint goes to the server's shared-model store (:mod:`cnnviz.models.store`); the
    link ``/feature_maps?model=<arch>&weights=shared-<id>`` opens the same network for anyone,
    on every page, also after a restart of the server.
    """
    st.button(
        "Share with the class", key=key, on_click=_share, args=(arch, checkpoint, f"{key}.ref"),
        icon=":material/qr_code_2:",
        help="Stores this model on the server and gives a link and a QR code: anyone who "
        "opens it sees this network on every page.",
    )  # fmt: skip
    done = st.session_state.get(f"{key}.ref")
    if done is None or done[0] != hashlib.sha256(checkpoint).hexdigest():
        return  # not shared yet, or shared before another run
    url = app_link("feature_maps", {"model": done[2], "weights": done[1]})
    link_with_qr(url, "Scan to open this model on your phone")
