"""The step animation in a real browser: Play moves the window, the slider scrubs, no reruns."""

from __future__ import annotations

import pytest
from browser import TIMEOUT_MS, wait_for_app
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

expect.set_options(timeout=TIMEOUT_MS)

# The window rectangle's left edge, read from plotly's own state of the first animated chart.
WINDOW_LEFT = """(plot) => {
    const trace = plot.data.find(t => t.line && t.line.color === '#ff7f0e');
    return Math.min(...trace.x.filter(v => v !== null));
}"""
SLIDER_ACTIVE = "(plot) => plot.layout.sliders[0].active"


def open_page(page: Page, url: str) -> Page:
    page.goto(url)
    wait_for_app(page)
    return page


def test_play_moves_the_window_over_the_worked_example(app_page: Page, app_url: str) -> None:
    page = open_page(app_page, app_url + "/convolution")
    chart = page.get_by_test_id("stMain").locator(".js-plotly-plot").first
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("y[0, 0] = 7·1 + 2·0")
    assert chart.evaluate(WINDOW_LEFT) == -0.5

    chart.get_by_text("Play").click()

    page.wait_for_function(
        "() => { const p = document.querySelector('[data-testid=stMain] .js-plotly-plot');"
        " const t = p.data.find(t => t.line && t.line.color === '#ff7f0e');"
        " return Math.min(...t.x.filter(v => v !== null)) > -0.5; }",
        timeout=TIMEOUT_MS,
    )
    assert chart.evaluate(SLIDER_ACTIVE) >= 1
    chart.get_by_text("Pause").click()
    expect(chart).not_to_contain_text("y[0, 0] = 7·1")  # the equation follows the window
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_slider_scrubs_to_the_last_step(app_page: Page, app_url: str) -> None:
    page = open_page(app_page, app_url + "/convolution")
    chart = page.get_by_test_id("stMain").locator(".js-plotly-plot").first
    expect(chart).to_be_visible()

    rail = chart.locator(".slider-rail-touch-rect").first
    rail.click(position={"x": rail.bounding_box()["width"] - 2, "y": 10})

    expect(chart).to_contain_text("y[2, 2] = 2·1 + 8·0 + 4·(−1)")
    assert chart.evaluate(WINDOW_LEFT) == 1.5
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_export_gif_is_drawn_when_its_button_is_pressed(app_page: Page, app_url: str) -> None:
    page = open_page(app_page, app_url + "/convolution")
    main = page.get_by_test_id("stMain")
    main.get_by_text("Export: GIF for slides, PyTorch code for a notebook").click()
    expect(main.get_by_text("nn.Conv2d(1, 1, kernel_size=3", exact=False)).to_be_visible()

    with page.expect_download() as download:
        main.get_by_role("button", name="Download the animation (GIF)").click()

    assert download.value.suggested_filename == "convolution.gif"
    with open(download.value.path(), "rb") as gif:
        assert gif.read(6) == b"GIF89a"
    expect(page.get_by_test_id("stException")).to_have_count(0)
