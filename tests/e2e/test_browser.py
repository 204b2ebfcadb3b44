"""The app in a real browser: deep links, uploads, bad files, navigation and the layer buttons."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000  # a cold model load plus a probe and plotly drawing on a slow, busy CPU
expect.set_options(timeout=TIMEOUT_MS)


class App:
    """The browser page plus the server's URL: ``app.open("/pooling")`` loads and waits."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.url + path)
        wait_for_app(self.page)
        return self.page


@pytest.fixture
def app(app_page: Page, app_url: str) -> App:
    return App(app_page, app_url)


def wait_for_app(page: Page) -> None:
    """Wait until the page's script has run and finished (Streamlit's own signals).

    ``notRunning`` is also the state before the first run starts, so first wait for the page's
    title (every page starts with ``st.title``): then the script has at least begun.
    """
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached"
    )
    main(page).locator("h1").first.wait_for(state="attached")
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached"
    )


def gradient_png() -> bytes:
    """A 120 x 90 RGB gradient with a white square: a small, plainly valid photo."""
    image = Image.new("RGB", (120, 90))
    image.putdata([(4 * (x % 64), 2 * y, 128) for y in range(90) for x in range(120)])
    ImageDraw.Draw(image).rectangle((40, 25, 79, 64), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def upload(page: Page, name: str, data: bytes, mime: str = "image/png") -> None:
    """Put a file into the sidebar's "Upload an image" input, as a user's file chooser would."""
    page.locator("[data-testid='stSidebar'] input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def expect_loaded(image: Locator) -> None:
    """The ``st.image`` element is visible and its picture has arrived and decodes."""
    expect(image).to_be_visible()
    width = image.locator("img").evaluate(
        "async (img) => { await img.decode(); return img.naturalWidth; }"
    )
    assert width > 0, "the image did not load"


def expect_no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_deep_link_shows_resnet18_feature_maps(app: App) -> None:
    page = app.open("/feature_maps?model=resnet18&sample=chelsea")

    heading = main(page).get_by_role("heading", name="Output of conv1 (Conv2d): 64 x 112 x 112")
    expect(heading).to_be_visible()
    expect_loaded(main(page).get_by_test_id("stImage").filter(has_text="The network's input"))
    expect_loaded(
        main(page).get_by_test_id("stImage").filter(has_text="64 of 64 channels of conv1")
    )
    expect(main(page).locator(".js-plotly-plot").first).to_be_visible()
    expect(main(page)).to_contain_text("image: Chelsea")
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
    expect(main(page).locator(".js-plotly-plot").first).to_be_visible()
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
    """Points of the first trace of the live training chart (the per-batch loss)."""
    return (
        main(page)
        .locator(".js-plotly-plot")
        .first.evaluate(
            "(plot) => (plot.data && plot.data[0] && plot.data[0].x) ? plot.data[0].x.length : 0"
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
        " return p && p.data && p.data[0].x.length > n; }",
        arg=first,
        timeout=TIMEOUT_MS,
    )
    assert _curve_points(page) > first

    main(page).get_by_role("button", name="Stop").click()
    expect(main(page)).to_contain_text("Stopped by you", timeout=TIMEOUT_MS)
    expect(main(page).get_by_role("button", name="Download checkpoint")).to_be_visible()
    expect_no_exception(page)
