"""Grad-CAM & saliency: which parts of the image made the network say this class?"""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.explain import METHODS, default_cam_layer
from cnnviz.ui import attribution_views as av

model, probe = ui.page_start(
    "Grad-CAM & saliency",
    "Which parts of this image made the network choose a class? Attribution maps answer by "
    "following the class score back to the pixels (or to a layer's maps). They are hints, not "
    "proof: the sanity check at the bottom shows which methods really depend on what the "
    "network learned.",
    untrained="The maps of this untrained network are meaningless too: they show what random "
    "filters react to, not why it chose a class.",
)
sel = av.selection()

with ui.error_boundary("the attribution map"):
    left, right = st.columns([2, 3])
    with left:
        method = av.method_select("method")
        with st.expander(f"How {METHODS[method].label} works", expanded=True):
            av.method_help(method)
    with right:
        target = av.target_select(probe, model)
        layer = av.layer_select(model) if METHODS[method].uses_layer else None
        options = av.method_options(method)
        colormap, opacity = av.view_controls()
    main = av.compute(model, sel, method, target, layer, options)
    av.show(probe, main, colormap, opacity, "main")

st.divider()
compare, top5, sanity = st.tabs(["Two methods side by side", "Top-5 classes", "Sanity check"])
with compare, ui.error_boundary("the comparison"):
    st.caption("The same class and layer, two methods: do they point at the same evidence?")
    a, b = st.columns(2)
    with a:
        first = av.method_select("compare.a", "Left", "gradcam")
        options_a = av.method_options(first, "compare.a")
    with b:
        second = av.method_select("compare.b", "Right", "saliency")
        options_b = av.method_options(second, "compare.b")
    layer_ab = layer or default_cam_layer(model)
    maps = (
        av.compute(model, sel, first, target, layer_ab, options_a),
        av.compute(model, sel, second, target, layer_ab, options_b),
    )
    for column, e, key in zip((a, b), maps, ("a", "b"), strict=True):
        with column:
            picture = av.fig.map_overlay(probe.image, e, colormap, opacity)
            st.image(picture, caption=av.caption(e), width=360)
            if e.note:
                st.info(e.note, icon=":material/info:")
            ui.png_download(picture, f"{e.method}_{e.label}.png", f"attr.compare.png.{key}")

with top5, ui.error_boundary("the top-5 maps"):
    st.caption(
        "Grad-CAM for each of the five most probable classes. If the maps look alike, the layer "
        "does not separate these classes; a good model points at different parts for each."
    )
    av.top_classes_row(model, probe, sel, layer or default_cam_layer(model), colormap)

with sanity, ui.error_boundary("the sanity check"):
    st.markdown(
        "**Sanity check** (Adebayo et al., 2018). Destroy what the network learned, layer by "
        "layer from the output down, and recompute the map for the same class. A map that "
        "explains the *model* must change (similarity falls towards 0); one that stays the "
        "same only shows the image's edges. Guided backpropagation famously fails this test. "
        "Similarity: Spearman's rank correlation (rank) and SSIM with the original map. The shared "
        "model is untouched: the check works on a copy."
    )
    av.sanity_view(model, probe, sel, method, target, layer, options, colormap)
