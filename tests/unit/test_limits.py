"""Upload limits: one number per uploader, the same in the library, the page and the server."""

import ast
import inspect
import io
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnviz
from cnnviz import limits
from cnnviz.data import dataset_from_zip

ROOT = Path(__file__).resolve().parents[2]


def test_server_cap_is_the_largest_uploader_limit() -> None:
    """The server refuses anything over ``maxUploadSize`` before a page sees it, so it must be
    the largest per-uploader limit: larger would be a promise no uploader makes, smaller would
    break the checkpoint uploader's promise."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == max(x.megabytes for x in limits.LIMITS)


def _uploaders(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "file_uploader"
    ]


def test_every_uploader_sets_and_states_its_limit() -> None:
    """Each st.file_uploader passes ``max_upload_size=limits.X.megabytes`` and states it in its
    label with ``limits.X.describe()`` (the same X)."""
    calls = [
        call
        for folder in ("app_pages", "cnnviz/ui")
        for path in sorted((ROOT / folder).glob("*.py"))
        for call in _uploaders(path)
    ]
    assert len(calls) >= 3  # image, checkpoint, zip
    for call in calls:
        size = next(k.value for k in call.keywords if k.arg == "max_upload_size")
        assert ast.unparse(size).startswith("limits.")
        which = ast.unparse(size).split(".")[1]
        assert f"limits.{which}.describe()" in ast.unparse(call.args[0])


def test_image_limit_is_the_load_image_default() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="BMP")
    data = buffer.getvalue()  # 4.3 MB
    assert cnnviz.load_image(data).size == (1200, 1200)
    with pytest.raises(cnnviz.InputError, match="MB"):
        cnnviz.load_image(data, max_bytes=len(data) - 1)


def test_library_defaults_are_the_uploader_limits() -> None:
    assert inspect.signature(dataset_from_zip).parameters["max_bytes"].default == (
        limits.ZIP.max_bytes
    )
    assert inspect.signature(cnnviz.load_image).parameters["max_bytes"].default == (
        limits.IMAGE.max_bytes
    )


def test_zip_over_its_limit_says_how_big_it_is() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("a", "b"):
            for i in range(3):
                image = io.BytesIO()
                Image.new("L", (8, 8), 40 * i).save(image, format="PNG")
                archive.writestr(f"{label}/{i}.png", image.getvalue())
    data = buffer.getvalue()
    assert dataset_from_zip(data, size=8, channels=1).classes == ("a", "b")
    with pytest.raises(cnnviz.InputError, match=r"0\.0 MB, more than the limit of 0 MB"):
        dataset_from_zip(data, size=8, channels=1, max_bytes=100)
