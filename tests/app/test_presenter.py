"""Presenter mode (``?present=1``): intro left out, settings folded, the picture first."""

from __future__ import annotations

INTRO = "A kernel slides over the input."


def test_conv_page_folds_its_settings_and_leaves_out_the_intro(open_page, text, players):
    at = open_page("convolution", present="1")

    assert not at.exception
    assert at.toggle(key="present").value is True
    assert not [c for c in text(at.caption) if c.startswith(INTRO)]
    (settings,) = [e for e in at.main.expander if e.label.endswith("Settings")]
    assert not settings.proto.expanded
    assert [r.key for r in settings.radio][:2] == ["conv.view", "conv.input"]
    assert "conv.animation" in players(at)  # the picture is still there, outside the fold
    (banner,) = [m for m in text(at.markdown) if m.startswith("**LeNet-5**")]
    assert banner.endswith("· :material/verified: trained")  # one line on a projector


def test_normal_mode_keeps_the_page_as_it_was(open_page, text):
    at = open_page("convolution")

    assert not at.exception
    assert at.toggle(key="present").value is False
    assert [c for c in text(at.caption) if c.startswith(INTRO)]
    assert not [e for e in at.main.expander if e.label.endswith("Settings")]
    assert "present" not in at.query_params


def test_toggle_puts_it_in_the_url_and_feature_maps_shows_the_maps_first(open_page, text):
    at = open_page("feature_maps")
    assert "The network's input" in [c for image in at.get("image") for c in image.captions]

    at.toggle(key="present").set_value(True).run()

    assert not at.exception
    assert at.query_params["present"] == "1"
    captions = [c for image in at.get("image") for c in image.captions]
    assert "The network's input" not in captions  # Home shows it; here the maps come first
    assert captions[0].startswith("6 of 6 channels of features.c1")
    assert [m.label for m in at.main.get("metric")] == ["Channels"]  # no stats row, only the
    # channel count, inside Settings
    (settings,) = [e for e in at.main.expander if e.label.endswith("Settings")]
    assert "fm.colormap" in [s.key for s in settings.selectbox]

    at.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params


def test_attribution_folds_method_and_class_into_settings(open_page):
    at = open_page("attribution", present="1")

    assert not at.exception
    (settings,) = [e for e in at.main.expander if e.label.endswith("Settings")]
    assert "attr.method" in [s.key for s in settings.selectbox]
    assert not [e for e in at.main.expander if e.label.startswith("How ")]
    assert at.get("image")  # the overlay is drawn
