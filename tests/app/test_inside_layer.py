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
    assert charts(at) == {}  # bars and a table first: no plotly.js for a fresh tab
    bars = [b.proto.text for b in at.get("progress")]
    assert bars[0].startswith("3 — ")

    at = open_page("inside_layer", **DIGIT, **{"inside.softmax_chart": "true"})
    assert not at.exception
    logits = torch.from_numpy(steps.probe_logits(lenet_probe(), 10))
    table = at.table[0].value
    assert table["class"].iloc[0] == "3"
    shown = np.array([float(p.rstrip("%")) / 100 for p in table["probability"]])
    assert abs(shown.sum() - 1) < 1e-3
    np.testing.assert_allclose(
        table["logit z"].astype(float), logits[[int(c) for c in table["class"]]], atol=1e-3
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


def test_batch_norm_table_and_dropout_masks(open_page, charts, array):
    at = open_page("inside_layer", **DIGIT, **{"inside.norms": "true"})

    assert not at.exception
    table = next(d.value for d in at.dataframe if "mean, training" in d.value.columns)
    assert len(table) == 6  # LeNet-5's c1 channels
    assert np.allclose(table["mean, training"], 0, atol=1e-3)
    assert np.allclose(table["std, training"], 1, atol=1e-2)
    digits = [cnnviz.load_sample(f"digit_{d}") for d in range(10)]
    expected = steps.batch_norm_stats(cnnviz.load_model("lenet5"), digits, "features.c1")
    np.testing.assert_allclose(table["mean before"], expected.before_mean.round(3))

    rows = array(charts(at)["inside.dropout_chart"]["data"][0]["z"]).reshape(4, -1)
    before, kept, train, evaluated = rows
    np.testing.assert_allclose(evaluated, before)  # evaluation mode: no mask
    np.testing.assert_allclose(train, before * kept / 0.5)  # training: survivors x 1/(1-p)
    assert 0 < kept.mean() < 1
    at.slider(key="inside.dropout_p").set_value(0.0).run()
    rows = array(charts(at)["inside.dropout_chart"]["data"][0]["z"]).reshape(4, -1)
    assert rows[1].all()


def test_parameter_sharing_and_translation(open_page, charts, array):
    at = open_page("inside_layer", **DIGIT, **{"inside.sharing": "true"})

    assert not at.exception
    sharing = next(m.value for m in at.markdown if "fully connected, same input" in m.value)
    assert "(5·5·1 + 1)·6 = 156" in sharing
    assert "(1·32·32 + 1)·(6·28·28) = 4,821,600" in sharing
    chart = charts(at)["inside.shift_chart"]["data"][0]
    shifts = array(chart["x"])
    assert list(shifts) == list(range(-10, 11))
    assert chart["text"][10] == "3"
    at.slider(key="inside.shift").set_value(3).run()
    assert not at.exception
    captions = [c for image in at.get("image") for c in image.captions]
    assert any(c.startswith("shifted 3 px: says") for c in captions)
    zf = next(d.value for d in at.dataframe if "first layer" in d.value.columns)
    assert list(zf["output side (224 input)"].str.split("= ").str[-1]) == ["55", "110"]
