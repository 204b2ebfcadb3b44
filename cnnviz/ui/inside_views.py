"""Sections of the "Inside a layer" page: softmax, activation functions, batch norm and dropout,
parameter sharing and translation. Each draws what the library computed for the current model
and image, with a short explanation beside it."""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import figures, steps
from cnnviz.figures.function_charts import activation_figure, softmax_figure
from cnnviz.nets import ACTIVATIONS
from cnnviz.ui.shared_views import shared, shared_jpeg

PAGE = "inside"
SHOWN_CHANNELS = 8


def softmax_section(model: cnnviz.Model, probe: cnnviz.Probe) -> None:
    """Logits -> exp -> normalize for the current prediction, with a temperature slider."""
    logits = steps.probe_logits(probe, len(model.labels))
    text, chart = st.columns([2, 3])
    with text:
        st.markdown(
            "The last layer gives one raw score per class, a **logit** `z` (any real number). "
            "Softmax turns them into probabilities: raise `e` to each score, then divide by the "
            "sum, so every value is positive and they add up to 1. The **temperature** `T` "
            "divides the scores first: a high `T` evens the classes out, a low `T` makes the "
            "top class take everything."
        )
        st.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
        temperature = st.select_slider(
            "Temperature T", [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0], value=1.0,
            key=f"{PAGE}.temperature",
        )  # fmt: skip
    s = steps.softmax_steps(logits, float(temperature), model.labels)
    with chart:
        st.plotly_chart(
            shared(lambda: softmax_figure(s), probe, "softmax", temperature), key=f"{PAGE}.softmax"
        )
    top = s.order(10)
    st.dataframe(
        {
            "class": [s.labels[i] for i in top],
            "logit z": [round(float(s.logits[i]), 4) for i in top],
            "z/T − max": [round(float(s.shifted[i]), 4) for i in top],
            "exp(z/T − max)": [f"{s.exps[i]:.4g}" for i in top],
            "probability": [f"{s.probabilities[i]:.2%}" for i in top],
        },
        hide_index=True,
        key=f"{PAGE}.softmax_table",
    )
    st.caption(
        f"The exps add up to {s.total:.4g}; written out for the top class: `{s.formula(top[0])}`. "
        "Subtracting the largest score first changes no probability (it cancels in the "
        "fraction) but keeps e^z from overflowing, as every framework does."
        + (f" (Top {len(top)} of {len(s.labels)} classes shown.)" if len(s.labels) > 10 else "")
    )


def activation_section(probe: cnnviz.Probe) -> None:
    """An activation's graph and slope, and what it does to a real layer's pre-activation maps."""
    names = list(ACTIVATIONS)
    left, right = st.columns([2, 3])
    with left:
        name = st.selectbox(
            "Activation function", names, key=f"{PAGE}.activation",
            format_func=steps.activation_label,
        )  # fmt: skip
        st.markdown(
            "Without an activation, stacked layers collapse into one linear map. The function "
            "bends each value; its **slope** (dashed) is what backpropagation multiplies the "
            "gradient by: where it is 0 (ReLU below 0) nothing flows back, where it is tiny "
            "(sigmoid and tanh far from 0) the gradient fades — the vanishing gradient."
        )
    with right:
        st.plotly_chart(
            shared(lambda: activation_figure(steps.activation_curve(name)), None, "act", name),
            key=f"{PAGE}.curve",
        )
    layers = steps.preactivation_layers(probe)
    if not layers:
        st.info("This network has no convolution maps to apply the function to.")
        return
    by_name = {x.name: x for x in layers}
    layer = by_name[
        st.selectbox(
            "Applied to the maps of", list(by_name), key=f"{PAGE}.act_layer",
            format_func=lambda n: f"{n} ({' x '.join(map(str, by_name[n].shape))}, "
            "what the network computed before its activation)",
        )
    ]  # fmt: skip
    effect = shared(lambda: steps.activation_effect(layer, name), probe, "effect", layer.name, name)
    cols = st.columns(3)
    cols[0].metric("Negative before", f"{effect.negative:.0%}")
    cols[1].metric("Zeroed", f"{effect.zeroed:.0%}")
    cols[2].metric("Squashed (made smaller)", f"{effect.squashed:.0%}")
    channels = list(range(min(SHOWN_CHANNELS, layer.shape[0])))
    for column, (title, maps) in zip(
        st.columns(2), (("before", effect.before), (f"after {effect.name}", effect.after)),
        strict=True,
    ):  # fmt: skip
        grid = shared(
            lambda maps=maps: figures.feature_grid(maps, channels, "viridis", columns=4),
            probe, "act.grid", layer.name, name, title,
        )  # fmt: skip
        column.image(
            shared_jpeg(lambda grid=grid: grid.image, probe, "act.grid", layer.name, name, title),
            caption=f"{layer.name} {title}: {grid.scale_note}",
            width="stretch",
        )
