"""Lessons: the shipped lesson, the file format, and messages that name the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnviz import lessons
from cnnviz.lessons import LessonError, read_lesson

APP = Path(__file__).parents[2] / "app.py"

GOOD = """title = "Mine"

[[steps]]
title = "Maps"
page = "feature_maps"
query = { model = "resnet18", "fm.table" = true }
show = "Show the maps."
ask = "What do you see?"

[[steps]]
title = "Home"
page = "home"
show = "Back home."
ask = "Questions?"
"""


def test_the_shipped_lesson_walks_from_convolution_to_training() -> None:
    assert lessons.list_lessons() == ("how_a_cnn_sees",)
    lesson = lessons.load_lesson("how_a_cnn_sees")
    assert lesson.title == "How a CNN sees"
    titles = " | ".join(s.title.lower() for s in lesson.steps)
    topics = ["convolution", "stride and padding", "feature maps", "activation", "pooling",
              "receptive field", "deeper layers", "softmax", "grad-cam", "training",
              "overfitting", "vanishing gradients"]  # fmt: skip
    positions = [titles.index(t) for t in topics]
    assert positions == sorted(positions)  # in teaching order
    assert all(s.show and s.ask for s in lesson.steps)


def test_pages_are_the_apps_pages() -> None:
    declared = set(re.findall(r'url_path="([a-z_]+)"', APP.read_text()))
    assert set(lessons.PAGES[1:]) <= declared


def test_a_lesson_file_reads_into_steps_with_links() -> None:
    lesson = read_lesson(GOOD.encode(), "mine")
    assert lesson.key == "mine"
    assert [s.page for s in lesson.steps] == ["feature_maps", ""]
    assert lesson.steps[0].query == (("model", "resnet18"), ("fm.table", "true"))
    assert lesson.steps[0].link == "/feature_maps?model=resnet18&fm.table=true"
    assert lesson.steps[1].link == "/"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('page = "home"', "page = home"),
         "Line 12 of the lesson file is not valid TOML (invalid value, column 8)"),
        (('page = "home"', 'page = "nowhere"'),
         "Step 2 of the lesson (the [[steps]] at line 10) names the page 'nowhere', which the "
         "app has not: home, convolution"),
        (('ask = "Questions?"', ""),
         'Step 2 of the lesson (the [[steps]] at line 10) needs ask = "..." (text).'),
        (('page = "feature_maps"\n', ""),
         'Step 1 of the lesson (the [[steps]] at line 3) needs page = "..."'),
        (('{ model = "resnet18", "fm.table" = true }', '"resnet18"'),
         "Step 1 of the lesson (the [[steps]] at line 3) has a query that is not a table"),
        (('title = "Mine"', ""), "This lesson file needs a title before its first [[steps]]"),
        (('"Show the maps."', '"Show the maps.'),
         "Line 7 of the lesson file is not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_lesson_file_names_the_line(change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change, 1)
    assert text != GOOD
    with pytest.raises(LessonError) as caught:
        read_lesson(text.encode())
    assert str(caught.value).startswith(message)


def test_other_bad_files() -> None:
    with pytest.raises(LessonError, match="not UTF-8"):
        read_lesson(b'title = "\xff"')
    with pytest.raises(LessonError, match="no steps"):
        read_lesson(b'title = "Empty"')
    with pytest.raises(lessons.InputError, match="no lesson called 'nope'"):
        lessons.load_lesson("nope")


def test_a_lesson_file_over_its_limit_is_refused_in_a_sentence() -> None:
    big = 'title = "Big"\n' + "# " + "x" * (1024 * 1024) + "\n"
    with pytest.raises(LessonError, match=r"a lesson file may be up to 1 MB"):
        read_lesson(big.encode())
