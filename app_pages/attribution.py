"""Grad-CAM & saliency: which parts of the image made the network say this class?"""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.explain import METHODS, default_cam_layer
from cnnviz.ui import attribution_views as av

model, probe = ui.page_start(
    "Grad-CAM & saliency",
    "Which parts of this image made the network choose a class? Attribution maps answer by "
    "following the class score back to the pixels (or to a layer's maps). They are hints, not "
    "proof: the sanity check in the last tab below shows which methods really depend on what "
    "the network learned.",
    untrained="The maps of this untrained network are meaningless too: they show what random "
    "filters react to, not why it chose a class.",
)
sel = av.selection()

with ui.error_boundary("the attribution map"):
    with ui.settings():  # folded away in presenter mode
        left, right = st.columns([2, 3])
        with left:
            method = av.method_select("method")
            if not ui.presenting():  # the teacher explains it (and expanders do not nest)
                with st.expander(
                    f"How {METHODS[method].label} works", expanded=True, key="attr.how"
                ):
                    av.method_help(method)  # a paragraph and a formula: cheap, always drawn
        with right:
            target = av.target_select(probe, model)
            layer = av.layer_select(model) if METHODS[method].uses_layer else None
            options = av.method_options(method)
            colormap, opacity = av.view_controls()
    main = av.compute(model, sel, method, target, layer, options)
    av.show(probe, main, colormap, opacity, "main")

st.divider()
# Only the open tab runs (each closed one would cost a map or five on every run); the open tab
# is in the URL, so a link can open the sanity check.
compare, top5, sanity = st.tabs(av.TABS, key="attr.tab", on_change="rerun", bind="query-params")
if compare.open:
    with compare, ui.error_boundary("the comparison"):
        av.compare_view(
            model, probe, sel, target, layer or default_cam_layer(model), colormap, opacity
        )

if top5.open:
    with top5, ui.error_boundary("the top-5 maps"):
        st.caption(
            "Grad-CAM for each of the five most probable classes. If the maps look alike, the "
            "layer does not separate these classes; a good model points at different parts for "
            "each."
        )
        av.top_classes_row(model, probe, sel, layer or default_cam_layer(model), colormap)

if sanity.open:
    with sanity, ui.error_boundary("the sanity check"):
        st.markdown(
            "**Sanity check** (Adebayo et al., 2018). Destroy what the network learned, layer by "
            "layer from the output down, and recompute the map for the same class. A map that "
            "explains the *model* must change (similarity falls towards 0); one that stays the "
            "same only shows the image's edges. Guided backpropagation famously fails this test. "
            "Similarity: Spearman's rank correlation (rank) and SSIM with the original map. The "
            "shared model is untouched: the check works on a copy."
        )
        av.sanity_view(model, probe, sel, method, target, layer, options, colormap)
