"""Inside a layer: softmax, activation functions, batch norm and dropout, parameter sharing."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.ui import inside_views as iv

model, probe = ui.page_start(
    "Inside a layer",
    "What the pieces between the convolutions do, on the current model and image: how the last "
    "scores become probabilities, how activation functions bend the maps, and more below.",
)
with ui.error_boundary("the softmax"):
    st.subheader("Softmax: from scores to probabilities")
    iv.softmax_section(model, probe)

# Sections below the first screen wait closed (state in the URL, so a link opens one).
activations = ui.section(
    "Activation functions: the graph, its slope, and a real layer", "inside.acts"
)
if activations is not None:
    with activations, ui.error_boundary("the activation functions"):
        iv.activation_section(probe)
