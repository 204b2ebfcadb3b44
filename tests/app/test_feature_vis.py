"""Feature visualization page: the grid of optimized pictures and how their activations climbed."""

from __future__ import annotations

DIGIT = {"model": "lenet5", "sample": "digit_3"}


def test_grid_of_first_layer_channels_and_their_climb(open_page, charts, array):
    at = open_page("feature_vis", **DIGIT, **{"fv.climb": "true"})
    assert not at.exception
    assert at.selectbox(key="fv.layer").value == "features.c3"  # the last convolution first
    at.selectbox(key="fv.layer").set_value("features.c1").run()
    at.select_slider(key="fv.steps").set_value(32).run()

    assert not at.exception
    assert any("6 pictures optimized together, 32 steps each" in c.value for c in at.caption)
    traces = charts(at)["fv.climb_chart"]["data"]
    assert [t["name"] for t in traces] == [f"channel {c}" for c in range(6)]
    for trace in traces:
        y = array(trace["y"])
        assert len(y) == 33
        assert y[-1] > y[0] + 1.0  # the activation climbs well above its start


def test_output_layer_shows_one_picture_per_class(open_page, charts, array):
    at = open_page("feature_vis", **DIGIT, **{"fv.climb": "true"})
    at.selectbox(key="fv.layer").set_value("classifier.output")
    at.select_slider(key="fv.steps").set_value(32).run()
    at.slider(key="fv.count").set_value(3).run()

    assert not at.exception
    traces = charts(at)["fv.climb_chart"]["data"]
    assert [t["name"] for t in traces] == ["channel 0", "channel 1", "channel 2"]
    assert all(array(t["y"])[-1] > 5 for t in traces)
