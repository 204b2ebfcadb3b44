"""Convolution: how one output number is computed, step by step, on toys and on real layers."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz import steps
from cnnviz.ui import steps_views as views

VIEWS = {
    "steps": "Step by step",
    "whole": "Whole image",
    "layer": "A real layer of the model",
}

model, probe = ui.page_start(
    "Convolution",
    "A kernel slides over the input. At each position it multiplies the numbers under it by its "
    "own numbers, adds the products up (plus a bias), and writes the sum into the output. "
    "Press Play, pause, or drag the slider.",
)
controls = ui.settings()  # folded away in presenter mode
view = controls.radio("View", list(VIEWS), format_func=VIEWS.get, horizontal=True, key="conv.view")

with ui.error_boundary("the convolution"):
    if view == "steps":
        with controls:
            x, described = views.conv_input()
            weight, kernel_label = views.conv_kernel(model, x.shape[0])
            settings = views.conv_settings()
        result = steps.conv_steps(
            x, weight, settings.bias, settings.stride, settings.padding, settings.dilation
        )
        channels = f", {x.shape[0]} channels" if x.shape[0] > 1 else ""
        st.subheader(
            f"{kernel_label[0].upper()}{kernel_label[1:]} on {described}{channels}: "
            f"{x.shape[1]} x {x.shape[2]} → {result.out_shape[0]} x {result.out_shape[1]}"
        )
        views.animation_chart(result, settings, "conv.animation")
        views.formulas(result, (x.shape[1], x.shape[2]))
        st.markdown("**Inspect one output position**")
        views.inspector(result, settings)
        # Drawn only when open: its code block makes the browser load a 1.5 MB highlighter.
        export = ui.section("Export: GIF for slides, PyTorch code for a notebook", "conv.export")
        if export is not None:
            with export:
                views.exports(result, settings)
    elif view == "whole":
        weight, kernel_label = views.conv_kernel(model, 1)
        st.subheader(f"{kernel_label[0].upper()}{kernel_label[1:]} beside a filter "
                     f"{model.spec.label} learned")  # fmt: skip
        views.whole_image(model, weight, kernel_label)
    else:
        st.subheader(f"Inside {model.spec.label}: a real layer, its real kernel and input")
        views.real_layer(model, probe)
