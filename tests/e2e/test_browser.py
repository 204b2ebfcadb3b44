"""The app in a real browser: deep links, uploads, bad files, navigation and the layer buttons."""

from __future__ import annotations

import re

import pytest
from browser import (
    TIMEOUT_MS,
    App,
    expect_loaded,
    expect_no_exception,
    gradient_png,
    main,
    upload,
    wait_for_app,
)
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.e2e


def test_deep_link_shows_resnet18_feature_maps(app: App) -> None:
    page = app.open("/feature_maps?model=resnet18&sample=chelsea")

    heading = main(page).get_by_role("heading", name="Output of conv1 (Conv2d): 64 x 112 x 112")
    expect(heading).to_be_visible()
    expect_loaded(main(page).get_by_test_id("stImage").filter(has_text="The network's input"))
    expect_loaded(
        main(page).get_by_test_id("stImage").filter(has_text="64 of 64 channels of conv1")
    )
    expect(main(page)).to_contain_text("image: Chelsea")
    # The charts wait in closed sections, so a fresh tab draws its pictures without first
    # loading plotly.js; a section opened shows its chart and puts itself in the URL.
    expect(main(page).locator(".js-plotly-plot")).to_have_count(0)
    main(page).get_by_text("The shape through the network").click()
    expect(main(page).locator(".js-plotly-plot").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]fm\.shape=true(&|$)"))
    expect_no_exception(page)


def test_upload_shows_its_feature_maps(app: App) -> None:
    page = app.open("/feature_maps")
    expect(main(page).get_by_role("heading", name="Output of features.c1")).to_be_visible()

    upload(page, "gradient.png", gradient_png())

    banner_name = main(page).locator(
        "[data-testid='stMarkdownContainer'] strong", has_text="gradient.png"
    )
    expect(banner_name).to_be_visible()
    wait_for_app(page)
    grid = main(page).get_by_test_id("stImage").filter(has_text="channels of features.c1")
    expect_loaded(grid)
    expect(page).to_have_url(re.compile(r"[?&]source=upload(&|$)"))
    expect(page.get_by_test_id("stSidebar").get_by_role("radio", name="upload")).to_be_checked()
    expect_no_exception(page)


def test_bad_upload_shows_a_plain_message(app: App) -> None:
    page = app.open("/feature_maps")
    expect(main(page).get_by_role("heading", name="Output of features.c1")).to_be_visible()

    upload(page, "notes.png", b"this is not an image")

    alert = main(page).get_by_test_id("stAlert").filter(has_text="not an image")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("This file is not an image cnnviz can read")
    wait_for_app(page)
    expect_no_exception(page)
    expect(main(page).get_by_role("heading", name="Output of")).to_have_count(0)


def test_sidebar_navigation_keeps_the_model(app: App) -> None:
    page = app.open("/?model=tinyvgg")
    sidebar = page.get_by_test_id("stSidebar")
    model_box = sidebar.get_by_role("combobox", name="Model")
    expect(model_box).to_have_value("tinyvgg")

    sidebar.get_by_test_id("stSidebarNav").get_by_role("link", name="Pooling").click()

    expect(page.get_by_text("Max vs average pooling on the same input")).to_be_visible()
    expect(main(page).get_by_test_id("stImage").first).to_be_visible()  # the grids
    expect(page).to_have_url(re.compile(r"/pooling\?(.*&)?model=tinyvgg(&|$)"))
    expect(model_box).to_have_value("tinyvgg")
    expect(main(page)).to_contain_text("TinyVGG")
    expect_no_exception(page)


def test_next_layer_button(app: App) -> None:
    page = app.open("/feature_maps")
    heading = main(page).get_by_role("heading", name=re.compile(r"^Output of "))
    expect(heading).to_contain_text("Output of features.c1 (Conv2d)")

    main(page).get_by_role("button", name="▶").click()

    expect(heading).to_contain_text("Output of features.s2")
    expect(
        main(page).get_by_test_id("stImage").filter(has_text="channels of features.s2")
    ).to_be_visible()
    expect_no_exception(page)


