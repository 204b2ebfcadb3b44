"""Benchmark: what a student feels in a real browser, against a minimal Streamlit app.

Starts two servers on this machine, offline, the way ``make run`` does (``streamlit run
serve.py``): cnnviz, and a minimal Streamlit app (a title and one ``st.image``, Streamlit's own
defaults). Headless Debian chromium then opens, for every page and model:

  * fresh tab -> first visual: a new browser context (a student's new tab, nothing cached),
    from navigation start until the page's main picture is drawn (the feature grid, the
    animation, the Grad-CAM overlay...); the minimal app's is its one image;
  * fresh tab -> idle: until the script finished and every image and chart on the page is drawn;
  * server CPU per fresh session: the server's user + system CPU seconds from before the tab
    opens until it is idle and closed (``/proc/<pid>/stat``);
  * layer step: Feature maps, the "▶" button, until the next layer's grid is drawn;
  * model switch: Feature maps, another model in the sidebar, until its grid is drawn.

Every number is the median of ``--repeats`` fresh tabs after one warm-up tab per page (server
warm). Both servers are measured in the same run, interleaved, so the ratios hold on a noisy
machine. Targets (issue 10): first visual <= 1.5x the minimal app's on every page; server CPU
per fresh session <= 1.3x the minimal app's; layer step <= 0.4 s.

Run: .venv/bin/python benchmarks/bench_browser.py [--repeats N] [--models lenet5,resnet18]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from servers import Server, streamlit_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CNNVIZ_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 720}
TIMEOUT_MS = 120_000

MINIMAL_CONFIG = """[server]
headless = true
fileWatcherType = "none"

[browser]
gatherUsageStats = false
"""
MINIMAL_APP = """
import streamlit as st
st.title("Minimal")
st.image("picture.png")
"""

# What counts as "the page's main picture is drawn": a count of finished images (decoded, with
# pixels), of drawn plotly charts, of drawn step players and of progress bars in the main area.
PAGES: dict[str, tuple[int, ...]] = {
    "/": (1, 0, 0),  # the network's input image
    "/convolution": (0, 0, 1),  # the step animation
    "/feature_maps": (2, 0, 0),  # the input image and the feature grid
    "/pooling": (2, 0, 0),  # the grids before and after pooling
    "/attribution": (1, 0, 0),  # the Grad-CAM overlay
    "/training": (0, 0, 0),  # nothing to draw before a run: the settings (title + Train button)
    "/inside_layer": (0, 0, 0, 6),  # softmax's probabilities (bars)
    "/feature_vis": (1, 0, 0),  # what each channel looks for (made once per server)
    "/adversarial": (1, 0, 0),  # the original, the change and the adversarial image (one picture)
    "/compare": (1, 0, 0),  # the first network's view (three columns)
}

DRAWN_JS = """([images, charts, players = 0, bars = 0]) => {
  const main = document.querySelector("[data-testid='stMain']");
  if (!main || !main.querySelector("h1")) return false;
  const done = [...main.querySelectorAll("[data-testid='stImage'] img")]
    .filter((img) => img.complete && img.naturalWidth > 0).length;
  const drawn = main.querySelectorAll(".js-plotly-plot .main-svg").length;
  const played = main.querySelectorAll("[data-testid='stepPlayer'][data-step]").length;
  const barred = main.querySelectorAll("[data-testid='stProgress']").length;
  if (done < images || drawn < charts || played < players || barred < bars) return false;
  return performance.now();
}"""

IDLE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const main = document.querySelector("[data-testid='stMain']");
  if (!app || !main || !main.querySelector("h1")) return false;
  if (app.getAttribute("data-test-script-state") !== "notRunning") return false;
  const images = [...main.querySelectorAll("[data-testid='stImage'] img")];
  if (!images.every((img) => img.complete && img.naturalWidth > 0)) return false;
  const charts = main.querySelectorAll("[data-testid='stPlotlyChart']").length;
  if (main.querySelectorAll(".js-plotly-plot .main-svg").length < charts) return false;
  return performance.now();
}"""


@dataclass(frozen=True)
class Visit:
    first_visual_s: float
    idle_s: float
    server_cpu_s: float


def _wait_for(page: Page, script: str, arg: object = None) -> float:
    """Seconds from navigation start until ``script`` (polled every frame) returns a time."""
    handle = page.wait_for_function(script, arg=arg, polling="raf", timeout=TIMEOUT_MS)
    return float(handle.json_value()) / 1000


