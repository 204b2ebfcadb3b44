"""Adversarial examples: a change too small to see that makes the network say something else."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz.ui import adversarial_views as av

model, probe = ui.page_start(
    "Adversarial examples",
    "Nudge every pixel a tiny step in the direction that hurts the network most (the sign of "
    "the loss's gradient with respect to the pixels) and the prediction can flip, though a "
    "person sees no difference. Epsilon is the largest change allowed per pixel.",
    untrained="An untrained network flips for any reason: load trained weights to see a real "
    "attack.",
)
selection = ui.current_selection()
with ui.error_boundary("the attack"):
    method, epsilon, target = av.controls(model)
    attack = av.compute(model, probe, selection.image, method, epsilon, target)
    av.show_attack(probe, attack)
    st.caption(
        "FGSM: x' = clip(x + ε·sign(∇ₓ loss), 0, 1), one step. PGD repeats ten smaller steps, "
        "each kept within ε of the original. The middle picture stretches the change so that "
        "±ε spans black to white: the attack touches almost every pixel, each a little."
    )

cams = ui.section("Grad-CAM before and after: where the network looks", "adv.cams")
if cams is not None:
    with cams, ui.error_boundary("the Grad-CAM maps"):
        av.gradcam_pair(model, probe, selection.image, attack)
        st.caption(
            "The network's attention barely moves: the attack does not draw a new digit, it "
            "pushes many small evidence values just past the decision boundary."
        )

rates = ui.section("Success rate over the bundled digits, for every epsilon", "adv.rates")
if rates is not None:
    with rates, ui.error_boundary("the success rate"):
        av.success_rates(model, epsilon)
