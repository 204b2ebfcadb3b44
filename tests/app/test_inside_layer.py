"""Inside a layer page: softmax with a temperature, and activation functions on a real layer."""

from __future__ import annotations

import numpy as np
import torch

import cnnviz
from cnnviz import steps

DIGIT = {"model": "lenet5", "sample": "digit_3"}


def lenet_probe() -> cnnviz.Probe:
    return cnnviz.probe(cnnviz.load_model("lenet5"), cnnviz.load_sample("digit_3"))


def test_softmax_numbers_match_torch_and_follow_the_temperature(open_page, charts, array):
    at = open_page("inside_layer", **DIGIT)

    assert not at.exception
    logits = torch.from_numpy(steps.probe_logits(lenet_probe(), 10))
    table = at.dataframe[0].value
    assert table["class"].iloc[0] == "3"
    shown = np.array([float(p.rstrip("%")) / 100 for p in table["probability"]])
    assert abs(shown.sum() - 1) < 1e-3
    np.testing.assert_allclose(
        table["logit z"], logits[[int(c) for c in table["class"]]], atol=1e-3
    )
    bars = charts(at)["inside.softmax"]["data"][0]
    expected = torch.softmax(logits, 0).numpy()
    np.testing.assert_allclose(array(bars["x"]), expected[[int(c) for c in bars["y"]]], atol=1e-6)

    at.select_slider(key="inside.temperature").set_value(10.0).run()
    assert not at.exception
    bars = charts(at)["inside.softmax"]["data"][0]
    hot = torch.softmax(logits / 10, 0).numpy()
    np.testing.assert_allclose(array(bars["x"]), hot[[int(c) for c in bars["y"]]], atol=1e-6)
    assert "temperature 10" in charts(at)["inside.softmax"]["layout"]["title"]["text"]
    assert any("/ 10 −" in c.value for c in at.caption)


def test_activation_section_graphs_the_function_and_counts_zeros(open_page, charts, array):
    at = open_page("inside_layer", **DIGIT, **{"inside.acts": "true"})

    assert not at.exception
    c1 = lenet_probe().layer("features.c1").output
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Zeroed"] == f"{(c1 < 0).mean():.0%}"
    assert metrics["Negative before"] == f"{(c1 < 0).mean():.0%}"

    at.selectbox(key="inside.activation").set_value("sigmoid").run()
    assert not at.exception
    curve, slope = charts(at)["inside.curve"]["data"]
    x = array(curve["x"])
    np.testing.assert_allclose(array(curve["y"]), 1 / (1 + np.exp(-x)), atol=1e-9)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(array(slope["y"]), s * (1 - s), atol=1e-9)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Zeroed"] == "0%"
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("after sigmoid" in c for c in captions)
