"""Widgets of the Convolution page and the Pooling page's step view.

Every widget has a ``key="<page>.<field>"``; the numbers come from :mod:`cnnviz.steps`, the
pictures from :mod:`cnnviz.figures.animation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import cnnviz
from cnnviz import figures, steps
from cnnviz.figures import animation
from cnnviz.ui.session import current_selection, error_boundary
from cnnviz.ui.shared_views import shared
from cnnviz.ui.step_player import step_player

INPUTS = {
    "example": "worked example (5 x 5)",
    "digit": "a digit",
    "image": "crop of the current image",
    "grid": "a grid you edit",
}
KERNEL_CHOICES = [*steps.KERNELS, "custom", "learned"]
SPEEDS = {"slow": 1500, "normal": 800, "fast": 300, "auto": 0}


@dataclass(frozen=True, slots=True)
class ConvSettings:
    """Stride, padding, dilation, bias and the activation chosen on the page."""

    stride: int
    padding: int
    dilation: int
    bias: float
    activation: str
    frame_ms: int


def conv_input(page: str = "conv") -> tuple[np.ndarray, str]:
    """Choose what to convolve. Returns the input (C, H, W) and a short description."""
    source = st.radio(
        "Input", list(INPUTS), format_func=INPUTS.get, horizontal=True, key=f"{page}.input"
    )
    if source == "digit":
        a, b = st.columns(2)
        digit = a.selectbox("Digit", list(range(10)), index=3, key=f"{page}.digit")
        side = b.slider("Grid side (cells)", 5, 28, 10, key=f"{page}.digit_side")
        return steps.digit_grid(digit, side)[None], f"digit {digit} at {side} x {side}"
    if source == "image":
        selection = current_selection()
        if selection is None:
            st.stop()
        a, b, c, d, e = st.columns(5)
        side = a.slider("Grid side (cells)", 5, 64, 12, key=f"{page}.crop_side")
        zoom = b.slider("Crop (part of the image)", 0.05, 1.0, 0.2, 0.05, key=f"{page}.zoom")
        x = c.slider("Center x", 0.0, 1.0, 0.5, 0.05, key=f"{page}.crop_x")
        y = d.slider("Center y", 0.0, 1.0, 0.5, 0.05, key=f"{page}.crop_y")
        mode = e.radio("Colour", ["L", "RGB"], horizontal=True, key=f"{page}.crop_mode",
                       format_func={"L": "gray", "RGB": "RGB"}.get)  # fmt: skip
        crop = steps.image_crop(selection.image, side, zoom, (x, y), mode)
        return crop, f"{side} x {side} crop of {selection.image_label} ({mode})"
    if source == "grid":
        st.caption("Type numbers into the grid; the animation follows.")
        start = np.asarray(steps.WORKED_EXAMPLE).astype(int).tolist()
        edited = st.data_editor(start, key=f"{page}.grid", num_rows="fixed")
        return steps.grid_values(edited)[None], "your grid"
    return np.asarray(steps.WORKED_EXAMPLE)[None], "the worked example"


def conv_kernel(model: cnnviz.Model, channels: int, page: str = "conv") -> tuple[np.ndarray, str]:
    """Choose the kernel. Returns weights (1, channels, K, K) and a description."""
    learned_name = f"learned by {model.spec.label}"
    labels = {**steps.KERNEL_LABELS, "custom": "custom (edit it)", "learned": learned_name}
    a, b = st.columns([2, 1])
    choice = a.selectbox("Kernel", KERNEL_CHOICES, format_func=labels.get, key=f"{page}.kernel")
    if choice == "custom":
        start = steps.kernel("vertical_edge").astype(int).tolist()
        edited = st.data_editor(start, key=f"{page}.custom", num_rows="fixed")
        return steps.fit_channels(steps.grid_values(edited), channels), "your kernel"
    if choice == "learned":
        name, weights, _ = steps.first_conv(model)
        index = b.number_input(
            f"Filter of {name}", 0, weights.shape[0] - 1, 0, key=f"{page}.filter",
            help="The first convolution layer's learned filters (random if the weights are).",
        )  # fmt: skip
        fitted = steps.fit_channels(weights[index], channels)
        return fitted, f"filter {index} of {model.spec.label}'s {name}"
    return steps.fit_channels(steps.kernel(choice), channels), labels[choice]


def conv_settings(page: str = "conv") -> ConvSettings:
    """Stride, padding, dilation, bias, activation and speed."""
    a, b, c, d, e, f = st.columns(6)
    stride = a.number_input("Stride", 1, 5, 1, key=f"{page}.stride")
    padding = b.number_input("Padding", 0, 4, 0, key=f"{page}.padding")
    dilation = c.number_input("Dilation", 1, 4, 1, key=f"{page}.dilation")
    bias = d.number_input("Bias", -100.0, 100.0, 0.0, 0.5, key=f"{page}.bias")
    activation = e.selectbox(
        "Then", steps.activation_names(), format_func=steps.activation_label,
        key=f"{page}.activation", help="The activation applied to each output value.",
    )  # fmt: skip
    speed = f.selectbox("Speed", list(SPEEDS), index=1, key=f"{page}.speed")
    return ConvSettings(stride, padding, dilation, bias, activation, SPEEDS[speed])


def formulas(result: steps.ConvSteps, size: tuple[int, int]) -> None:
    """The output-size formula and the parameter count, with the numbers filled in."""
    k = result.kernel
    h = steps.output_size_formula(size[0], k, result.stride, result.padding, result.dilation)
    params = steps.param_count_formula(k, result.in_channels, result.out_channels, result.groups)
    st.markdown(
        f"**Output side** = floor((W + 2P − D(K−1) − 1) / S) + 1 = {h}  \n"
        f"**Parameters** = (K·K·C_in + 1)·C_out = {params}"
    )


def animation_chart(
    result: steps.ConvSteps,
    settings: ConvSettings,
    key: str,
    channel: int | None = None,
    title: str | None = None,
) -> None:
    """The step animation: it plays in the browser, with no rerun per step."""
    player = animation.conv_player(
        result, channel=channel, activation=settings.activation,
        frame_ms=settings.frame_ms or None, title=title,
    )  # fmt: skip
    step_player(player, key)  # says when it shows every r-th row and column of positions


def inspector(result: steps.ConvSteps, settings: ConvSettings, page: str = "conv") -> None:
    """Any one output position's arithmetic, computed on the server."""
    rows, cols = result.out_shape
    a, b, c = st.columns([1, 1, 6])
    row = a.number_input("Row", 0, rows - 1, 0, key=f"{page}.row")
    col = b.number_input("Column", 0, cols - 1, 0, key=f"{page}.col")
    step = result.step(int(row), int(col))
    text = animation.conv_equation(step, settings.activation, step.channels[0])
    c.markdown(text.replace("<br>", "  \n").replace("<b>", "**").replace("</b>", "**"))


