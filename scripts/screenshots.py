"""Take screenshots of a running cnnviz app with Debian's chromium, for people to look at.

Usage: python scripts/screenshots.py http://127.0.0.1:8501 OUT_DIR [path ...]
       e.g. paths "/" "/feature_maps?model=resnet18" "/pooling?model=lenet5"
SHOT_SIZE=1280x720 sets the window (default 1400x2400); the shot is of the whole page.
"""

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    base, out, *paths = sys.argv[1:]
    Path(out).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        width, height = map(int, os.environ.get("SHOT_SIZE", "1400x2400").split("x"))
        page = browser.new_page(viewport={"width": width, "height": height})
        for index, path in enumerate(paths or ["/"]):
            page.goto(base + path)
            page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=60000)
            page.wait_for_timeout(1500)
            page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
                state="attached", timeout=120000
            )
            plots = page.locator(".js-plotly-plot")
            if plots.count():
                plots.first.wait_for(timeout=30000)
            page.wait_for_timeout(2500)
            name = f"{index:02d}_" + (path.strip("/").replace("?", "_").replace("=", "-") or "home")
            page.screenshot(path=f"{out}/{name[:80]}.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
