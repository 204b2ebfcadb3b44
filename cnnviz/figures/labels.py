"""Short texts for pictures and pages: captions fitted to a width by whole words (never cut
mid-word), ordinals, plurals and percentages that do not round to a lie."""

from __future__ import annotations

from PIL import ImageFont

__all__ = ["fit_lines", "ordinal", "percent", "plural"]

ELLIPSIS = "…"


def fit_lines(
    text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float, lines: int = 2
) -> list[str]:
    """Break ``text`` into at most ``lines`` lines no wider than ``width`` pixels.

    Breaks at spaces (a ``"\\n"`` in ``text`` forces a break). Text that does not fit ends
    with "…" after the last whole word that fits; a single word wider than a line is the one
    case that is shortened inside the word (with "…"), since there is no space to break at.

    Args:
        text: The caption.
        font: The font it is drawn with (PIL measures it).
        width: The room per line in pixels.
        lines: The most lines to use.

    Returns:
        The lines, each at most ``width`` pixels wide.
    """
    words = [w for part in text.split("\n") for w in (*part.split(), "\n")][:-1]
    result: list[str] = []
    current = ""
    for index, word in enumerate(words):
        if word == "\n" or (current and font.getlength(f"{current} {word}") > width):
            result.append(current)
            current = ""
            if len(result) == lines:
                if any(w != "\n" for w in words[index:]):
                    return _ellipsize(result, font, width)
                break
            if word == "\n":
                continue
        current = f"{current} {word}".strip()
    else:
        result.append(current)
    return [_shorten(line, font, width) for line in result]


def _ellipsize(
    lines: list[str], font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float
) -> list[str]:
    """Mark the last line as cut: drop whole words until "…" fits after it."""
    lines = [_shorten(line, font, width) for line in lines[:-1]] + lines[-1:]
    words = lines[-1].split()
    while len(words) > 1 and font.getlength(" ".join(words) + ELLIPSIS) > width:
        words.pop()
    return [*lines[:-1], _shorten(" ".join(words) + ELLIPSIS, font, width)]


def _shorten(line: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: float) -> str:
    """A line that is one over-wide word: cut inside it, with "…"."""
    if font.getlength(line) <= width:
        return line
    while len(line) > 1 and font.getlength(line.rstrip(ELLIPSIS) + ELLIPSIS) > width:
        line = line.rstrip(ELLIPSIS)[:-1]
    return line.rstrip(ELLIPSIS) + ELLIPSIS


def ordinal(n: int) -> str:
    """English ordinal of a positive number: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def plural(count: int, noun: str) -> str:
    """``"1 channel"``, ``"3 channels"``: the count with its noun in the right number."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def percent(share: float) -> str:
    """A share in 0..1 as a percentage a student can trust: whole numbers, except that a share
    that is not exactly 0 or 1 never shows as "0%" or "100%" (99.8% stays "99.8%")."""
    text = f"{share:.0%}"
    if text in ("0%", "100%") and 0 < share < 1:
        text = f"{share:.1%}"
        if text in ("0.0%", "100.0%"):
            return "<0.1%" if share < 0.5 else ">99.9%"
    return text
