"""AppTest fixtures: an empty torch hub cache, fresh Streamlit caches, page runners, chart and
player readers.

Every test runs the real entry point (``app.py``) and switches to a page, as a browser would. With
an empty ``TORCH_HOME`` no pretrained weights are found, so the default model is LeNet-5 with
random weights and nothing touches the network.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
STEP_PLAYER = "cnnviz.step_player"
TIMEOUT_S = 60  # building ResNet-18 and importing torch take seconds on a small CPU


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No weights cache, no network, and no cached models or probes left over from other tests."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    st.cache_data.clear()
    st.cache_resource.clear()


def _open(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    for name, value in query.items():
        at.query_params[name] = value
    if page is not None:
        at.switch_page(f"app_pages/{page}.py")
    return at.run()


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """``open_page("feature_maps", model="resnet18")``: run the app on a page, with URL params."""
    return _open


def plotly_array(value: Any) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly 6's ``{"dtype", "bdata"[, "shape"]}``."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(s) for s in str(value["shape"]).split(",")])
        return array
    return np.asarray(value)


def _by_key(elements: list, payload: Callable[[Any], str]) -> dict[str, dict]:
    """JSON payloads of elements, by their widget key (ids are "$$ID-<hash>-<user key>")."""
    return {e.proto.id.split("-", 2)[-1]: json.loads(payload(e.proto)) for e in elements}


@pytest.fixture
def charts() -> Callable[[AppTest], dict[str, dict]]:
    """``charts(at)``: the page's plotly figures as JSON, by their widget key."""
    return lambda at: _by_key(at.get("plotly_chart"), lambda proto: proto.spec)


@pytest.fixture
def players() -> Callable[[AppTest], dict[str, dict]]:
    """``players(at)``: the page's step players' data (``StepPlayer.data()``), by widget key."""

    def read(at: AppTest) -> dict[str, dict]:
        mine = [e for e in at.get("bidi_component") if e.proto.component_name == STEP_PLAYER]
        return _by_key(mine, lambda proto: proto.json)

    return read


@pytest.fixture
def array() -> Callable[[Any], np.ndarray]:
    """``array(trace["y"])``: decode a plotly JSON array."""
    return plotly_array


def _png(mode: str = "RGB", size: tuple[int, int] = (48, 40), transparent: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    if transparent:
        pixels[..., -1] = 255
        pixels[:, : size[0] // 2, -1] = 0  # the left half is fully transparent
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def png() -> Callable[..., bytes]:
    """``png(mode="RGB", size=(w, h), transparent=False)``: PNG bytes made in memory."""
    return _png


def texts(elements: Any) -> list[str]:
    return [str(e.value) for e in elements]


@pytest.fixture
def text() -> Callable[[Any], list[str]]:
    """``text(at.subheader)``: the values of a list of elements, as strings."""
    return texts
