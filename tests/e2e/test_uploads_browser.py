"""Upload limits in a real browser: each uploader states its limit, takes a file just under it,
refuses one just over it with a sentence, and an unsupported type gets a sentence too."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from browser import App, expect_no_exception, main, upload, wait_for_app
from PIL import Image
from playwright.sync_api import Page, expect

from cnnviz import limits

pytestmark = pytest.mark.e2e

MARGIN = 64 * 1024  # "just": 64 KiB either side of the limit
BROWSER_MB = 1_000_000  # Streamlit's uploader counts decimal megabytes (binary on Windows only)


TOO_LARGE = re.compile(r"File must be [\d.]+\s?[MG]B or smaller")  # Streamlit's own sentence


def _browser_limit(limit: limits.UploadLimit) -> int:
    return limit.megabytes * BROWSER_MB


def _bmp_of_size(size: int) -> bytes:
    """A valid BMP of exactly ``size`` bytes (noise, 24 bits, rows of a multiple of 4 bytes)."""
    header = 54
    width = 1024  # 3072 bytes a row: no row padding
    height = (size - header) // (3 * width)
    pattern = bytes(range(256)) * (width * height * 3 // 256)
    pixels = Image.frombytes("RGB", (width, height), pattern)
    buffer = io.BytesIO()
    pixels.save(buffer, format="BMP")
    data = buffer.getvalue()
    assert len(data) <= size
    return data


def _sidebar_file_input(page: Page, label: str):
    return page.get_by_test_id("stSidebar").get_by_test_id("stFileUploader").filter(has_text=label)


def test_image_just_under_the_limit_is_shown(app: App) -> None:
    page = app.open("/")
    uploader = _sidebar_file_input(page, "Upload an image")
    expect(uploader).to_contain_text(limits.IMAGE.describe())
    data = _bmp_of_size(_browser_limit(limits.IMAGE) - MARGIN)

    upload(page, "big.bmp", data, mime="image/bmp")

    banner = main(page).locator("[data-testid='stMarkdownContainer'] strong", has_text="big.bmp")
    expect(banner).to_be_visible()
    wait_for_app(page)
    expect(main(page)).to_contain_text("It sees")
    expect_no_exception(page)


def test_image_just_over_the_limit_is_refused_with_a_sentence(app: App) -> None:
    page = app.open("/")
    data = _bmp_of_size(_browser_limit(limits.IMAGE) + MARGIN)
    assert len(data) > _browser_limit(limits.IMAGE)

    upload(page, "huge.bmp", data, mime="image/bmp")

    uploader = _sidebar_file_input(page, "Upload an image")
    expect(uploader).to_contain_text(TOO_LARGE)
    # The page still shows the sample: nothing reached the server.
    expect(main(page).locator("strong", has_text="huge.bmp")).to_have_count(0)
    expect_no_exception(page)


def test_svg_gets_a_sentence_on_the_page(app: App) -> None:
    page = app.open("/")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect/></svg>'

    upload(page, "logo.svg", svg, mime="image/svg+xml")

    alert = main(page).get_by_test_id("stAlert").filter(has_text="SVG")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("PNG")
    expect_no_exception(page)


def _open_zip_uploader(app: App) -> Page:
    page = app.open("/training")
    main(page).get_by_role("combobox", name="Data set").click()
    page.get_by_role("option", name="folder").click()
    wait_for_app(page)
    return page


def _zip_file(path: Path, size: int) -> Path:
    """Two classes of three tiny images and a stored (uncompressed) filler, ``size`` bytes in all.

    The filler is not an image: the data set skips it and says so.
    """
    images = []
    for label in ("cats", "dogs"):
        for i in range(3):
            image = io.BytesIO()
            Image.new("RGB", (16, 16), (60 * i, 100 if label == "cats" else 0, 0)).save(
                image, format="PNG"
            )
            images.append((f"{label}/{i}.png", image.getvalue()))
    # Each member costs its bytes plus a local header and a directory entry (~110 bytes each
    # with these short names), plus 22 bytes for the end record.
    overhead = sum(len(data) + 2 * len(name) + 76 for name, data in images) + 22
    filler = "cats/filler.bin"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in images:
            archive.writestr(name, data)
        archive.writestr(filler, bytes(size - overhead - 2 * len(filler) - 76))
    assert size - 1024 < path.stat().st_size <= size
    return path


def test_zip_just_under_the_limit_is_read(app: App, tmp_path: Path) -> None:
    page = _open_zip_uploader(app)
    uploader = main(page).get_by_test_id("stFileUploader")
    expect(uploader).to_contain_text(limits.ZIP.describe())
    data = _zip_file(tmp_path / "pets.zip", _browser_limit(limits.ZIP) - MARGIN)

    uploader.locator("input[type=file]").set_input_files(str(data))

    expect(main(page)).to_contain_text("6 of your images in 2 classes", timeout=120_000)
    expect(main(page)).to_contain_text("skipped 1 unreadable file")
    expect_no_exception(page)


def test_zip_just_over_the_limit_is_refused_with_a_sentence(app: App, tmp_path: Path) -> None:
    page = _open_zip_uploader(app)
    data = tmp_path / "too-big.zip"
    with data.open("wb") as file:  # the browser refuses it by its size: no need for real data
        file.truncate(_browser_limit(limits.ZIP) + MARGIN)
    uploader = main(page).get_by_test_id("stFileUploader")

    uploader.locator("input[type=file]").set_input_files(str(data))

    expect(uploader).to_contain_text(TOO_LARGE)
    expect_no_exception(page)


def test_checkpoint_just_under_the_limit_reaches_the_page(app: App, tmp_path: Path) -> None:
    """The browser sends a file just under the checkpoint limit and the server takes it (its
    cap is the largest limit); these bytes are no checkpoint, so the page says so."""
    page = app.open("/?weights=checkpoint")
    uploader = _sidebar_file_input(page, "Checkpoint")
    data = tmp_path / "almost.pt"
    with data.open("wb") as file:  # sparse: zeros that cost no disk
        file.truncate(_browser_limit(limits.CHECKPOINT) - MARGIN)

    uploader.locator("input[type=file]").set_input_files(str(data))

    alert = main(page).get_by_test_id("stAlert").filter(has_text="weights file")
    expect(alert).to_contain_text("not a plain PyTorch weights file", timeout=180_000)
    expect(uploader).not_to_contain_text(TOO_LARGE)
    expect_no_exception(page)


def test_checkpoint_just_over_the_limit_is_refused_with_a_sentence(
    app: App, tmp_path: Path
) -> None:
    page = app.open("/?weights=checkpoint")
    uploader = _sidebar_file_input(page, "Checkpoint")
    expect(uploader).to_contain_text(limits.CHECKPOINT.describe())
    data = tmp_path / "huge.pt"
    with data.open("wb") as file:  # a sparse file: the browser checks the size, not the bytes
        file.truncate(_browser_limit(limits.CHECKPOINT) + MARGIN)

    uploader.locator("input[type=file]").set_input_files(str(data))

    expect(uploader).to_contain_text(TOO_LARGE)
    expect_no_exception(page)