def _curve_points(page: Page) -> int:
    """Points of the first trace of the live training chart (the per-batch loss), as plotly
    drew them (``_fullData``: the points arrive as typed arrays, decoded there)."""
    return (
        main(page)
        .locator(".js-plotly-plot")
        .first.evaluate(
            "(plot) => (plot._fullData && plot._fullData[0]) ? plot._fullData[0].x.length : 0"
        )
    )


def test_training_runs_live_and_stops(app: App) -> None:
    page = app.open("/training")
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("50")
    epochs.press("Enter")
    wait_for_app(page)
    main(page).get_by_role("button", name="Train").click()

    expect(page.get_by_test_id("stProgress")).to_be_visible()
    expect(main(page).locator(".js-plotly-plot").first).to_be_visible()
    first = _curve_points(page)
    # The fragment polls once a second: the curve grows while the thread trains.
    page.wait_for_function(
        "(n) => { const p = document.querySelector('[data-testid=stMain] .js-plotly-plot');"
        " return p && p._fullData && p._fullData[0].x.length > n; }",
        arg=first,
        timeout=TIMEOUT_MS,
    )
    assert _curve_points(page) > first

    main(page).get_by_role("button", name="Stop").click()
    expect(main(page)).to_contain_text("Stopped by you", timeout=TIMEOUT_MS)
    expect(main(page).get_by_role("button", name="Download checkpoint")).to_be_visible()
    expect_no_exception(page)


def test_a_drawn_digit_is_classified(app: App) -> None:
    page = app.open("/?source=draw")
    expect(main(page)).to_contain_text("Nothing drawn yet")
    canvas = page.get_by_test_id("stSidebar").locator("canvas").last
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + 40
    drawn = main(page).get_by_text("image: your drawing", exact=False)
    for attempt in range(3):
        # The canvas is drawn before its script listens to the mouse: on a cold, busy machine
        # (a clean clone's first browser tests) a stroke can come too early and be lost, as a
        # user's first stroke would; then draw it again, as they would.
        page.mouse.move(x, y)
        page.mouse.down()
        for step in range(1, 16):  # one vertical stroke: a "1"
            page.mouse.move(x + step * 0.5, y + step * 10)
        page.mouse.up()
        try:
            drawn.first.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise

    expect(main(page)).to_contain_text("image: your drawing")
    wait_for_app(page)
    expect(main(page)).not_to_contain_text("Nothing drawn yet")
    expect(main(page)).to_contain_text("It sees 1")
    expect_no_exception(page)


def test_busy_server_says_so_and_a_closed_tab_frees_its_run(app: App) -> None:
    def start_long_run(tab: Page) -> None:
        tab.goto(app.url + "/training")
        wait_for_app(tab)
        epochs = tab.get_by_role("spinbutton", name="Epochs")
        epochs.fill("50")
        epochs.press("Enter")
        wait_for_app(tab)
        main(tab).get_by_role("button", name="Train").click()

    context = app.page.context
    first, second = context.browser.new_page(), context.browser.new_page()
    start_long_run(first)
    expect(first.get_by_test_id("stProgress")).to_be_visible()
    start_long_run(second)
    expect(second.get_by_test_id("stProgress")).to_be_visible()

    start_long_run(app.page)  # a third run while two are going
    expect(main(app.page)).to_contain_text("The server is busy training 2 other networks")

    first.close()  # its session ends, and with it its run: the slot is free again
    second.close()
    progress = app.page.get_by_test_id("stProgress")
    for _ in range(30):  # the server notices a closed tab within seconds
        main(app.page).get_by_role("button", name="Train").click()
        wait_for_app(app.page)
        if progress.count():
            break
        app.page.wait_for_timeout(1_000)
    expect(progress).to_be_visible()
    # Stop it (test_training_runs_live_and_stops checks the Stop message itself): the run ends
    # and Train is offered again.
    main(app.page).get_by_role("button", name="Stop").click()
    expect(progress).to_contain_text("stopped", timeout=TIMEOUT_MS)
    expect(main(app.page).get_by_role("button", name="Train")).to_be_enabled()
