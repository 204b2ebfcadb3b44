"""Grad-CAM & saliency page: the default map, pickers, the top-5 row and the sanity check."""

from __future__ import annotations


def captions(at) -> list[str]:
    """Image captions and caption lines: what the page says under and above its pictures."""
    return [c for image in at.get("image") for c in image.captions] + [
        str(c.value) for c in at.caption
    ]


def test_default_is_gradcam_of_the_predicted_digit(open_page, text):
    at = open_page("attribution", sample="digit_3")

    assert not at.exception
    assert not at.error
    assert text(at.title) == ["Grad-CAM & saliency"]
    assert at.selectbox(key="attr.method").value == "gradcam"
    assert at.radio(key="attr.target").value == 3  # the trained LeNet-5 reads a 3
    assert at.select_slider(key="attr.layer").value == "features.act3"
    shown = captions(at)
    assert any(c.startswith("Grad-CAM at features.act3 for “3”") for c in shown)
    assert {"Overlay", "Heatmap (0 to 1)", "Signed map (blue < 0 < red)"} <= set(shown)
    assert any("each of the top-5 classes" in c for c in shown)
    assert any(r"\alpha_k^c" in e.body for e in at.get("latex"))
    assert not any("meaningless" in w.value for w in at.warning)  # trained weights


def test_switching_method_class_and_layer(open_page):
    at = open_page("attribution", sample="digit_3")
    at.selectbox(key="attr.method").set_value("saliency").run()
    assert not at.exception
    assert any(c.startswith("Saliency (gradient) for “3”") for c in captions(at))

    at.radio(key="attr.target").set_value(-1).run()
    at.selectbox(key="attr.any_class").set_value(8).run()
    assert not at.exception
    assert any(c.startswith("Saliency (gradient) for “8”") for c in captions(at))

    at.selectbox(key="attr.method").set_value("gradcam").run()
    at.select_slider(key="attr.layer").set_value("features.act1").run()
    assert not at.exception
    assert any(c.startswith("Grad-CAM at features.act1 for “8”") for c in captions(at))


def test_slow_method_with_options(open_page):
    at = open_page("attribution", sample="digit_3")
    at.selectbox(key="attr.method").set_value("integrated_gradients").run()
    at.slider(key="attr.main.steps").set_value(8).run()
    assert not at.exception
    assert not at.error
    assert any(c.startswith("Integrated Gradients for “3”") for c in captions(at))


def test_sanity_check_runs_on_click(open_page, charts):
    at = open_page("attribution", sample="digit_3")
    at.button(key="attr.sanity.run").click().run()

    assert not at.exception
    assert not at.error
    assert any("as the layers are randomized" in c for c in captions(at))
    figure = charts(at)["attr.sanity.chart"]
    assert list(figure["data"][0]["x"]) == [
        "original", "+ classifier.output", "+ classifier.f6", "+ classifier.c5",
        "+ features.c3", "+ features.c1",
    ]  # fmt: skip
    assert figure["data"][0]["y"][0] == 1.0


def test_random_weights_say_the_maps_are_meaningless(open_page):
    at = open_page("attribution", model="resnet_small", sample="digit_3")

    assert not at.exception
    (warning,) = [w.value for w in at.warning]  # one warning: the banner says it all
    assert "meaningless" in warning
    assert warning.startswith("Random")
    assert at.select_slider(key="attr.layer").value == "features.stage3"
