"""A click on a cell of a feature map draws that unit's receptive field on the input."""

from __future__ import annotations

import pytest
from browser import App, expect_no_exception, main
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_clicking_a_map_cell_shows_its_box_and_gradient(app: App) -> None:
    page = app.open("/feature_maps?fm.closeup=true")  # LeNet-5's features.c1: 6 x 28 x 28
    section = main(page)
    expect(section.get_by_text("Receptive field of unit (", exact=False)).to_be_visible()
    chart = section.locator(".js-plotly-plot").first
    expect(chart).to_be_visible()
    row, col = 10, 7
    cell = chart.locator(".scatterlayer .point").nth(row * 28 + col)

    cell.click(force=True)  # the invisible point over the cell

    expect(section.get_by_text(f"Receptive field of unit ({row}, {col})")).to_be_visible()
    # features.c1 is a 5 x 5 convolution without padding: unit (r, c) sees rows r..r+4.
    expect(section.get_by_text("sees rows 10–14, columns 7–11", exact=False)).to_be_visible()
    expect(
        section.get_by_text("100% of its gradient falls inside the box", exact=False)
    ).to_be_visible()
    picture = section.get_by_test_id("stImage").filter(has_text="Receptive field of unit")
    expect(picture.locator("img")).to_have_count(1)
    expect_no_exception(page)
