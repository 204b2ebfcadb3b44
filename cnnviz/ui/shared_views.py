"""What every session shows alike, built once per server: encoded pictures and figures.

A class opens the same model on the same sample, so the JPEG of a feature grid or the plotly
figure of the predictions is the same for thirty students. Building it costs server CPU for each
of them (a plotly figure is tens of milliseconds of validation; a JPEG an encoding); built once
here (``st.cache_resource``: one object for every session, no pickled copy per caller), each
further session only sends it. Streamlit's media store keeps identical image bytes once, too.

Keys are ids, never arrays (DESIGN.md, caches): the probe's :attr:`cnnviz.Probe.key` (model
weights and image), then everything else the picture depends on (layer, channel, colormap...).
What is built must not be changed afterwards: figures and bytes here are only sent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

import streamlit as st
from PIL import Image

import cnnviz
from cnnviz import figures

T = TypeVar("T")

MAX_ENTRIES = 512
"""Views kept: a figure is tens of kB, a grid JPEG up to a few hundred; at most ~100 MB."""


@st.cache_resource(max_entries=MAX_ENTRIES, show_spinner=False)
def _built(key: tuple[Hashable, ...], _build: Callable[[], object]) -> object:
    return _build()


def shared(build: Callable[[], T], probe: cnnviz.Probe | None, *params: Hashable) -> T:
    """``build()``, run once per server for ``probe`` and ``params``, then shared by every session.

    Args:
        build: Makes the view (a figure, JPEG bytes...); called at most once per key while the
            entry is kept.
        probe: The probe the view shows (its key is part of the cache key), or ``None`` for a
            view of nothing session-specific (a bundled sample).
        *params: Everything else ``build`` depends on: a name for the kind of view first, then
            the layer, channel, colormap... Two views with equal keys must be equal.
    """
    key = (probe.key if probe is not None else None, *params)
    return cast(T, _built(key, build))


def shared_jpeg(
    image: Callable[[], Image.Image], probe: cnnviz.Probe | None, *params: Hashable
) -> bytes:
    """The JPEG bytes of ``image()``, encoded once per key (see :func:`shared`)."""
    return shared(lambda: figures.to_jpeg(image()), probe, "jpeg", *params)


class MadeOnce(Generic[T]):
    """Results shared by every session (immutable ones); past ``size`` the least recently used
    is dropped, and one result is made once even when a whole class asks for it at once.

    Not ``st.cache_resource`` around the computation: a slow result draws a progress bar while it
    runs, and a cached function records that bar and fails to replay it on the next hit
    (``CacheReplayClosureError``, so every rerun of a slow map broke the page).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple, T] = OrderedDict()
        self._making: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()  # sessions run in threads of their own

    def get(self, key: tuple) -> T | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get_or_make(self, key: tuple, make: Callable[[], T]) -> T:
        """The stored result for ``key``, else ``make()``'s; a second asker waits for the first."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        try:
            with making:
                found = self.get(key)  # made by another session while this one waited
                if found is None:
                    found = make()
                    with self._lock:
                        self._items[key] = found
                        while len(self._items) > self._size:
                            self._items.popitem(last=False)
                return found
        finally:
            with self._lock:
                if self._making.get(key) is making:
                    del self._making[key]


@st.cache_resource(show_spinner=False)  # one store per name for the server
def _store(name: str, size: int) -> MadeOnce:
    return MadeOnce(size)


def made_once(name: str, size: int, key: tuple[Hashable, ...], make: Callable[[], T]) -> T:
    """``make()``, run once per server for ``key`` in the store called ``name`` (``size``
    results kept), then shared by every session; unlike :func:`shared`, ``make`` may draw a
    progress bar while it runs (see :class:`MadeOnce`)."""
    return cast(T, _store(name, size).get_or_make(key, make))
