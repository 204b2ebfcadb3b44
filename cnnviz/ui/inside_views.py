"""Sections of the "Inside a layer" page: softmax, activation functions, batch norm and dropout,
parameter sharing and translation. Each draws what the library computed for the current model
and image, with a short explanation beside it."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

import cnnviz
from cnnviz import figures, steps
from cnnviz.figures.function_charts import (
    activation_figure,
    softmax_figure,
    translation_figure,
)
from cnnviz.nets import ACTIVATIONS
from cnnviz.ui.shared_views import made_once, shared, shared_jpeg

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
    own = steps.softmax_steps(logits, 1.0, model.labels).probabilities
    top = s.order(10)
    with chart:  # bars, not a chart: a fresh tab draws them without loading plotly.js
        st.markdown(f"**Softmax at temperature {temperature:g}** (the network's own: T = 1)")
        for i in top[:6]:
            st.progress(
                float(s.probabilities[i]),
                text=f"{s.labels[i]} — {s.probabilities[i]:.2%} (at T = 1: {own[i]:.2%})",
            )
    st.table(
        {
            "class": [s.labels[i] for i in top],
            "logit z": [f"{float(s.logits[i]):.4f}" for i in top],
            "z/T − max": [f"{float(s.shifted[i]):.4f}" for i in top],
            "exp(z/T − max)": [f"{s.exps[i]:.4g}" for i in top],
            "probability": [f"{s.probabilities[i]:.2%}" for i in top],
        },
        hide_index=True,
    )
    plotted = st.expander(
        "The same as a chart", key=f"{PAGE}.softmax_chart", on_change="rerun",
        bind="query-params",
    )  # fmt: skip
    if plotted.open:
        plotted.plotly_chart(
            shared(lambda: softmax_figure(s), probe, "softmax", temperature), key=f"{PAGE}.softmax"
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


def _batch_kind(model: cnnviz.Model) -> str:
    if model.labels == tuple("0123456789"):
        return "digit"
    return "shape" if model.name == "tinyvgg" else "photo"


def batch_norm_section(model: cnnviz.Model, probe: cnnviz.Probe) -> None:
    """Channel statistics before and after batch norm, in training and in evaluation mode."""
    layers = steps.preactivation_layers(probe)
    if not layers:
        st.info("This network has no convolution maps to normalize.")
        return
    kind = _batch_kind(model)
    keys = [s.key for s in cnnviz.list_samples() if s.kind == kind]
    name = st.selectbox(
        "Batch-normalize the maps of", [x.name for x in layers], key=f"{PAGE}.bn_layer"
    )
    stats = made_once(
        "inside.bn", 32, (model.key, name, tuple(keys)),
        lambda: steps.batch_norm_stats(model, [cnnviz.load_sample(k) for k in keys], name),
    )  # fmt: skip
    st.markdown(
        f"A batch of the {stats.images} bundled {kind} samples goes through the network; "
        f"{name}'s maps then pass through {stats.norm}. **Training mode** uses this batch's "
        "own mean and spread per channel: every channel comes out with mean 0 and standard "
        "deviation 1 (then scaled by the learned γ and shifted by β). **Evaluation mode** uses "
        "the averages remembered during training, so one image's answer does not depend on "
        "the others in its batch."
    )
    st.latex(r"y = \gamma\,\frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta")
    st.dataframe(
        {
            "channel": list(range(len(stats.before_mean))),
            "mean before": stats.before_mean.round(3),
            "std before": stats.before_std.round(3),
            "mean, training": stats.train_mean.round(3),
            "std, training": stats.train_std.round(3),
            "mean, evaluation": stats.eval_mean.round(3),
            "std, evaluation": stats.eval_std.round(3),
        },
        hide_index=True,
        key=f"{PAGE}.bn_table",
    )


def dropout_section(probe: cnnviz.Probe) -> None:
    """Dropout masks on a real vector: random zeros while training, none in evaluation."""
    vectors = [x for x in probe.layers if x.kind == "linear" and x.shape[0] > 10]
    if not vectors:
        st.info("This network has no fully connected layer before its output.")
        return
    layer = vectors[0]
    a, b = st.columns(2)
    p = a.slider("Dropout probability p", 0.0, 0.9, 0.5, 0.1, key=f"{PAGE}.dropout_p")
    seed = b.number_input("Mask number (a new random mask)", 0, 999, 0, key=f"{PAGE}.seed")
    d = steps.dropout_steps(layer.output, float(p), int(seed))
    rows = np.stack([d.before, d.kept.astype(float), d.train, d.eval])[:, :64]
    st.plotly_chart(
        figures.heatmap_figure(rows, f"{layer.name}: first {rows.shape[1]} values"),
        key=f"{PAGE}.dropout_chart",
    )
    st.caption(
        "Rows, top to bottom: the values; training mode's mask (1 kept, 0 dropped); training "
        f"mode's output, the survivors × 1/(1 − p) = ×{1 / (1 - d.p):.2f} so the sum stays the "
        f"same on average; evaluation mode's output (nothing dropped). Dropped here: "
        f"{(~d.kept).mean():.0%} of {len(d.kept)} values. Each training step draws a new mask, "
        "so no unit can rely on any other: a remedy for overfitting."
    )


def sharing_section(model: cnnviz.Model, probe: cnnviz.Probe, image: Image.Image) -> None:
    """A convolution's parameters against a fully connected layer with the same shapes."""
    convs = [x for x in probe.layers if x.kind == "conv" and x.geometry is not None and x.is_map]
    if not convs:
        st.info("This network has no convolution.")
        return
    by_name = {x.name: x for x in convs}
    layer = by_name[st.selectbox("Convolution", list(by_name), key=f"{PAGE}.share_layer")]
    g = layer.geometry
    in_shape = tuple(
        shared(
            lambda: steps.conv_layer_input(model, image, layer.name).shape, probe, "in", layer.name
        )
    )
    c_in, c_out = in_shape[0], layer.shape[0]
    bias = layer.params != steps.param_count(g.kernel, c_in, c_out, g.groups, bias=False)
    conv = steps.param_count_formula(g.kernel, c_in, c_out, g.groups, bias)
    dense = steps.dense_param_count_formula(in_shape, layer.shape)
    ratio = steps.dense_param_count(in_shape, layer.shape) / max(1, layer.params)
    st.markdown(
        f"**{layer.name}** reads {' x '.join(map(str, in_shape))} and writes "
        f"{' x '.join(map(str, layer.shape))}. A convolution slides one {g.kernel}x{g.kernel} "
        "kernel per input and output channel over every position: the same numbers are "
        "*shared* by all positions.\n\n"
        f"- convolution: `{conv}` parameters\n"
        f"- fully connected, same input and output shapes: `{dense}` parameters\n\n"
        f"The fully connected layer would need **{ratio:,.0f} times** as many numbers, and what "
        "it learned at one place would not carry over to another."
    )


