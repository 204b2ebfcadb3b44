"""The guided lesson: every step's link opens its page, previous / next, and a teacher's file."""

from __future__ import annotations

import pytest

from cnnviz import lessons

LESSON = lessons.load_lesson("how_a_cnn_sees")


@pytest.mark.parametrize("number", range(1, len(LESSON.steps) + 1))
def test_every_step_link_opens_its_page(open_page, text, number):
    step = LESSON.steps[number - 1]
    at = open_page(step.page or None, lesson="how_a_cnn_sees", step=str(number), **dict(step.query))

    assert not at.exception
    assert not at.error
    bar = text(at.markdown)[0]
    assert bar == f"**How a CNN sees** · step {number} of 14: **{step.title}**"
    for name, value in step.query:  # the link's state reached the page's widgets
        if name in ("model", "sample"):
            assert at.selectbox(key=name).value == value


def test_next_and_previous_open_the_steps_pages(open_page, text, charts):
    at = open_page(None, lesson="how_a_cnn_sees", step="1", model="lenet5", sample="digit_3")
    assert text(at.title)[0] != "Convolution"

    at.button(key="lesson.next").click().run()  # step 2: the convolution page
    assert not at.exception
    assert text(at.title) == ["Convolution"]
    assert text(at.markdown)[0].startswith("**How a CNN sees** · step 2 of 14")
    assert at.query_params["step"] == "2"

    for _ in range(4):  # on to step 6: pooling, with its comparison section open
        at.button(key="lesson.next").click().run()
    assert not at.exception
    assert text(at.title) == ["Pooling"]
    assert at.query_params["pool.compare"] == "true"

    at.button(key="lesson.next").click().run()  # step 7: ResNet-18 on the cat, layer table open
    assert at.selectbox(key="model").value == "resnet18"
    assert at.selectbox(key="sample").value == "chelsea"
    assert at.dataframe  # the layer table's section is open

    at.button(key="lesson.prev").click().run()
    assert not at.exception
    assert text(at.title) == ["Pooling"]
    assert text(at.markdown)[0].startswith("**How a CNN sees** · step 6 of 14")
    (link,) = [c.value for c in at.code]
    assert link == "/pooling?model=lenet5&sample=digit_3&pool.compare=true"


def test_the_menu_starts_the_lesson_and_end_stops_it(open_page, text):
    at = open_page("feature_maps")
    at.button(key="lesson.start.how_a_cnn_sees").click().run()

    assert not at.exception
    assert text(at.markdown)[0].startswith("**How a CNN sees** · step 1 of 14")
    at.button(key="lesson.end").click().run()
    assert not [b for b in at.button if b.key == "lesson.next"]


BAD = b"""title = "Mine"

[[steps]]
title = "One"
page = "feature_maps"
show = "x"
ask = "y"

[[steps]]
title = "Two"
page = "nowhere"
show = "x"
ask = "y"
"""


def test_a_teachers_own_lesson_runs_and_a_bad_one_names_the_line(open_page, text):
    at = open_page()
    good = BAD.replace(b"nowhere", b"pooling")
    at.file_uploader(key="lesson.upload").set_value(("mine.toml", good, "text/plain")).run()
    assert not at.exception
    assert text(at.markdown)[0] == "**Mine** · step 1 of 2: **One**"
    assert text(at.title) == ["Feature maps"]

    at.button(key="lesson.end").click().run()
    at.file_uploader(key="lesson.upload").set_value(("bad.toml", BAD, "text/plain")).run()
    assert not at.exception
    (error,) = text(at.error)
    assert error.startswith("Step 2 of the lesson (the [[steps]] at line 9) names the page "
                            "'nowhere'")  # fmt: skip
