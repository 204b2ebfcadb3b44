"""Feature visualization: the picture each channel of a layer answers to most strongly."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.ui import feature_vis_views as fv

model, probe = ui.page_start(
    "Feature visualization",
    "What does a channel look for? Start from grey noise and change the picture, step by step, "
    "in the direction that makes that channel's activation grow (gradient ascent on the "
    "pixels). Small random shifts, a light blur and a penalty on pixel-to-pixel jumps keep the "
    "picture free of noise no photograph has.",
    untrained="Random filters look for random patterns: load trained weights to see what a "
    "network learned.",
)
with ui.error_boundary("the feature visualization"):
    layer, channels, steps_count = fv.controls(model, probe)
    results = fv.compute(model, layer, channels, steps_count)
    output = layer == list(fv.layer_choices(model, probe))[-1]
    fv.grid(model, results, output)
    st.caption(
        f"{len(results)} pictures optimized together, {steps_count} steps each. Early layers "
        "look for edges and strokes at one place; deeper layers for larger parts; the output "
        "layer for a whole class. The same channel gives the same picture for everyone (seed 0)."
    )

climb = ui.section("How each channel's activation climbed", "fv.climb")
if climb is not None:
    with climb, ui.error_boundary("the climb"):
        fv.climb(model, results)
