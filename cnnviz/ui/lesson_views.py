"""The guided lesson's sidebar block: the current step, the teacher's note, previous / next,
and the step's link as a QR code for the class.

``app.py`` draws it with one call (:func:`lesson_panel`) on every page. A lesson starts from
the block's menu (a lesson that ships with cnnviz, or a teacher's own TOML file) or from a
link ``?lesson=how_a_cnn_sees&step=3``. Previous / next open the step's page with its query
(its deep link), exactly what a student gets from the QR code.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import lessons, limits
from cnnviz.errors import CnnvizError
from cnnviz.lessons import Lesson, Step
from cnnviz.ui.share_views import app_link, link_with_qr

KEY = "lesson.key"
"""Session state: the active lesson's key (a bundled one), or ``None``."""
OWN = "lesson.own"
"""Session state: a teacher's own lesson read from an upload (a :class:`Lesson`)."""
STEP = "lesson.step"
"""Session state: the current step, from 0."""
_FROM_URL = "lesson.from_url"
_GOTO = "lesson.goto"


@st.cache_resource(max_entries=8, show_spinner=False)
def _bundled(key: str) -> Lesson:
    return lessons.load_lesson(key)


def page_file(step: Step) -> str:
    """The script of a step's page (``app_pages/<page>.py``; Home is ``home.py``)."""
    return f"app_pages/{step.page or 'home'}.py"


def _seed_from_url() -> None:
    """``?lesson=<key>&step=<n>`` starts that lesson at that step (once per distinct link)."""
    key, step = st.query_params.get("lesson"), st.query_params.get("step")
    if not key or st.session_state.get(_FROM_URL) == (key, step):
        return
    st.session_state[_FROM_URL] = (key, step)
    st.session_state[KEY] = key
    st.session_state[STEP] = int(step) - 1 if step and step.isdigit() and int(step) > 0 else 0


def active_lesson() -> Lesson | None:
    """The lesson this session follows, if any.

    Raises:
        CnnvizError: The link names a lesson that does not exist.
    """
    own = st.session_state.get(OWN)
    if own is not None:
        return own
    key = st.session_state.get(KEY)
    return _bundled(key) if key else None


def _go(lesson: Lesson, index: int) -> None:
    """Ask for step ``index``'s deep link (its page with its query), as a student would open
    it (a button's ``on_click``: widget values can still be set before the widgets are made).

    Bound widgets (model, sample, open sections) take the step's values through session state;
    the rest goes into the URL. :func:`lesson_panel` then switches to the page.
    """
    index = max(0, min(len(lesson.steps) - 1, index))
    st.session_state[STEP] = index
    step = lesson.steps[index]
    query = {}
    for name, value in step.query:
        if name in st.session_state:  # a widget's value, bound to the URL: set the widget
            st.session_state[name] = {"true": True, "false": False}.get(value, value)
        else:  # a plain parameter (the Compare page's models=) or a widget not made yet
            query[name] = value
    if st.session_state.get(OWN) is None:  # a bundled lesson can be resumed from the URL
        st.session_state[KEY] = lesson.key
        query |= {"lesson": lesson.key, "step": str(index + 1)}
        st.session_state[_FROM_URL] = (lesson.key, str(index + 1))
    st.session_state[_GOTO] = (page_file(step), query)


def _start_own() -> None:
    upload = st.session_state.get("lesson.upload")
    if upload is None:
        return
    try:
        own = lessons.read_lesson(upload.getvalue(), upload.name.rsplit(".")[0])
        st.session_state[OWN] = own
        st.session_state.pop("lesson.error", None)
        _go(own, 0)
    except CnnvizError as error:
        st.session_state["lesson.error"] = str(error)


def _end() -> None:
    for key in (KEY, OWN, STEP, "lesson.error"):
        st.session_state.pop(key, None)


def _menu() -> None:
    """How a lesson starts (in the sidebar): a bundled one, or a teacher's own file."""
    with st.sidebar.expander("Guided lesson", icon=":material/school:", key="lesson.menu"):
        for key in lessons.list_lessons():
            st.button(
                f"Start: {_bundled(key).title}", key=f"lesson.start.{key}",
                icon=":material/play_arrow:", on_click=_go, args=(_bundled(key), 0),
            )  # fmt: skip
        st.file_uploader(
            f"Or your own lesson (.toml, {limits.LESSON.describe()})", type=["toml"],
            key="lesson.upload", on_change=_start_own,
            max_upload_size=limits.LESSON.megabytes,
            help="A TOML file with a title and [[steps]] (title, page, query, show, ask); "
            "copy cnnviz/assets/lessons/how_a_cnn_sees.toml to start.",
        )  # fmt: skip
        if st.session_state.get("lesson.error"):
            st.error(st.session_state["lesson.error"], icon=":material/error:")


def lesson_panel() -> None:
    """The lesson's bar at the top of the page (previous, the step, next, the teacher's note,
    the step's QR code), or the sidebar's menu to start one.

    Call it after ``st.navigation`` and before the page runs: previous / next switch pages.
    """
    goto = st.session_state.pop(_GOTO, None)
    if goto is not None:
        st.switch_page(goto[0], query_params=goto[1])
    try:
        _seed_from_url()
        lesson = active_lesson()
    except CnnvizError as error:
        st.error(str(error), icon=":material/error:")
        _end()
        lesson = None
    if lesson is None:
        _menu()
        return
    index = max(0, min(len(lesson.steps) - 1, st.session_state.get(STEP, 0)))
    step = lesson.steps[index]
    back, title, forward, note, code, end = st.columns(
        [1.2, 9, 1.2, 2.4, 2.4, 1.2], vertical_alignment="center"
    )
    back.button("◀", key="lesson.prev", disabled=index == 0, help="Previous step",
                on_click=_go, args=(lesson, index - 1), width="stretch")  # fmt: skip
    title.markdown(
        f"**{lesson.title}** · step {index + 1} of {len(lesson.steps)}: **{step.title}**"
    )
    forward.button("▶", key="lesson.next", disabled=index == len(lesson.steps) - 1,
                   help="Next step", on_click=_go, args=(lesson, index + 1),
                   width="stretch")  # fmt: skip
    with note.popover("Note", icon=":material/record_voice_over:", width="stretch",
                      help="The teacher's note: what to show, what to ask"):  # fmt: skip
        st.markdown(f"**Show:** {step.show}\n\n**Ask:** {step.ask}")
        st.button("Open this step again", key="lesson.open", icon=":material/replay:",
                  on_click=_go, args=(lesson, index))  # fmt: skip
    with code.popover("QR", icon=":material/qr_code_2:", width="stretch",
                      help="This step's link and its QR code, for the class's phones"):  # fmt: skip
        link_with_qr(app_link(step.page, dict(step.query)), "This step, for your phone", 240)
    end.button("✕", key="lesson.end", on_click=_end, help="End the lesson", width="stretch")
