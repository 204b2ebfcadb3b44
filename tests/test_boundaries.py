"""The house rule: compute in cnnviz/, screen in app.py, app_pages/ and cnnviz/ui/."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
ALLOWED = {"streamlit", "cnnviz"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_import_only_streamlit_and_cnnviz(page: Path) -> None:
    assert _imports(page) <= ALLOWED


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_stay_thin(page: Path) -> None:
    assert len(page.read_text().splitlines()) <= 150


def test_pages_folder_is_not_legacy_pages() -> None:
    # A folder named pages/ beside app.py switches Streamlit into its legacy multipage mode:
    # a deep link opened first after a server start ran the page without app.py's sidebar.
    assert not (ROOT / "pages").exists()


def test_library_imports_without_streamlit() -> None:
    code = (
        "import sys; sys.modules['streamlit'] = None\n"
        "import cnnviz, cnnviz.figures, cnnviz.steps, cnnviz.probe, cnnviz.models, cnnviz.images\n"
        "assert 'streamlit' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_ui_imports_streamlit() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cnnviz").rglob("*.py")
        if "ui" not in path.relative_to(ROOT / "cnnviz").parts[:1] and "streamlit" in _imports(path)
    ]
    assert offenders == []
