"""Compare: 2 to 4 architectures side by side on the same image."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.ui import compare_views as cv

st.title("Compare architectures")
ui.intro(
    "The same image through several networks, one column each: what they predict, where they "
    "look (Grad-CAM), and their maps at the first convolution, a middle stage and the last "
    "stage. Each network prepares the image its own way (size, colour, normalization): the "
    "picture at the top of a column is what that network sees."
)
selection = ui.current_selection()
if selection is None:
    st.stop()
with ui.error_boundary("the comparison"):
    names = ui.compare_models()
    probes = []
    for name, col in zip(names, st.columns(len(names)), strict=True):
        with col:
            probes.append(ui.compare_column(name, selection))
    ui.compare_table(names)
    found = [p for p in probes if p is not None]
    # In a closed section: a page with a chart draws nothing in a fresh tab until plotly.js has
    # loaded (seconds), the three columns above included.
    shapes = ui.section("The shapes through each network on one chart", "compare.shape")
    if found and shapes is not None:
        with shapes:
            ui.compare_shapes(found)

line = ui.section("The architecture line: LeNet-5 to EfficientNet, year by year", "compare.history")
if line is not None:
    with line, ui.error_boundary("the architecture line"):
        cv.architecture_line()