def fresh_tab(browser: Browser, server: Server, path: str, drawn: tuple[int, ...]) -> Visit:
    """Open ``path`` in a new browser context; time the first visual and idle; close it."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    before = server.cpu_s()
    page.goto(server.url + path)
    first = _wait_for(page, DRAWN_JS, list(drawn))
    idle = _wait_for(page, IDLE_JS)
    context.close()
    time.sleep(0.3)  # the server notices the closed websocket and ends the session
    return Visit(first, idle, server.cpu_s() - before)


def _timed_rerun(page: Page, action: Callable[[], None], changed_js: str) -> float:
    """Seconds from the user's click or key (as the page saw it, not Playwright's checks
    before it) until ``changed_js`` holds and the page is idle again."""
    page.evaluate(
        """() => { window.__acted = null;
          for (const kind of ["click", "keydown"]) document.addEventListener(kind,
            () => { window.__acted = window.__acted ?? performance.now(); },
            {capture: true, once: true}); }"""
    )
    action()
    page.wait_for_function(changed_js, polling="raf", timeout=TIMEOUT_MS)
    return _wait_for(page, IDLE_JS) - page.evaluate("window.__acted") / 1000


HEADING_JS = """(old) => {
  const h = [...document.querySelectorAll("[data-testid='stMain'] h3")]
    .find((e) => e.textContent.startsWith("Output of"));
  return h && h.textContent !== old;
}"""


def _heading(page: Page) -> str:
    return page.evaluate(
        """() => [...document.querySelectorAll("[data-testid='stMain'] h3")]
             .find((e) => e.textContent.startsWith("Output of"))?.textContent ?? "" """
    )


def _open_feature_maps(
    browser: Browser, server: Server, model: str
) -> tuple[BrowserContext, Page, str]:
    """A new tab on Feature maps with ``model``, idle; and the layer heading it shows."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{server.url}/feature_maps?model={model}")
    _wait_for(page, IDLE_JS)
    return context, page, _heading(page)


def layer_step(browser: Browser, server: Server, model: str) -> float:
    """Feature maps: seconds from pressing "▶" until the next layer's grid is drawn."""
    context, page, old = _open_feature_maps(browser, server, model)
    button = page.get_by_test_id("stMain").get_by_role("button", name="▶")
    seconds = _timed_rerun(page, button.click, f"() => ({HEADING_JS})({old!r})")
    context.close()
    return seconds


def model_switch(browser: Browser, server: Server, start: str, target: str) -> float:
    """Feature maps: seconds from choosing ``target`` in the sidebar until its grid is drawn."""
    context, page, old = _open_feature_maps(browser, server, start)
    box = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    box.click()
    box.fill(target)

    def choose() -> None:
        page.keyboard.press("Enter")

    seconds = _timed_rerun(page, choose, f"() => ({HEADING_JS})({old!r})")
    context.close()
    return seconds


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _row(label: str, ours: float, base: float | None, unit: str = "s") -> str:
    ratio = f"{ours / base:6.2f}x" if base else "      -"
    base_text = f"{base:8.2f}" if base is not None else "       -"
    return f"{label:<44} {ours:8.2f} {base_text} {ratio}  {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="lenet5,resnet18")
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    models = args.models.split(",")
    pages = args.pages.split(",")

    import cnnviz

    work = Path(tempfile.mkdtemp(prefix="cnnviz-bench-"))
    (work / "minimal").mkdir()
    (work / "minimal" / "app.py").write_text(MINIMAL_APP)
    cnnviz.load_sample("chelsea").save(work / "minimal" / "picture.png")
    # The minimal app is Streamlit's defaults but for the file watcher, which cnnviz turns off
    # too (it costs a fresh session more than the app itself).
    (work / "minimal" / ".streamlit").mkdir()
    (work / "minimal" / ".streamlit" / "config.toml").write_text(MINIMAL_CONFIG)
    with (
        streamlit_server(work / "minimal" / "app.py", work) as minimal,
        streamlit_server(ROOT / "serve.py", work) as ours,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        report(browser, ours, minimal, models, pages, args.repeats)
        browser.close()


def report(
    browser: Browser, ours: Server, minimal: Server, models: list[str], pages: list[str], n: int
) -> None:
    """Measure and print the table (cnnviz, the minimal app, their ratio)."""
    fresh_tab(browser, minimal, "/", (1, 0))  # warm: static files, first run
    print(f"{'':<44} {'cnnviz':>8} {'minimal':>8} {'ratio':>7}")
    for model in models:
        for page in pages:
            path = f"{page}?model={model}"
            fresh_tab(browser, ours, path, PAGES[page])  # warm the server for this view
            visits, baseline = [], []
            for _ in range(n):
                visits.append(fresh_tab(browser, ours, path, PAGES[page]))
                baseline.append(fresh_tab(browser, minimal, "/", (1, 0)))
            base_first = _median([v.first_visual_s for v in baseline])
            base_idle = _median([v.idle_s for v in baseline])
            base_cpu = _median([v.server_cpu_s for v in baseline])
            first = _median([v.first_visual_s for v in visits])
            print(_row(f"{model} {page}: first visual", first, base_first))
            print(_row(f"{model} {page}: idle", _median([v.idle_s for v in visits]), base_idle))
            cpu = _median([v.server_cpu_s for v in visits])
            print(_row(f"{model} {page}: server CPU per session", cpu, base_cpu, "CPU s"))
            sys.stdout.flush()
        steps = [layer_step(browser, ours, model) for _ in range(n)]
        print(_row(f"{model} feature maps: layer step", _median(steps), None))
    if len(models) > 1:
        switches = [model_switch(browser, ours, models[0], models[1]) for _ in range(n)]
        label = f"feature maps: model switch {models[0]} -> {models[1]}"
        print(_row(label, _median(switches), None))
    rss = [server.memory("VmRSS") / 2**20 for server in (ours, minimal)]
    print(f"server RSS at the end: cnnviz {rss[0]:.0f} MB, minimal {rss[1]:.0f} MB")


if __name__ == "__main__":
    main()
