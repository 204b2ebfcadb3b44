"""Inside a layer: softmax, activation functions, batch norm and dropout, parameter sharing."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.ui import inside_views as iv

model, probe = ui.page_start(
    "Inside a layer",
    "What the pieces between the convolutions do, on the current model and image: how the last "
    "scores become probabilities, how activation functions bend the maps, what batch norm and "
    "dropout change between training and evaluation, and why a shifted digit is still a digit.",
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

norms = ui.section("Batch norm and dropout: training mode against evaluation mode", "inside.norms")
if norms is not None:
    with norms, ui.error_boundary("batch norm and dropout"):
        iv.batch_norm_section(model, probe)
        st.markdown("**Dropout** on the first fully connected layer's values")
        iv.dropout_section(probe)

sharing = ui.section("Parameter sharing and translation: shift the digit", "inside.sharing")
if sharing is not None:
    with sharing, ui.error_boundary("parameter sharing and translation"):
        image = ui.current_selection().image
        iv.sharing_section(model, probe, image)
        iv.translation_section(model, probe, image)
        st.markdown("**ZFNet's first layer against AlexNet's**")
        iv.first_layers_compared()
