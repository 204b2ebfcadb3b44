"""Widgets and views of the Feature visualization page: what each channel of a layer looks for."""

from __future__ import annotations

import numpy as np
import streamlit as st

import cnnviz
from cnnviz import figures, steps
from cnnviz.explain import maximize_channels
from cnnviz.figures.function_charts import climb_figure
from cnnviz.ui.shared_views import made_once, shared, shared_jpeg

PAGE = "fv"
STEPS = (32, 64, 96, 160)


def layer_choices(model: cnnviz.Model, probe: cnnviz.Probe) -> dict[str, str]:
    """The convolutions, then the output layer (a class per unit), by name -> description."""
    choices = {}
    for name in steps.conv_layers(model):
        if name in probe.names:
            shape = probe.layer(name).shape
            choices[name] = f"{name} · {shape[0]} channels of {shape[1]} x {shape[2]}"
    last = next(x for x in reversed(probe.layers) if x.kind == "linear")
    choices[last.name] = f"{last.name} · the {last.shape[0]} classes (their scores)"
    return choices


def controls(model: cnnviz.Model, probe: cnnviz.Probe) -> tuple[str, tuple[int, ...], int]:
    """Layer, which channels (the first few) and how many optimization steps."""
    choices = layer_choices(model, probe)
    a, b, c = st.columns([3, 2, 2])
    names = list(choices)
    layer = a.selectbox(
        "Layer", names, index=max(0, len(names) - 2), key=f"{PAGE}.layer",
        format_func=choices.get, help="Starts on the last convolution: its channels look for "
        "larger, more telling patterns than the first layer's 5x5 strokes.",
    )  # fmt: skip
    count = probe.layer(layer).shape[0]
    small = model.spec.input_size <= 64
    default = min(count, 16 if small else 4)
    shown = b.slider("Channels", 1, min(count, 16 if small else 8), default, key=f"{PAGE}.count")
    first = c.number_input("From channel", 0, count - 1, 0, key=f"{PAGE}.first")
    channels = tuple(range(int(first), min(count, int(first) + int(shown))))
    steps_count = st.select_slider(
        "Optimization steps", STEPS, value=64 if small else 32, key=f"{PAGE}.steps"
    )
    return layer, channels, int(steps_count)


def compute(
    model: cnnviz.Model, layer: str, channels: tuple[int, ...], steps_count: int
) -> tuple[cnnviz.Maximization, ...]:
    """The maximizations, made once per server (a progress bar while they run)."""

    def make() -> tuple[cnnviz.Maximization, ...]:
        bar = st.progress(0.0, text=f"Optimizing {len(channels)} pictures…")
        try:
            return maximize_channels(
                model, layer, channels, cnnviz.MaximizeOptions(steps=steps_count),
                lambda done: bar.progress(done, text=f"Optimizing: {done:.0%}"),
            )  # fmt: skip
        finally:
            bar.empty()

    return made_once("fv.max", 32, (model.key, layer, channels, steps_count), make)


def grid(model: cnnviz.Model, results: tuple[cnnviz.Maximization, ...], output: bool) -> None:
    """The optimized pictures side by side, each captioned with its channel (or class)."""

    def build():
        arrays = np.stack([_chw(np.asarray(r.image)) for r in results])
        captions = [model.labels[r.channel] if output else f"#{r.channel}" for r in results]
        side = max(96, results[0].image.size[0])
        return figures.image_grid(arrays, captions, columns=min(8, len(results)), cell=side)

    key = ("fv.grid", model.key, results[0].layer, tuple(r.channel for r in results),
           len(results[0].history))  # fmt: skip
    st.image(shared_jpeg(lambda: shared(build, None, *key), None, *key), width="stretch")


def _chw(array: np.ndarray) -> np.ndarray:
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def climb(model: cnnviz.Model, results: tuple[cnnviz.Maximization, ...]) -> None:
    """Each channel's activation at every step."""
    key = (
        "fv.climb",
        model.key,
        results[0].layer,
        tuple(r.channel for r in results),
        len(results[0].history),
    )
    st.plotly_chart(shared(lambda: climb_figure(results), None, *key), key=f"{PAGE}.climb_chart")
