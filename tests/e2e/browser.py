"""Helpers for the browser tests: open a page and wait for Streamlit, upload, find things."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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


def biased_lenet() -> tuple[bytes, str]:
    """A LeNet-5 checkpoint of our own that says "4" to every image, whatever it is; and "4"."""
    import torch

    import cnnviz

    model = cnnviz.load_model("lenet5", "random")
    state = model.module.state_dict()
    last = [k for k in state if k.endswith(".bias")][-1]
    state[last] = torch.zeros_like(state[last])
    state[last][4] = 30.0  # every logit but this one is small next to it
    model.module.load_state_dict(state)
    buffer = io.BytesIO()
    cnnviz.save_checkpoint(model, buffer)
    return buffer.getvalue(), "4"


def upload(page: Page, name: str, data: bytes, mime: str = "image/png") -> None:
    """Put a file into the sidebar's "Upload an image" input, as a user's file chooser would.

    Once the uploader lists the file, it reached the server. On a loaded machine a change that
    lands while the sidebar is being redrawn can be lost (seen once in a full-suite run: the
    page stayed on the sample); then the file is chosen again, as a user would.
    """
    # The first of the sidebar's file inputs (the lesson menu's own is at its foot).
    sidebar = page.get_by_test_id("stSidebar")
    for attempt in range(2):
        sidebar.locator("input[type=file]").first.set_input_files(
            files=[{"name": name, "mimeType": mime, "buffer": data}]
        )
        try:
            sidebar.get_by_text(name).first.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            if attempt:
                raise


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
