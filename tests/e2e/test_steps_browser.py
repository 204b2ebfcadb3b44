"""The step player in a real browser: Play moves the window, the slider and the arrow keys scrub,
the products are computed right, and nothing reruns on the server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import TIMEOUT_MS, wait_for_app
from playwright.sync_api import Page, expect

from cnnviz.steps import WORKED_EXAMPLE, kernel

pytestmark = pytest.mark.e2e

expect.set_options(timeout=TIMEOUT_MS)


def open_player(page: Page, url: str):
    page.goto(url)
    wait_for_app(page)
    player = page.get_by_test_id("stMain").get_by_test_id("stepPlayer").first
    expect(player).to_have_attribute("data-step", "0")
    return player


def test_play_moves_the_window_over_the_worked_example(app_page: Page, app_url: str) -> None:
    player = open_player(app_page, app_url + "/convolution")
    expect(player.locator(".equation")).to_contain_text("y[0, 0] = 7·1 + 2·0")
    expect(player).to_have_attribute("data-window", "0,0,3,3")

    player.get_by_role("button", name="▶ Play").click()

    expect(player).not_to_have_attribute("data-step", "0")
    player.get_by_role("button", name="❚❚ Pause").click()
    expect(player).to_have_attribute("data-playing", "false")
    expect(player.locator(".equation")).not_to_contain_text("y[0, 0] = 7·1")  # it follows
    assert player.get_attribute("data-window") != "0,0,3,3"
    expect(app_page.get_by_test_id("stException")).to_have_count(0)


def test_slider_and_keys_scrub_and_the_products_are_the_window_times_the_kernel(
    app_page: Page, app_url: str
) -> None:
    player = open_player(app_page, app_url + "/convolution")

    player.get_by_role("slider", name="Step").press("End")  # the last step

    expect(player).to_have_attribute("data-step", "8")
    expect(player.locator(".equation")).to_contain_text("y[2, 2] = 2·1 + 8·0 + 4·(−1)")
    expect(player).to_have_attribute("data-window", "2,2,3,3")
    player.locator(".prev").click()
    expect(player).to_have_attribute("data-label", "2,1")
    player.focus()
    player.press("ArrowLeft")
    expect(player).to_have_attribute("data-label", "2,0")
    shown = json.loads(player.locator("canvas[data-role=products]").get_attribute("data-values"))
    np.testing.assert_array_equal(shown, WORKED_EXAMPLE[2:5, 0:3] * kernel("vertical_edge"))
    expect(app_page.get_by_test_id("stException")).to_have_count(0)


def test_export_gif_is_drawn_when_its_button_is_pressed(app_page: Page, app_url: str) -> None:
    page = app_page
    page.goto(app_url + "/convolution")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    main.get_by_text("Export: GIF for slides, PyTorch code for a notebook").click()
    expect(main.get_by_text("nn.Conv2d(1, 1, kernel_size=3", exact=False)).to_be_visible()

    with page.expect_download() as download:
        main.get_by_role("button", name="Download the animation (GIF)").click()

    assert download.value.suggested_filename == "convolution.gif"
    with open(download.value.path(), "rb") as gif:
        assert gif.read(6) == b"GIF89a"
    expect(page.get_by_test_id("stException")).to_have_count(0)
