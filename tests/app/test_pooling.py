"""Pooling page: the window arithmetic, max vs average heatmaps, and global average pooling."""

from __future__ import annotations

import numpy as np

from cnnviz import steps
from cnnviz.figures import animation

HEATMAPS = ("pool.input", "pool.max pooling", "pool.average pooling")
OPEN = {"pool.compare": "true", "pool.stepwise": "true", "pool.gap": "true"}
"""The page's closed sections, opened by the URL (as a teacher's link does)."""


def windows(z: np.ndarray, k: int) -> np.ndarray:
    """Non-overlapping k x k windows of a map: (H/k, W/k, k*k)."""
    h, w = z.shape
    return z.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3).reshape(h // k, w // k, k * k)


def test_sections_are_closed_at_first_and_draw_no_chart(open_page, charts, monkeypatch):
    compared = []
    monkeypatch.setattr(steps, "compare_pooling", lambda *a: compared.append(a))
    at = open_page("pooling")

    assert not at.exception
    assert charts(at) == {}  # no plotly.js before the grids are drawn in a fresh tab
    assert compared == []
    assert len([c for image in at.get("image") for c in image.captions]) == 2  # the grids
    assert [e.label.split(":")[0] for e in at.main.expander][-3:] == [
        "Max vs average pooling on the same input",
        "Step by step",
        "Global average pooling",
    ]


def test_lenet5_pooling_layer_formula_and_heatmaps(open_page, text, charts, array):
    at = open_page("pooling", **OPEN)

    assert not at.exception
    assert text(at.title) == ["Pooling"]
    assert at.selectbox(key="pool.layer").value == "features.s2"
    (formula,) = [m for m in text(at.markdown) if m.startswith("**features.s2**")]
    assert "window 2 x 2, stride 2, padding 0" in formula
    assert "floor((28 + 2·0 − 1·(2 − 1) − 1) / 2) + 1 = 14**" in formula
    assert "Max vs average pooling on the same input" in [e.label for e in at.expander]

    figures = charts(at)
    titles = [figures[key]["layout"]["title"]["text"] for key in HEATMAPS]
    assert titles == ["input #0", "max pooling #0", "average pooling #0"]
    z_in, z_max, z_avg = (array(figures[key]["data"][0]["z"]) for key in HEATMAPS)
    assert z_in.shape == (28, 28)
    assert z_max.shape == z_avg.shape == (14, 14)
    np.testing.assert_allclose(z_max, windows(z_in, 2).max(axis=2), rtol=0, atol=0)
    np.testing.assert_allclose(z_avg, windows(z_in, 2).mean(axis=2), rtol=1e-6, atol=1e-6)
    captions = [c for image in at.get("image") for c in image.captions]
    assert len(captions) == 2
    assert captions[0].startswith("Input")
    assert "6 x 28 x 28" in captions[0]
    assert captions[1].startswith("Output")
    assert "6 x 14 x 14" in captions[1]


def test_channel_choice_changes_the_heatmaps(open_page, charts):
    at = open_page("pooling", **OPEN)
    at.selectbox(key="pool.channel").set_value(3).run()

    assert not at.exception
    figures = charts(at)
    titles = [figures[key]["layout"]["title"]["text"] for key in HEATMAPS]
    assert titles == ["input #3", "max pooling #3", "average pooling #3"]


def test_lenet5_second_pooling_layer(open_page, text):
    at = open_page("pooling", **OPEN)
    at.button(key="pool.next").click().run()

    assert not at.exception
    assert at.selectbox(key="pool.layer").value == "features.s4"
    (formula,) = [m for m in text(at.markdown) if m.startswith("**features.s4**")]
    assert formula.endswith("floor((10 + 2·0 − 1·(2 − 1) − 1) / 2) + 1 = 5**.")


def test_lenet5_has_no_global_average_pooling(open_page, text, charts):
    at = open_page("pooling", **OPEN)

    assert not at.exception
    assert "Global average pooling: the vector the classifier reads" in [
        e.label for e in at.expander
    ]
    assert "pool.vector" not in charts(at)
    assert text(at.info) == ["LeNet-5 has no global pooling: its classifier reads whole maps."]


def test_tinyvgg_pooling_layers(open_page, text, charts):
    at = open_page("pooling", **OPEN, model="tinyvgg")

    assert not at.exception
    assert at.selectbox(key="pool.layer").options == [
        "5. features.pool1 — MaxPool2d 10 x 30 x 30",
        "10. features.pool2 — MaxPool2d 10 x 13 x 13",
    ]
    assert any(m.endswith("= 30**.") for m in text(at.markdown))
    at.button(key="pool.next").click().run()
    assert any(
        m.endswith("floor((26 + 2·0 − 1·(2 − 1) − 1) / 2) + 1 = 13**.") for m in text(at.markdown)
    )


def test_resnet18_pooled_vector_has_512_bars(open_page, text, charts, players, array):
    at = open_page("pooling", **OPEN, model="resnet18", sample="chelsea")

    assert not at.exception
    assert at.selectbox(key="pool.layer").value == "maxpool"
    assert any(
        m.startswith("**maxpool**") and m.endswith("/ 2) + 1 = 56**.") for m in text(at.markdown)
    )
    assert any("512 values (taken at `avgpool`)" in m for m in text(at.markdown))
    vector = charts(at)["pool.vector"]
    assert vector["layout"]["title"]["text"] == "Pooled vector (512 channels)"
    bars = array(vector["data"][0]["y"])
    assert bars.shape == (512,)
    assert np.isfinite(bars).all()

    at.button(key="pool.next").click().run()  # the adaptive average pool
    assert not at.exception
    assert at.selectbox(key="pool.layer").value == "avgpool"
    assert any("so that 7 x 7 becomes 1 x 1" in m for m in text(at.markdown))
    z_in, z_avg = (array(charts(at)[k]["data"][0]["z"]) for k in HEATMAPS[::2])
    assert z_avg.shape == (1, 1)
    np.testing.assert_allclose(z_avg[0, 0], z_in.mean(), rtol=1e-5)

    # The step view shows what avgpool computes: one window, the whole 7 x 7 map, averaged.
    player = players(at)["pool.steps"]
    assert player["title"] == "Global average pooling: 7 x 7 → 1 x 1"
    assert len(player["labels"]) == 1
    assert player["equations"][0].startswith("y[0, 0] = mean of the 49 values = <b>")
    assert player["kept"] == []  # no kept cell: nothing is a maximum
    steps_in, steps_out = (np.array(p["values"], dtype=float) for p in player["panels"])
    assert steps_in.shape == (7, 7)
    np.testing.assert_allclose(steps_out.astype(float), [[steps_in.mean()]], rtol=1e-4)
    assert "Channel #0 of avgpool's input, the whole map." in text(at.caption)
    assert any(c.startswith("Checked against what avgpool computed") for c in text(at.caption))


def test_step_view_max_pooling_of_lenet5_s2(open_page, text, players, monkeypatch):
    drawn = []
    monkeypatch.setattr(animation, "pool_gif", lambda *args: drawn.append(args) or b"GIF89a")
    at = open_page("pooling", **OPEN)

    assert not at.exception
    assert "Step by step: the window, the value kept, the output" in [e.label for e in at.expander]
    (where,) = [c for c in text(at.caption) if c.startswith("Channel #0 of features.s2")]
    assert where.endswith("rows 8–19, columns 8–19 of the 28 x 28 map.")
    player = players(at)["pool.steps"]
    assert len(player["labels"]) == 36  # a 12 x 12 crop pooled 2 x 2, stride 2
    z_in, z_out = (np.array(p["values"], dtype=float) for p in player["panels"])
    assert z_in.shape == (12, 12)
    np.testing.assert_allclose(z_out, windows(z_in, 2).max(axis=2), rtol=1e-4)
    for (r, c), value in zip(player["kept"], z_out.ravel(), strict=True):
        assert z_in[r, c] == value  # the circled cell is the maximum kept
    assert player["equations"][0].startswith("y[0, 0] = max(")
    assert player["title"].startswith("Max pooling 2 x 2, stride 2")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the animation (GIF)" in labels
    assert drawn == []  # the GIF is drawn when its button is pressed, not on every run
    assert not [r for r in at.radio if r.key == "pool.step_kind"]  # only what the layer does
    (check,) = [c for c in text(at.caption) if c.startswith("Checked against")]
    assert check == (
        "Checked against what features.s2 computed in the network: largest difference 0 "
        "(float rounding)."
    )
