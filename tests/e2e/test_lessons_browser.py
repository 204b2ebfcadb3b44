"""The lessons in a real browser: softmax and its temperature, what a channel looks for, and an
attack that flips a digit."""

from __future__ import annotations

import re

import pytest
from browser import App, expect_loaded, expect_no_exception, main
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_softmax_feature_visualization_and_an_attack(app: App) -> None:
    page = app.open("/inside_layer?model=lenet5&sample=digit_3")
    expect(
        main(page).get_by_role("heading", name="Softmax: from scores to probabilities")
    ).to_be_visible()
    expect(main(page).get_by_test_id("stProgress").first).to_be_visible()  # bars, no chart
    expect(main(page).locator(".js-plotly-plot")).to_have_count(0)
    expect(main(page).get_by_text("Softmax at temperature 1", exact=False).first).to_be_visible()
    slider = main(page).get_by_role("slider").first
    slider.focus()
    slider.press("End")  # the hottest temperature
    expect(main(page).get_by_text("Softmax at temperature 10", exact=False).first).to_be_visible()
    expect_no_exception(page)

    page = app.open("/feature_vis?model=lenet5&sample=digit_3")
    grid = main(page).get_by_test_id("stImage").first
    expect_loaded(grid)
    expect(main(page).get_by_text(re.compile(r"^16 pictures optimized together"))).to_be_visible()
    expect_no_exception(page)

    page = app.open("/adversarial?model=lenet5&sample=digit_3")
    expect(main(page).get_by_text("Still", exact=False).first).to_be_visible()
    main(page).get_by_text("PGD (10 small steps)").click()
    epsilon = main(page).get_by_role("slider").first
    epsilon.focus()
    epsilon.press("End")  # epsilon 0.3
    expect(main(page).get_by_text("Flipped", exact=False).first).to_be_visible(timeout=60_000)
    main(page).get_by_text("Success rate over the bundled digits").click()
    expect(page).to_have_url(re.compile(r"[?&]adv\.rates=true"))
    chart = main(page).locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=120_000)
    expect(main(page).get_by_text("How many digits flip", exact=False).first).to_be_visible()
    expect_no_exception(page)


def _chart_y(page, title: str) -> list[float]:
    """The first trace's y values of the plotly chart whose title holds ``title`` (Streamlit
    wraps titles in <b>)."""
    found = page.wait_for_function(
        "(t) => { const plots = '[data-testid=stMain] .js-plotly-plot';"
        " for (const p of document.querySelectorAll(plots)) {"
        " const text = (p._fullLayout && p._fullLayout.title && p._fullLayout.title.text) || '';"
        " if (text.includes(t) && p._fullData) return Array.from(p._fullData[0].y); }"
        " return null; }",
        arg=title,
        timeout=60_000,
    )
    return found.json_value()


def test_the_schedule_is_drawn_and_an_overfitting_experiment_names_its_gap(app: App) -> None:
    page = app.open("/training?train.experiments=true")
    title = "Learning rate over the run"
    expect(main(page).get_by_text(title).first).to_be_visible(timeout=60_000)
    assert set(_chart_y(page, title)) == {0.001}  # constant, before any run
    main(page).get_by_role("combobox", name=re.compile("Schedule")).click()
    page.get_by_role("option", name="cosine").click()
    expect(main(page).get_by_text("Cosine decay", exact=False)).to_be_visible()
    rates = _chart_y(page, title)
    assert rates[0] == pytest.approx(0.001)
    assert rates[-1] < 0.0001  # glides down to nearly 0

    main(page).get_by_role("button", name="Run the experiment").click()
    expect(main(page).get_by_text("Run 1 of 2: overfits (no remedy)")).to_be_visible()
    expect(main(page).get_by_text(re.compile("^Run 2 of 2: with augmentation"))).to_be_visible(
        timeout=300_000
    )
    expect(main(page).get_by_test_id("stAlertContentSuccess")).to_be_visible(timeout=300_000)
    gaps = main(page).get_by_text(re.compile(r"training accuracy \d+%, validation \d+%: a gap"))
    expect(gaps).to_have_count(2)
    expect(main(page).get_by_text("Accuracy (dotted: training, solid: validation)")).to_be_visible()
    expect_no_exception(page)
