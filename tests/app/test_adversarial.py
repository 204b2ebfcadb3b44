"""Adversarial examples page: the attack, the flip, Grad-CAM before and after, success rates."""

from __future__ import annotations

import numpy as np

import cnnviz
from cnnviz.explain import attack_success

DIGIT = {"model": "lenet5", "sample": "digit_3"}


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_epsilon_zero_changes_nothing_and_pgd_flips_the_three(open_page):
    at = open_page("adversarial", **DIGIT)
    assert not at.exception
    top = cnnviz.probe(cnnviz.load_model("lenet5"), cnnviz.load_sample("digit_3")).predictions[0]
    assert metrics(at)["Before"].startswith(f"{top.label} (")

    at.slider(key="adv.epsilon").set_value(0.0).run()
    assert not at.exception
    assert metrics(at)["After"] == metrics(at)["Before"]
    assert metrics(at)["Pixel values changed"] == "0%"
    assert "Still" in at.success[0].value

    at.radio(key="adv.method").set_value("pgd")
    at.slider(key="adv.epsilon").set_value(0.3).run()
    assert not at.exception
    flipped = cnnviz.attack(cnnviz.load_model("lenet5"), cnnviz.load_sample("digit_3"), "pgd", 0.3)
    assert flipped.success
    assert metrics(at)["After"].startswith(f"{flipped.after.label} (")
    assert "Flipped" in at.error[0].value


def test_gradcam_pair_and_success_rates_over_the_digits(open_page, charts, array):
    at = open_page("adversarial", **DIGIT, **{"adv.cams": "true", "adv.rates": "true"})

    assert not at.exception
    captions = [c for image in at.get("image") for c in image.captions]
    assert sum(c.startswith("Grad-CAM before") for c in captions) == 1
    assert sum(c.startswith("Grad-CAM after") for c in captions) == 1
    fgsm, pgd = charts(at)["adv.rates_chart"]["data"][:2]
    assert fgsm["name"].startswith("FGSM")
    x, y = array(fgsm["x"]), array(fgsm["y"])
    assert y[0] == 0.0
    digits = [cnnviz.load_sample(f"digit_{d}") for d in range(10)]
    k = int(np.argmin(np.abs(x - 0.2)))
    assert y[k] == attack_success(cnnviz.load_model("lenet5"), digits, "fgsm", float(x[k]))
    assert array(pgd["y"])[-1] >= y[-1]
