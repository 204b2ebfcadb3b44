"""Classroom in a real browser: the Compare page's columns, a shared model's link after a
server restart, and the lesson's next / previous."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import App, biased_lenet, expect_no_exception, main, wait_for_app
from playwright.sync_api import Browser, expect

from cnnviz.models.store import STORE_ENV, ModelStore

pytestmark = pytest.mark.e2e


def test_compare_page_shows_three_models_in_three_columns(app: App) -> None:
    page = app.open("/compare?models=lenet5,tinyvgg,resnet18")

    expect_no_exception(page)
    names = ["LeNet-5 (1998)", "TinyVGG (2020)", "ResNet-18 (2015)"]
    headings = [page.get_by_role("heading", name=n) for n in names]
    boxes = []
    for heading in headings:
        expect(heading).to_be_visible()
        boxes.append(heading.bounding_box())
    assert [round(b["y"]) for b in boxes] == [round(boxes[0]["y"])] * 3  # one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # three columns, left to right
    column = main(page).get_by_test_id("stColumn").filter(has=headings[2])
    expect(column.get_by_text("Grad-CAM at layer4", exact=False)).to_be_visible()
    table = main(page).get_by_test_id("stTable")  # a plain table: no data grid to load
    expect(table).to_be_visible()
    expect(table).to_contain_text("ResNet-18")


def test_a_shared_link_opens_the_model_after_a_server_restart(
    browser: Browser, server, tmp_path: Path
) -> None:
    store = tmp_path / "shared"
    data, label = biased_lenet()
    ref = ModelStore(store).share(data).ref
    port = server.free_port()
    path = f"/feature_maps?model=lenet5&weights={ref}&sample=digit_3"

    for _restart in range(2):  # the same link on a new server, then on a restarted one
        with server(tmp_path / "torch_home", port, **{STORE_ENV: str(store)}) as url:
            context = browser.new_context(viewport={"width": 1280, "height": 1200})
            try:
                page = context.new_page()
                page.set_default_timeout(90_000)
                page.goto(url + path)
                wait_for_app(page)
                expect_no_exception(page)
                shared = main(page).get_by_text(f"Shared with the class ({ref}", exact=False)
                expect(shared).to_be_visible()
                top = main(page).get_by_test_id("stProgress").first
                expect(top).to_contain_text(re.compile(rf"^{label} — 100%"))
            finally:
                context.close()


def test_an_unknown_shared_link_says_so(app: App) -> None:
    page = app.open("/feature_maps?model=lenet5&weights=shared-AAAAAAAAAAAAAAAA")
    expect(main(page).get_by_test_id("stAlertContentError")).to_contain_text(
        "There is no shared model 'shared-AAAAAAAAAAAAAAAA' on this server"
    )


def test_lesson_next_and_previous(app: App) -> None:
    page = app.open("/")
    main(page).get_by_role("link", name="Teach it: a guided lesson").click()
    expect(main(page).get_by_text("step 1 of 14", exact=False)).to_be_visible()
    # .first: a stretched button with a tooltip is drawn twice (one copy is hidden).
    page.locator(".st-key-lesson-next button").first.click()
    expect(main(page).locator("h1").first).to_have_text("Convolution")
    expect(main(page).get_by_text("step 2 of 14", exact=False)).to_be_visible()
    assert "step=2" in page.url
    wait_for_app(page)
    page.locator(".st-key-lesson-prev button").first.click()
    expect(main(page).get_by_text("step 1 of 14", exact=False)).to_be_visible()
    wait_for_app(page)
    expect_no_exception(page)
