"""Home: what cnnviz shows, the current model and image at a glance, and the sample gallery."""

import streamlit as st

import cnnviz
import cnnviz.ui as ui
from cnnviz import figures

st.title("How does a convolutional network see?")
if not ui.presenting():  # a projector starts with the picture; the teacher says the rest
    st.markdown(
        "cnnviz runs a real network on a real image and shows what every layer computes. "
        "Pick a **model** and an **image** in the sidebar (or a sample below); every page uses "
        "them."
    )
    left, right = st.columns(2)
    left.markdown(
        "1. **Convolution** — a kernel sliding over a grid, step by step: the window, the "
        "products, the sum; on the textbook example, a crop of your image, or a real layer of "
        "the model.\n"
        "2. **Feature maps** — the maps each layer makes from your image, channel by channel, "
        "and how their shape shrinks and deepens.\n"
        "3. **Pooling** — what each pooling layer keeps and throws away: max vs average, and the "
        "global average that feeds the classifier.\n"
        "4. **Grad-CAM & saliency** — which parts of the image made the network decide, and a "
        "sanity check of those maps.\n"
        "5. **Training** — train a network on digits, shapes or your own images and watch it learn."
    )
    right.markdown(
        "**Tips.** Start with LeNet-5 and a digit: few layers, small maps — or choose **draw** in "
        "the sidebar and draw one yourself. Then try ResNet-18 on the cat, or TinyVGG on a "
        "drawn shape. The URL keeps your choices, so you can share a view with a class."
    )
    a, b, c, d = st.columns(4)
    a.page_link(
        "app_pages/convolution.py", label="Step through a convolution", icon=":material/blur_on:"
    )
    b.page_link(
        "app_pages/feature_maps.py", label="Open the feature maps", icon=":material/grid_view:"
    )
    c.page_link("app_pages/training.py", label="Train a network", icon=":material/model_training:")
    d.page_link(
        "app_pages/home.py", label="Teach it: a guided lesson", icon=":material/school:",
        query_params={"lesson": "how_a_cnn_sees", "step": "1"},
    )  # fmt: skip

selection = ui.current_selection()
if selection is not None:
    with ui.error_boundary("the prediction"):
        model = ui.current_model(selection)
        ui.model_banner(model, selection)
        probe = ui.cached_probe(model, selection)
        image_col, chart_col = st.columns([1, 2])
        top = probe.predictions[0]
        if probe.trained:
            image_col.subheader(f"It sees {top.label} ({figures.percent(top.probability)})")
            check = ui.shared(
                lambda: cnnviz.domain_check(model, selection.image),
                probe,
                "domain",
                selection.image_digest,
            )
            if not check.in_domain:
                image_col.warning(check.sentence, icon=":material/help:")
                with image_col.expander("Why cnnviz says so"):
                    st.markdown(
                        "cnnviz compares a few simple numbers measured on the image with "
                        f"those of {model.spec.label}'s training images:\n"
                        + "\n".join(f"- {reason}" for reason in check.failed)
                    )
        c, h, w = model.input_size
        image_col.image(
            ui.shared_jpeg(lambda: probe.image, probe, "input"),
            caption=f"What the network sees: {h} x {w}, {figures.plural(c, 'channel')}",
            width=280,
        )
        with chart_col:
            ui.top_predictions(probe)

st.subheader("Sample gallery")
st.caption(
    "Public-domain photos from scikit-image, handwritten digits from scikit-learn and shapes "
    "drawn by cnnviz."
)
ui.sample_gallery()
