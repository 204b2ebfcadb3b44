"""Presenter mode: a projector layout for a teacher (``?present=1`` or the sidebar's toggle).

At 1280 x 720 on a projector every page's main picture must be on the first screen, in type a
class reads from the back of the room. Presenter mode therefore collapses the sidebar, leaves out
the page's introduction (the teacher says it), folds the page's settings into one closed
"Settings" section, except the control that drives the current step, and sets larger type.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

KEY = "present"
_ON = ("1", "true", "yes", "on")

# Larger type (1.5x the 16 px base), less padding above the title, the step player's numbers
# and equation larger; the sidebar starts collapsed (set_page_config in app.py).
_STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-left: 2.5rem;
  padding-right: 2.5rem; max-width: 100%; }
[data-testid="stMain"] h1 { font-size: 2.6rem; padding: 0 0 0.3rem 0; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 1.9rem; padding: 0.2rem 0; }
[data-testid="stMain"] .stMarkdown p, [data-testid="stMain"] .stMarkdown li,
[data-testid="stMain"] [data-testid="stCaptionContainer"],
[data-testid="stMain"] [data-testid="stWidgetLabel"] p,
[data-testid="stMain"] [data-testid="stImageCaption"],
[data-testid="stMain"] [data-testid="stExpander"] summary p,
[data-testid="stMain"] [data-testid="stProgress"] p { font-size: 1.5rem; line-height: 1.4; }
[data-testid="stMain"] .cnnviz-player { font-size: 1.5rem; --cnnviz-player-height: 0.4; }
[data-testid="stMain"] .cnnviz-player .title, [data-testid="stMain"] .cnnviz-player .note {
  display: none; }
</style>"""


def presenting() -> bool:
    """Whether presenter mode is on: the toggle's value, else the URL's ``?present=1``."""
    if KEY in st.session_state:
        return bool(st.session_state[KEY])
    return str(st.query_params.get(KEY, "")).lower() in _ON


def _keep_in_url() -> None:
    if st.session_state.get(KEY):
        st.query_params[KEY] = "1"
    else:
        st.query_params.pop(KEY, None)


def presenter_toggle() -> None:
    """The sidebar's switch; it keeps ``?present=1`` in the URL so the link reopens the same."""
    if KEY not in st.session_state:
        st.session_state[KEY] = presenting()
    st.sidebar.toggle(
        "Presenter mode", key=KEY, on_change=_keep_in_url,
        help="For a projector: larger type, the sidebar and the settings folded away, the "
        "picture on the first screen. The link keeps it (?present=1).",
    )  # fmt: skip
    if st.session_state[KEY]:
        st.query_params[KEY] = "1"  # also for a session that started from ?present=1
        st.html(_STYLE)


def sidebar_state() -> str:
    """``initial_sidebar_state`` for ``st.set_page_config``: collapsed when presenting."""
    return "collapsed" if presenting() else "auto"


def settings(label: str = "Settings") -> Any:
    """Where a page puts its settings: a closed section when presenting, else the page itself.

    Use it as a container: ``box = ui.settings()`` then ``box.radio(...)`` or ``with box:``.
    """
    if presenting():
        return st.expander(f":material/tune: {label}", expanded=False)
    return st.container()


def intro(text: str) -> None:
    """The page's short explanation, left out when presenting (the teacher says it)."""
    if not presenting():
        st.caption(text)
