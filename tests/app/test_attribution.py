"""Grad-CAM & saliency page: the default map, pickers, the tabs (only the open one computes),
the top-5 row and the sanity check."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from cnnviz.figures import attribution as attribution_figures
from cnnviz.ui import attribution_views as av

COMPARE, TOP5, SANITY = av.TABS


def captions(at) -> list[str]:
    """Image captions and caption lines: what the page says under and above its pictures."""
    return [c for image in at.get("image") for c in image.captions] + [
        str(c.value) for c in at.caption
    ]


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts the page's heavy calls: ``explain <method>``, ``top5``, ``sanity <method>``."""
    counts: Counter = Counter()

    def counted(real, name):
        def call(*args, **kwargs):
            counts[name(args)] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(av, "explain", counted(av.explain, lambda a: f"explain {a[2]}"))
    monkeypatch.setattr(av, "explain_classes", counted(av.explain_classes, lambda a: "top5"))
    monkeypatch.setattr(av, "sanity_check", counted(av.sanity_check, lambda a: f"sanity {a[2]}"))
    return counts


def drawn_tabs(at) -> list[str]:
    """The tabs with anything in them (a closed tab is sent empty)."""
    return [t.label for t in at.tabs if t.children]


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
    assert at.session_state["attr.tab"] == COMPARE  # the first tab is open
    assert any(c.startswith("Saliency (gradient) for “3”") for c in shown)  # its right map
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


def test_slow_method_map_comes_from_the_store_on_a_rerun(open_page, work):
    at = open_page("attribution", sample="digit_3")
    at.selectbox(key="attr.method").set_value("smoothgrad").run()
    at.slider(key="attr.view.opacity").set_value(0.8).run()  # a rerun: the same map again

    assert not at.exception
    assert not at.error  # a cached progress bar once failed to replay here
    assert any(c.startswith("SmoothGrad for “3”") for c in captions(at))
    assert work["explain smoothgrad"] == 1


def test_sanity_check_runs_on_click(open_page, charts, work):
    at = open_page("attribution", sample="digit_3", **{"attr.tab": SANITY})  # a teacher's link
    assert work == {"explain gradcam": 1}  # no comparison; the check waits for its button
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
    assert work == {"explain gradcam": 1, "sanity gradcam": 1}  # the main map, then the check


def test_random_weights_say_the_maps_are_meaningless(open_page):
    at = open_page("attribution", model="resnet_small", sample="digit_3")

    assert not at.exception
    (warning,) = [w.value for w in at.warning]  # one warning: the banner says it all
    assert "meaningless" in warning
    assert warning.startswith("Random")
    assert at.select_slider(key="attr.layer").value == "features.stage3"


def test_closed_tabs_compute_nothing(open_page, work):
    at = open_page("attribution", sample="digit_3")

    assert not at.exception
    # The main map and the open tab's two maps (its Grad-CAM is the main map, from the cache);
    # no top-5 maps and no sanity check behind the closed tabs.
    assert work == {"explain gradcam": 1, "explain saliency": 1}
    assert drawn_tabs(at) == [COMPARE]
    assert not any("top-5" in c for c in captions(at))
    assert not [b for b in at.button if b.key == "attr.sanity.run"]


def test_opening_the_top5_tab_computes_its_maps(open_page, work):
    at = open_page("attribution", sample="digit_3")
    at.session_state["attr.tab"] = TOP5  # what a click on the tab sends
    at.run()

    assert not at.exception
    assert work == {"explain gradcam": 1, "explain saliency": 1, "top5": 1}  # one new call
    assert drawn_tabs(at) == [TOP5]
    shown = captions(at)
    assert "Grad-CAM at features.act3 for each of the top-5 classes" in shown
    assert not any(c.startswith("Saliency (gradient)") for c in shown)  # compare is closed


def test_link_to_the_top5_tab_computes_no_comparison(open_page, work):
    at = open_page("attribution", sample="digit_3", **{"attr.tab": TOP5})

    assert not at.exception
    assert at.session_state["attr.tab"] == TOP5
    assert drawn_tabs(at) == [TOP5]
    assert work == {"explain gradcam": 1, "top5": 1}  # no saliency map for the closed tab
    assert "Grad-CAM at features.act3 for each of the top-5 classes" in captions(at)


def test_comparison_choices_survive_a_visit_to_another_tab(open_page, work):
    at = open_page("attribution", sample="digit_3")
    at.selectbox(key="attr.compare.b").set_value("smoothgrad").run()
    at.slider(key="attr.compare.b.samples").set_value(4).run()
    at.session_state["attr.tab"] = SANITY
    at.run()
    assert not [s for s in at.selectbox if s.key == "attr.compare.b"]  # not drawn meanwhile

    at.session_state["attr.tab"] = COMPARE
    at.run()

    assert not at.exception
    assert at.selectbox(key="attr.compare.b").value == "smoothgrad"
    assert at.slider(key="attr.compare.b.samples").value == 4
    assert any(c.startswith("SmoothGrad for “3”") for c in captions(at))
    assert work["explain smoothgrad"] == 2  # 16 copies, then 4; none while the tab was closed


def test_a_map_two_sessions_ask_for_at_once_is_made_once():
    first_made: list[str] = []
    looked = threading.Event()

    class Watched(av._Maps):
        def get(self, key):
            found = super().get(key)
            if threading.current_thread() is other:
                looked.set()
            return found

    maps = Watched(4)
    answers = []
    other = threading.Thread(
        target=lambda: answers.append(maps.get_or_make(("k",), lambda: "made twice"))
    )

    def make() -> str:
        other.start()  # the second session asks while the first is still making the map
        assert looked.wait(30)  # ... and finds nothing stored yet
        first_made.append("map")
        return "map"

    assert maps.get_or_make(("k",), make) == "map"
    other.join(30)
    assert answers == ["map"]  # it waited and took the first session's map
    assert first_made == ["map"]


def test_a_class_on_the_same_map_gets_its_pictures_drawn_once(open_page, monkeypatch):
    drawn = []
    real = attribution_figures.heatmap_image
    monkeypatch.setattr(
        attribution_figures, "heatmap_image", lambda *a: drawn.append(1) or real(*a)
    )

    pages = [open_page("attribution") for _ in range(3)]

    assert not any(at.exception for at in pages)
    assert len(drawn) == 1  # the first session drew it; the others got the same picture
    urls = [[u for image in at.get("image") for u in image.value][:3] for at in pages]
    assert urls[0] == urls[1] == urls[2]
