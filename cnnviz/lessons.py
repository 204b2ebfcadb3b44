"""Guided lessons: an ordered list of steps, each a link into the app with a teacher's note.

A lesson is a plain TOML file a teacher can write::

    title = "How a CNN sees"

    [[steps]]
    title = "A filter slides over the image"
    page = "convolution"                        # a page of the app ("" or "home" for Home)
    query = { model = "lenet5", sample = "digit_3" }   # what the link sets (optional)
    show = "Press Play: each output number is a weighted sum of the 3x3 window."
    ask = "What happens to the output where the window sees only black?"

A step is a deep link: ``/<page>?<query>`` opens exactly that view for anyone, so the class can
follow on their own screens (the page shows a QR code of it). cnnviz ships one lesson,
``how_a_cnn_sees``; :func:`read_lesson` reads a teacher's own file and says at which line it
is wrong when it is.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

from cnnviz import limits
from cnnviz.errors import InputError

PAGES = (
    "", "convolution", "feature_maps", "pooling", "inside_layer", "attribution", "feature_vis",
    "adversarial", "compare", "training",
)  # fmt: skip
"""The app's pages by URL path (``app.py``); ``""`` is Home."""
LESSONS_DIR = Path(str(resources.files("cnnviz") / "assets" / "lessons"))
MAX_STEPS = 100
_TEXT_FIELDS = ("title", "show", "ask")


class LessonError(InputError):
    """A lesson file cannot be used; the message names the line."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a lesson.

    Attributes:
        title: What the step is about, a few words.
        page: The page's URL path (``""`` for Home, see :data:`PAGES`).
        query: The link's query parameters, as (name, value) pairs in the file's order.
        show: The teacher's note: what to show.
        ask: The teacher's note: what to ask the class.
    """

    title: str
    page: str
    query: tuple[tuple[str, str], ...]
    show: str
    ask: str

    @property
    def link(self) -> str:
        """The step's path and query, e.g. ``/convolution?model=lenet5``."""
        query = urlencode(self.query, safe=",")
        return f"/{self.page}" + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Lesson:
    """A guided lesson: a title and its steps, in order.

    Attributes:
        key: The file's name without ``.toml`` (``?lesson=<key>`` in a link).
        title: The lesson's title.
        steps: At least one :class:`Step`.
    """

    key: str
    title: str
    steps: tuple[Step, ...]


def list_lessons() -> tuple[str, ...]:
    """The keys of the lessons that ship with cnnviz, sorted."""
    return tuple(sorted(p.stem for p in LESSONS_DIR.glob("*.toml")))


def load_lesson(key: str) -> Lesson:
    """A lesson that ships with cnnviz.

    Raises:
        InputError: No such lesson (the message lists the known ones).
    """
    if key not in list_lessons():
        known = ", ".join(list_lessons())
        raise InputError(f"There is no lesson called '{key}'. Lessons: {known}.")
    return read_lesson((LESSONS_DIR / f"{key}.toml").read_bytes(), key)


def read_lesson(data: bytes | str, key: str = "lesson") -> Lesson:
    """Read a lesson file (TOML; see the module docstring for its fields).

    Args:
        data: The file's bytes or text.
        key: The lesson's key (its file name without ``.toml``).

    Returns:
        The :class:`Lesson`.

    Raises:
        LessonError: Not UTF-8 or not TOML, or a step that misses a field, names no page of
            the app or has a query that is not a table of text; the message names the line.
    """
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > limits.LESSON.max_bytes:
        raise LessonError(
            f"This lesson file is {size / 1e6:.1f} MB; a lesson file may be "
            f"{limits.LESSON.describe()}."
        )
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise LessonError("This lesson file is not UTF-8 text: save it as UTF-8.") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(_toml_sentence(str(error))) from None
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        raise LessonError(
            'This lesson file needs a title before its first [[steps]]: title = "...".'
        )
    raw = doc.get("steps")
    if not isinstance(raw, list) or not raw:
        raise LessonError("This lesson file has no steps: add [[steps]] tables.")
    if len(raw) > MAX_STEPS:
        raise LessonError(f"This lesson has {len(raw)} steps; at most {MAX_STEPS} are allowed.")
    starts = _step_lines(text)
    steps = tuple(
        _step(entry, i + 1, starts[i] if i < len(starts) else 0) for i, entry in enumerate(raw)
    )
    return Lesson(key, title.strip(), steps)


def _toml_sentence(message: str) -> str:
    """tomllib's "Invalid value (at line 3, column 8)" as a sentence that leads with the line."""
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    what = message[: found.start()].strip() if found else message
    if found is None:
        return f"This lesson file is not valid TOML: {what}."
    line, column = found.groups()
    hint = ': text needs quotes, e.g. page = "convolution"' if what == "Invalid value" else ""
    return (
        f"Line {line} of the lesson file is not valid TOML ({what.lower()}, column {column}){hint}."
    )


def _step_lines(text: str) -> list[int]:
    """The line numbers (from 1) of each ``[[steps]]`` header, in order."""
    header = re.compile(r"^\s*\[\[\s*steps\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), start=1) if header.match(line)]


def _step(entry: object, number: int, line: int) -> Step:
    where = f"Step {number} of the lesson (the [[steps]] at line {line})"
    if not isinstance(entry, dict):
        raise LessonError(f"{where} is not a table of fields.")
    for name in _TEXT_FIELDS:
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            raise LessonError(f'{where} needs {name} = "..." (text).')
    page = entry.get("page")
    page = "" if page == "home" else page
    if not isinstance(page, str):
        raise LessonError(f'{where} needs page = "..." (e.g. "convolution", or "home").')
    if page not in PAGES:
        known = ", ".join(p or "home" for p in PAGES)
        raise LessonError(f"{where} names the page '{page}', which the app has not: {known}.")
    query = entry.get("query", {})
    if not isinstance(query, dict) or not all(
        isinstance(v, str | bool | int) for v in query.values()
    ):
        raise LessonError(
            f'{where} has a query that is not a table of text: query = {{ a = "b" }}.'
        )
    pairs = tuple((str(k), _text(v)) for k, v in query.items())
    return Step(entry["title"].strip(), page, pairs, entry["show"].strip(), entry["ask"].strip())


def _text(value: str | bool | int) -> str:
    """A query value as the URL writes it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