@st.cache_data(max_entries=8, show_spinner="Drawing the GIF…")
def _conv_gif(digest: str, _result: steps.ConvSteps) -> bytes:
    return animation.conv_gif(_result)


@st.cache_data(max_entries=8, show_spinner="Drawing the GIF…")
def _pool_gif(digest: str, _result: steps.PoolSteps) -> bytes:
    return animation.pool_gif(_result)


def exports(result: steps.ConvSteps, settings: ConvSettings, page: str = "conv") -> None:
    """Download the animation as a GIF; the same convolution as PyTorch code.

    The GIF (about a second of drawing for a 64 x 64 crop) is made only when the button is
    pressed; the code is a string. So the page draws this even inside a closed expander.
    """
    st.download_button(
        "Download the animation (GIF)", lambda: _conv_gif(result.digest, result),
        file_name="convolution.gif", mime="image/gif", key=f"{page}.gif", on_click="ignore",
        icon=":material/download:",
    )  # fmt: skip
    st.code(steps.pytorch_code(result, settings.activation), language="python")


def whole_image(model: cnnviz.Model, weight: np.ndarray, label: str, page: str = "conv") -> None:
    """The chosen kernel and a learned filter of the model, each applied to the whole image."""
    selection = current_selection()
    if selection is None:
        st.stop()
    name, learned, _ = steps.first_conv(model)
    index = st.number_input(
        f"Learned filter of {name}", 0, learned.shape[0] - 1, 0, key=f"{page}.whole_filter"
    )
    left, middle, right = st.columns(3)
    middle.image(animation.map_image(learned[index].mean(axis=0), longest=160),
                 caption=f"filter {index} of {name} (mean over its input channels)")  # fmt: skip
    mine = steps.filter_image(selection.image, weight[0])
    theirs = steps.filter_image(selection.image, learned[index])
    left.image(animation.map_image(mine), width="stretch",
               caption=f"{label} on {selection.image_label}")  # fmt: skip
    right.image(animation.map_image(theirs), width="stretch",
                caption=f"filter {index} of {model.spec.label} on the same image")  # fmt: skip
    st.caption("Red: positive response, blue: negative, white: zero (each on its own scale).")


@st.cache_resource(max_entries=4, show_spinner="Recording the layer's input…")
def _layer_input(model_key: str, digest: str, name: str, _model: cnnviz.Model, _image):
    return steps.conv_layer_input(_model, _image, name)


