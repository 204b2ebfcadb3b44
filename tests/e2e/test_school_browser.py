"""A school in a real browser: two cnnviz replicas behind HAProxy (``cnnviz.school``, what
``make school`` starts), with a shared-model store. A tab stays on its replica; a model in the
store opens on either replica; a replica killed mid-lesson (by its pid) and the tab is back on
the same view, served by the live replica, within seconds.

One school for the module (starting two servers is the slow part); the killing test runs last.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from browser import biased_lenet, expect_loaded, expect_no_exception, main, wait_for_app
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from cnnviz import school
from cnnviz.models.store import ModelStore

pytestmark = pytest.mark.e2e

HEADER = "x-cnnviz-replica"
BACK_WITHIN_S = 10.0
"""A tab whose replica died shows its view again within this (about 1 s measured here)."""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[school.School]:
    try:
        school.haproxy_binary()
    except school.SchoolError as error:
        pytest.skip(str(error))
    tmp = tmp_path_factory.mktemp("school")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = school.SchoolOptions(
        replicas=2, port=port, host="127.0.0.1", run_dir=tmp / "run", shared=tmp / "shared",
        env={"TORCH_HOME": str(tmp / "torch_home"), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"},
        timeout_s=120,
    )  # fmt: skip
    try:
        yield school.start(options)
    finally:
        school.stop(options.run_dir)


class Replicas:
    """Which replica answered each of a page's responses (HAProxy's header)."""

    def __init__(self, page: Page) -> None:
        self.seen: list[tuple[str, str]] = []
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        self.seen.append((response.url, response.headers.get(HEADER, "")))

    def names(self, since: int = 0) -> set[str]:
        return {name for _, name in self.seen[since:]}

    def media(self, since: int = 0) -> set[str]:
        """Replicas that served the pictures a run made (only the run's own replica has them)."""
        return {name for url, name in self.seen[since:] if "/media/" in url}


def _tab(browser: Browser, replica: str | None = None, url: str = "") -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    if replica is not None:  # the cookie HAProxy set for that replica: the tab is pinned to it
        context.add_cookies([{"name": "SERVERID", "value": replica, "url": url}])
    context.set_default_timeout(90_000)
    return context


def _open(context: BrowserContext, url: str) -> tuple[Page, Replicas]:
    """A new page of ``context`` at ``url``, its script run, and who answered it."""
    page = context.new_page()
    replicas = Replicas(page)
    page.goto(url)
    wait_for_app(page)
    return page, replicas


def _shared_link(running: school.School, sample: str = "digit_3") -> tuple[str, str, str]:
    data, label = biased_lenet()
    ref = ModelStore(running.shared).share(data).ref
    return f"/feature_maps?model=lenet5&weights={ref}&sample={sample}", ref, label


def _expect_shared_model(page: Page, ref: str, label: str) -> None:
    expect_no_exception(page)
    expect(main(page).get_by_text(f"Shared with the class ({ref}", exact=False)).to_be_visible()
    top = main(page).get_by_test_id("stProgress").first
    expect(top).to_contain_text(re.compile(rf"^{label} — 100%"))


def test_a_tab_stays_on_one_replica_and_tabs_spread(
    browser: Browser, running: school.School
) -> None:
    first, second = _tab(browser), _tab(browser)
    try:
        page, replicas = _open(first, running.url + "/feature_maps?model=lenet5&sample=digit_3")
        main(page).get_by_role("img").first.wait_for()
        page.goto(running.url + "/pooling?model=lenet5&sample=digit_3")
        wait_for_app(page)
        (mine,) = replicas.names()  # the page, scripts, health, pictures: all one replica
        assert replicas.media() == {mine}  # its pictures, hence its websocket's runs, too
        other, others = _open(second, running.url + "/pooling?model=lenet5&sample=digit_3")
        expect_no_exception(other)
        # The first tab's websocket holds a connection to its replica: leastconn sends the
        # next new tab to the other one.
        assert others.names() == {"r1", "r2"} - {mine}
    finally:
        first.close()
        second.close()


def test_a_model_in_the_shared_store_opens_on_every_replica(
    browser: Browser, running: school.School
) -> None:
    path, ref, label = _shared_link(running)
    for replica in ("r1", "r2"):
        context = _tab(browser, replica, running.url)
        try:
            page, replicas = _open(context, running.url + path)
            _expect_shared_model(page, ref, label)
            assert replicas.names() == {replica}
        finally:
            context.close()


_RECORD_STATES = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    window.cnnvizStates = [];
    new MutationObserver(() => window.cnnvizStates.push(
        `${app.dataset.testConnectionState}/${app.dataset.testScriptState}`
    )).observe(app, {attributes: true});
}"""
_RAN_AGAIN = """() => {
    const states = window.cnnvizStates;
    const lost = states.findIndex((s) => !s.startsWith("CONNECTED/"));
    return lost >= 0 && states.slice(lost).includes("CONNECTED/running")
        && states[states.length - 1] === "CONNECTED/notRunning";
}"""


def test_a_replica_killed_mid_lesson_and_the_tab_comes_back_on_the_same_view(
    browser: Browser, running: school.School
) -> None:
    path, ref, label = _shared_link(running, sample="digit_7")  # not LeNet-5's own sample
    context = _tab(browser)
    try:
        page, replicas = _open(context, running.url + path)
        _expect_shared_model(page, ref, label)
        (dead,) = replicas.names()
        (live,) = {"r1", "r2"} - {dead}
        victim = next(p for p in running.replicas if p.name == dead)
        since = len(replicas.seen)

        page.evaluate(_RECORD_STATES)
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        # Disconnected, connected again, and the view ran again (on the live replica).
        page.wait_for_function(_RAN_AGAIN, timeout=BACK_WITHIN_S * 1000)
        back_s = time.monotonic() - killed
        wait_for_app(page)

        assert back_s < BACK_WITHIN_S
        # The URL carried the view: the same page, model and image (Streamlit leaves values
        # that are the defaults out of the URL when it runs the page again).
        assert page.url.startswith(f"{running.url}/feature_maps?")
        assert {f"weights={ref}", "sample=digit_7"} <= set(page.url.split("?")[1].split("&"))
        expect(main(page).locator("h1").first).to_have_text("Feature maps")
        expect(main(page).get_by_text("image: Handwritten 7")).to_be_visible()
        _expect_shared_model(page, ref, label)  # read from the store by the live replica
        for picture in main(page).get_by_test_id("stImage").all():
            expect_loaded(picture)
        assert replicas.names(since) == {live}
        assert not victim.alive()
        # The lesson goes on there: the next page's pictures come from the live replica.
        since = len(replicas.seen)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Pooling").click()
        expect(main(page).locator("h1").first).to_have_text("Pooling")
        wait_for_app(page)
        expect_no_exception(page)
        expect_loaded(main(page).get_by_test_id("stImage").first)
        assert replicas.media(since) == {live}
    finally:
        context.close()
