"""The Grad-CAM & saliency page in a real browser: upload a photo and see its map."""

from __future__ import annotations

import re

import pytest
from browser import App, expect_loaded, expect_no_exception, gradient_png, main, upload
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_upload_a_photo_and_see_the_overlay(app: App) -> None:
    page = app.open("/attribution?model=tinyvgg&weights=random")
    expect(main(page).get_by_role("heading", name="Grad-CAM & saliency")).to_be_visible()

    upload(page, "photo.png", gradient_png())

    banner_name = main(page).locator(
        "[data-testid='stMarkdownContainer'] strong", has_text="photo.png"
    )
    expect(banner_name).to_be_visible()
    overlay = main(page).get_by_test_id("stImage").filter(has_text="Overlay")
    expect_loaded(overlay.first)
    caption = main(page).get_by_text(re.compile(r"^Grad-CAM at features\.relu2_2 for “"))
    expect(caption.first).to_be_visible()
    expect(main(page).get_by_text("meaningless", exact=False).first).to_be_visible()
    expect(main(page).get_by_role("button", name="Download PNG").first).to_be_visible()
    expect_no_exception(page)


def test_sanity_check_in_the_browser(app: App) -> None:
    page = app.open("/attribution?sample=digit_3")
    main(page).get_by_role("tab", name="Sanity check").click()
    expect(page).to_have_url(re.compile(r"[?&]attr\.tab=Sanity(\+|%20)check"))  # a link to it
    main(page).get_by_role("button", name="Run the sanity check").click()

    row = main(page).get_by_test_id("stImage").filter(has_text="as the layers are randomized")
    expect_loaded(row)
    expect(main(page).locator(".js-plotly-plot").first).to_be_visible()
    expect_no_exception(page)


def test_a_link_opens_its_tab(app: App) -> None:
    page = app.open("/attribution?sample=digit_3&attr.tab=Top-5+classes")

    expect(main(page).get_by_role("tab", name="Top-5 classes")).to_have_attribute(
        "aria-selected", "true"
    )
    row = main(page).get_by_test_id("stImage").filter(has_text="each of the top-5 classes")
    expect_loaded(row)
    main(page).get_by_role("tab", name="Two methods side by side").click()
    expect(
        main(page).get_by_test_id("stImage").filter(has_text="Saliency (gradient)")
    ).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"attr\.tab="))  # the first tab needs no parameter
    expect_no_exception(page)