def real_layer(model: cnnviz.Model, probe: cnnviz.Probe, page: str = "conv") -> None:
    """A real conv layer of the model on a patch of its real input, with its real kernel."""
    selection = current_selection()
    if selection is None:
        st.stop()
    names = list(steps.conv_layers(model))
    by_name = {x.name: x for x in probe.layers}
    a, b = st.columns([3, 1])
    name = a.selectbox("Convolution layer", names, key=f"{page}.layer",
                       format_func=lambda n: f"{n} — {by_name[n].description}"
                       if n in by_name else n)  # fmt: skip
    layer = by_name[name]
    channel = b.number_input("Output channel", 0, layer.shape[0] - 1, 0, key=f"{page}.out")
    c, d, e = st.columns(3)
    size = c.slider("Block (output cells)", 2, 12, 5, key=f"{page}.block")
    row = d.slider("Block row", 0, layer.shape[1] - 1, 0, key=f"{page}.block_row")
    col = e.slider("Block column", 0, layer.shape[2] - 1, 0, key=f"{page}.block_col")
    x = _layer_input(model.key, selection.image_digest, name, model, selection.image)
    patch = steps.layer_patch(model, x, name, int(channel), (int(row), int(col)), size)
    r0, c0 = patch.origin
    n_h, n_w = patch.steps.out_shape
    shown = st.selectbox(
        "Input channel shown", list(patch.channels), key=f"{page}.in_channel",
        help="The kernel reaches through all the input channels this filter reads; pick the "
        "slice to draw.",
    )  # fmt: skip
    first, last = patch.channels[0], patch.channels[-1]
    reads = f"input channel {first}" if first == last else f"input channels {first}–{last}"
    st.markdown(
        f"**{patch.kind.capitalize()} convolution**: output channel {channel} reads {reads}; "
        f"kernel {patch.steps.kernel} x {patch.steps.kernel}, stride {patch.steps.stride}, "
        f"padding {patch.steps.padding}, dilation {patch.steps.dilation}, groups "
        f"{patch.groups}. Block: rows {r0}–{r0 + n_h - 1}, columns {c0}–{c0 + n_w - 1} of "
        f"the {patch.out_size[0]} x {patch.out_size[1]} output map."
    )
    settings = ConvSettings(patch.steps.stride, patch.steps.padding, patch.steps.dilation,
                            float(patch.steps.bias[0]), "none", 0)  # fmt: skip
    title = (
        f"{name}, output channel {channel}: {patch.steps.kernel} x {patch.steps.kernel} kernel, "
        f"stride {patch.steps.stride}, padding {patch.steps.padding} → {n_h} x {n_w} block"
    )
    animation_chart(patch.steps, settings, f"{page}.layer_animation",
                    patch.channels.index(shown), title)  # fmt: skip
    _checked(name, patch.difference(layer.output))


def _checked(name: str, difference: float) -> None:
    st.caption(
        f"Checked against what {name} computed in the network: largest difference "
        f"{difference:.2g} (float rounding)."
    )


def pool_comparison(probe: cnnviz.Probe, layer: cnnviz.Layer, channel: int, colormap: str) -> None:
    """Max and average pooling of the same input channel, beside the input, on one scale."""
    compared = shared(lambda: steps.compare_pooling(layer), probe, "pool.compared", layer.name)
    span = compared.value_range(channel)
    names = ("input", "max pooling", "average pooling")
    for col, value, name in zip(st.columns(3), compared.channel(channel), names, strict=True):
        col.plotly_chart(
            shared(
                lambda value=value, name=name: figures.heatmap_figure(
                    value, f"{name} #{channel}", colormap, span
                ),
                probe, "pool.compare", layer.name, name, channel, colormap,
            ),
            key=f"pool.{name}",
        )  # fmt: skip
    st.caption(
        "Max pooling keeps the strongest response in each window (a feature is present "
        "somewhere here); average pooling keeps the mean (smoother, weaker peaks). All three "
        f"share one colour scale. {layer.name} itself is a {layer.type_name}."
    )


def pool_step_view(
    model: cnnviz.Model, layer: cnnviz.Layer, channel: int, page: str = "pool"
) -> None:
    """What the pooling layer itself computes, step by step, on one channel (the middle block
    of the map when it is large)."""
    with error_boundary("the pooling steps"):  # a failure here leaves the rest of the page
        try:
            patch = steps.pool_patch(model, layer, [channel])
        except cnnviz.InputError as refusal:  # a pooling the step view does not apply to
            st.info(str(refusal), icon=":material/info:")
            return
        result = patch.steps
        through = " Every window is one cell: the layer passes its input through."
        note = through if result.is_identity else ""
        st.caption(f"Channel #{channel} of {layer.name}'s input, {patch.region}.{note}")
        step_player(animation.pool_player(result), f"{page}.steps")
        _checked(layer.name, patch.difference(layer.output))
        st.download_button(
            "Download the animation (GIF)", lambda: _pool_gif(result.digest, result),
            file_name=f"{result.kind}_pooling.gif", mime="image/gif", key=f"{page}.gif",
            on_click="ignore", icon=":material/download:",
            help="The same steps as an animated GIF that loops, for slides.",
        )  # fmt: skip
