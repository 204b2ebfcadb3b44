"""Presenter mode on a 1280 x 720 projector: sidebar folded, larger type, the picture first."""

from __future__ import annotations

import re

import pytest
from browser import App, expect_loaded, expect_no_exception, main
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PROJECTOR = {"width": 1280, "height": 720}

# Each page's main visual in presenter mode (the first one of its kind in the main area).
MAIN_VISUAL = {
    "/": "[data-testid='stImage']",  # what the network sees
    "/convolution": "[data-testid='stepPlayer']",  # the step animation
    "/feature_maps": "[data-testid='stImage']",  # the maps (the input image is left out)
    "/pooling": "[data-testid='stImage']",  # the maps before pooling
    "/attribution": "[data-testid='stImage']",  # the Grad-CAM overlay
    "/training": "[data-testid='stButton'] button:has-text('Train')",  # before a run: Train
    "/inside_layer": "[data-testid='stProgress']",  # softmax's probabilities (bars)
    "/feature_vis": "[data-testid='stImage']",  # what each channel looks for
    "/adversarial": "[data-testid='stImage']",  # original, change, adversarial
    "/compare": "[data-testid='stImage']",  # the first network's view
}


@pytest.mark.parametrize("path", list(MAIN_VISUAL))
def test_main_visual_starts_on_the_first_screen(app: App, path: str) -> None:
    app.page.set_viewport_size(PROJECTOR)
    page = app.open(f"{path}?present=1")
    visual = main(page).locator(MAIN_VISUAL[path]).first
    expect(visual).to_be_visible()
    if "stImage" in MAIN_VISUAL[path]:
        expect_loaded(visual)

    top = visual.bounding_box()["y"]

    assert 0 <= top < PROJECTOR["height"] - 100, f"{path}: the main visual starts at y={top}"
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    expect_no_exception(page)


def test_type_is_larger_and_the_settings_are_folded(app: App) -> None:
    app.page.set_viewport_size(PROJECTOR)
    page = app.open("/convolution")
    subtitle = main(page).get_by_text("worked example", exact=False).first
    before = float(subtitle.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    expect(main(page).get_by_text("Stride", exact=True)).to_be_visible()  # settings on the page

    page = app.open("/convolution?present=1")
    player = main(page).get_by_test_id("stepPlayer")
    expect(player).to_have_attribute("data-step", "0")
    equation = player.locator(".equation")
    size = float(equation.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    font = int(player.locator("canvas[data-role=input]").get_attribute("data-font"))

    assert size >= 1.5 * 16  # the equation, 1.5x the 16 px base type
    assert font >= 16  # the grid's numbers
    assert before >= 16
    expect(main(page).get_by_text("Stride", exact=True)).not_to_be_visible()  # folded into Settings
    main(page).get_by_text("Settings").click()
    expect(main(page).get_by_text("Stride", exact=True)).to_be_visible()
    box = player.bounding_box()
    assert box["y"] + box["height"] > 0
    expect_no_exception(page)


def test_the_sidebar_toggle_turns_it_on_and_keeps_it_in_the_link(app: App) -> None:
    app.page.set_viewport_size(PROJECTOR)
    page = app.open("/feature_maps")
    expect(main(page).get_by_text("The network's input")).to_be_visible()

    page.get_by_test_id("stSidebar").get_by_text("Presenter mode").click()

    expect(page).to_have_url(re.compile(r"[?&]present=1"))
    expect(main(page).get_by_text("The network's input")).to_have_count(0)
    expect_no_exception(page)
