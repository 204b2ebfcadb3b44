"""The step player in the page: a Streamlit v2 component (inline JS and CSS, no build, no iframe).

The JS and CSS are cnnviz's own files (``cnnviz/assets/ui/``), never user content; the data is a
:class:`cnnviz.figures.animation.StepPlayer` as JSON. A fresh tab draws it without plotly.js.
"""

from __future__ import annotations

from importlib import resources

import streamlit as st

from cnnviz.figures.animation import StepPlayer

NAME = "cnnviz.step_player"


def _asset(name: str) -> str:
    return resources.files("cnnviz").joinpath("assets", "ui", name).read_text(encoding="utf-8")


# Not in a shadow root: the CSS is scoped by its ``.cnnviz-player`` class, and the page's own
# styles (a presenter's larger type) and tests reach the player like any element.
_mount = st.components.v2.component(
    NAME, js=_asset("step_player.js"), css=_asset("step_player.css"), isolate_styles=False
)


def step_player(player: StepPlayer, key: str) -> None:
    """Draw ``player``: Play/Pause, ◀ ▶, a slider and the arrow keys, all in the browser."""
    _mount(data=player.data(), key=key, width="stretch", height="content")
