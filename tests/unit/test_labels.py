"""Captions drawn on pictures: whole words, within the width, "…" when cut."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ImageFont

from cnnviz.figures.labels import fit_lines, ordinal, percent, plural

FONT = ImageFont.load_default(size=13)


def test_short_caption_is_one_line() -> None:
    assert fit_lines("Chelsea the cat", FONT, 200) == ["Chelsea the cat"]


def test_newline_forces_a_break() -> None:
    assert fit_lines("original\nrank 1.00 · SSIM 1.00", FONT, 200) == [
        "original",
        "rank 1.00 · SSIM 1.00",
    ]


def test_long_caption_breaks_between_words_and_ends_with_an_ellipsis() -> None:
    text = "Grad-CAM for Egyptian cat, tabby cat and tiger cat, all three together at once"
    lines = fit_lines(text, FONT, 150)
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    words = text.split()
    for line in lines:
        assert all(word in words for word in line.rstrip("…").split())  # no word cut


def test_a_single_overlong_word_is_the_only_cut_inside_a_word() -> None:
    (line,) = fit_lines("Pneumonoultramicroscopicsilicovolcanoconiosis", FONT, 80)
    assert line.endswith("…")
    assert FONT.getlength(line) <= 80


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text("abcdefghij·.-", min_size=1, max_size=14), min_size=1, max_size=12),
    st.integers(40, 240),
    st.integers(1, 3),
)
def test_every_line_fits_and_words_stay_whole(words: list[str], width: int, lines: int) -> None:
    text = " ".join(words)
    result = fit_lines(text, FONT, width, lines)
    assert 1 <= len(result) <= lines
    for line in result:
        assert FONT.getlength(line) <= width
    tokens = " ".join(result).split()
    original = iter(words)
    for token in tokens:  # in order; a token is a whole word, or a word's start ending in "…"
        word = next(original)
        if token.endswith("…"):
            assert word.startswith(token[:-1])
        else:
            assert token == word
    if not any(line.endswith("…") for line in result):
        assert tokens == words  # nothing cut: every word


@pytest.mark.parametrize("side", [120, 180])
def test_map_row_captions_are_fitted(side: int) -> None:
    from PIL import Image

    from cnnviz.figures.attribution import map_row

    row = map_row([Image.new("RGB", (8, 8))] * 2, ["a\nb", "long " * 30], side=side)
    assert row.width > 2 * side


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th")],
)  # fmt: skip
def test_ordinal(n: int, text: str) -> None:
    assert ordinal(n) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.0, "0%"), (1.0, "100%"), (0.5, "50%"), (0.998, "99.8%"), (0.003, "0.3%"),
     (0.99999, ">99.9%"), (0.00001, "<0.1%"), (0.994, "99%")],
)  # fmt: skip
def test_percent_never_rounds_to_certainty(share: float, text: str) -> None:
    assert percent(share) == text


def test_plural() -> None:
    assert plural(1, "channel") == "1 channel"
    assert plural(3, "channel") == "3 channels"
    assert plural(1200, "image") == "1,200 images"
