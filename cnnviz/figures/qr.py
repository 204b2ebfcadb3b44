"""QR codes of links, so that a class joins a view from their phones (segno, pure Python)."""

from __future__ import annotations

import io

import segno


def qr_png(text: str, scale: int = 6) -> bytes:
    """A PNG of the QR code of ``text`` (black on white, a 2-module quiet zone).

    Error correction level M (15 % of the code may be lost): a phone reads it off a projector.

    Args:
        text: What the code holds, usually a URL.
        scale: Pixels per module (a link of ~100 characters makes about 45 x 45 modules).

    Returns:
        The PNG file's bytes.
    """
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
