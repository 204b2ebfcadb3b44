"""Home: what cnnviz shows, the current model and image at a glance, and the sample gallery."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz import figures

st.title("How does a convolutional network see?")
st.markdown(
    "cnnviz runs a real network on a real image and shows what every layer computes. "
    "Pick a **model** and an **image** in the sidebar (or a sample below); every page uses them."
)
left, right = st.columns(2)
left.markdown(
    "1. **Feature maps** — the maps each layer makes from your image, channel by channel, "
    "how their shape shrinks and deepens, and what the network predicts.\n"
    "2. **Pooling** — what each pooling layer keeps and throws away: max vs average, and the "
    "global average that feeds the classifier."
)
right.markdown(
    "**Tips.** Start with LeNet-5 and a digit: few layers, small maps. Then try ResNet-18 on "
    "the cat. The URL keeps your choices, so you can share a view with a class."
)
st.page_link(
    "app_pages/feature_maps.py", label="Open the feature maps", icon=":material/grid_view:"
)

selection = ui.current_selection()
if selection is not None:
    with ui.error_boundary("the prediction"):
        model = ui.current_model(selection)
        ui.model_banner(model, selection)
        probe = ui.cached_probe(model, selection)
        image_col, chart_col = st.columns([1, 2])
        c, h, w = model.input_size
        image_col.image(
            probe.image, caption=f"What the network sees: {h} x {w}, {c} channel(s)", width=280
        )
        chart_col.plotly_chart(
            figures.predictions_figure(probe.predictions, probe.trained), key="home.predictions"
        )

st.subheader("Sample gallery")
st.caption("Public-domain photos from scikit-image and handwritten digits from scikit-learn.")
ui.sample_gallery()