def translation_section(model: cnnviz.Model, probe: cnnviz.Probe, image: Image.Image) -> None:
    """Shift the image: the first layer's maps shift with it, the prediction stays (for a while)."""
    first = steps.first_conv_name(model.module)
    if first is None or first not in probe.names:
        st.info("This network has no convolution to watch.")
        return
    side = model.spec.input_size
    reach = max(4, min(16, side // 3))
    shift = st.slider("Shift the image (pixels to the right)", -reach, reach, 0,
                      key=f"{PAGE}.shift")  # fmt: skip
    t = made_once(
        "inside.shift", 32, (probe.key, first, reach),
        lambda: steps.translation(model, image, first, range(-reach, reach + 1)),
    )  # fmt: skip
    moved = t.at(int(shift))
    left, right = st.columns([1, 3])
    left.image(
        shared_jpeg(lambda: figures.thumbnail(moved.image, 160), probe, "shift", shift),
        caption=f"shifted {shift} px: says {moved.prediction.label} "
        f"({moved.prediction.probability:.0%})",
    )  # fmt: skip
    grid = shared(
        lambda: figures.feature_grid(moved.maps, range(min(6, moved.maps.shape[0])), columns=6),
        probe, "shift.grid", first, shift,
    )  # fmt: skip
    right.image(
        shared_jpeg(lambda: grid.image, probe, "shift.grid", first, shift),
        caption=f"{first}'s maps of the shifted image: they move with it, pixel for pixel",
        width="stretch",
    )
    st.plotly_chart(
        shared(lambda: translation_figure(t, int(shift)), probe, "shift.chart", shift),
        key=f"{PAGE}.shift_chart",
    )
    low, high = t.stable
    st.caption(
        "A convolution does the same thing everywhere, so its maps shift with the image "
        "(equivariance); pooling and the fully connected layers then make the answer barely "
        f"care where the digit is (invariance) — from {low} to {high} pixels here. Further "
        "out, parts of the digit leave the picture or land where the network never saw strokes "
        "during training, and the answer changes."
    )


def first_layers_compared() -> None:
    """ZFNet's first layer against AlexNet's: kernel, stride, output side and parameters."""
    rows = {"network": [], "first layer": [], "output side (224 input)": [], "parameters": []}
    for name, kernel, stride, padding, filters in (
        ("AlexNet (2012)", 11, 4, 2, 96),
        ("ZFNet (2013)", 7, 2, 1, 96),
    ):
        rows["network"].append(name)
        rows["first layer"].append(f"{filters} filters {kernel}x{kernel}, stride {stride}")
        rows["output side (224 input)"].append(
            steps.output_size_formula(224, kernel, stride, padding)
        )
        rows["parameters"].append(steps.param_count_formula(kernel, 3, filters))
    st.dataframe(rows, hide_index=True, key=f"{PAGE}.zf_table")
    st.caption(
        "Zeiler and Fergus looked at AlexNet's first-layer filters with their deconvnet and saw "
        "dead filters and aliasing from the large stride; smaller 7x7 filters with stride 2 "
        "see finer detail (110 x 110 maps instead of 55 x 55) with fewer weights each. AlexNet "
        "as in the 2012 paper (96 filters; torchvision's has 64). The deconvnet is on the "
        "Grad-CAM & saliency page; `zfnet` is in the model list (random weights)."
    )
