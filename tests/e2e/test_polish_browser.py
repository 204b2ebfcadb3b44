"""What a class sees at 1280 x 720: charts that show whole labels, square and readable grids."""

from __future__ import annotations

import pytest
from browser import App, expect_no_exception, main
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PROJECTOR = {"width": 1280, "height": 720}

# Tick labels of one axis, with their boxes, and the chart's box (all in page pixels).
TICKS = """(plot, axis) => {
    const box = (e) => { const r = e.getBoundingClientRect();
                         return [r.left, r.top, r.right, r.bottom]; };
    const ticks = [...plot.querySelectorAll(`.${axis}tick text`)];
    return {chart: box(plot), ticks: ticks.map(t => [t.textContent, box(t)])};
}"""

# The step player's input grid: its drawn size in pixels, its grid and its numbers' font size.
INPUT_GRID = """(player) => {
    const canvas = player.querySelector('canvas[data-role=input]');
    const r = canvas.getBoundingClientRect();
    return {width: r.width, height: r.height, font: Number(canvas.dataset.font)};
}"""


def _shape_chart(page: Page):
    chart = main(page).locator(".js-plotly-plot").filter(has_text="maps shrink, channels grow")
    chart.scroll_into_view_if_needed()
    expect(chart).to_be_visible()
    return chart


def test_shape_chart_names_channels_in_full_inside_the_chart(app: App) -> None:
    app.page.set_viewport_size(PROJECTOR)
    page = app.open("/feature_maps?fm.shape=true")
    chart = _shape_chart(page)

    found = chart.evaluate(TICKS, "y")  # the channel axis (log, on the right)
    left, top, right, bottom = found["chart"]
    labels = [text for text, _ in found["ticks"]]
    assert labels == ["1", "2", "4", "8", "16"]  # LeNet-5's channels: 1, 6, 16
    for _, (x0, y0, x1, y1) in found["ticks"]:  # nothing clipped
        assert left <= x0 < x1 <= right
        assert top <= y0 < y1 <= bottom
    pixels = [text for text, _ in chart.evaluate(TICKS, "y2")["ticks"]]
    assert all(text.isdigit() for text in pixels)  # round pixel ticks, not "214.8"
    expect_no_exception(page)


def test_step_animation_cells_are_square_and_readable_on_a_projector(app: App) -> None:
    app.page.set_viewport_size(PROJECTOR)
    page = app.open("/convolution")
    player = main(page).get_by_test_id("stepPlayer").first
    expect(player).to_have_attribute("data-step", "0")

    grid = player.evaluate(INPUT_GRID)

    cell_w, cell_h = grid["width"] / 5, grid["height"] / 5  # the worked example's 5 x 5 input
    assert abs(cell_w - cell_h) <= 1, (cell_w, cell_h)
    assert grid["font"] >= 16  # numbers a class can read from the back of the room
    expect_no_exception(page)
