"""Files people take for images get a sentence that names what they are and what to do."""

import pytest

import cnnviz

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect/></svg>'
SVG_WITH_PROLOG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand -->\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n' + SVG
)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (SVG, "an SVG drawing"),
        (SVG_WITH_PROLOG, "an SVG drawing"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIC/AVIF photo"),
    ],
)
def test_lookalike_is_named_with_what_to_do(data: bytes, named: str) -> None:
    with pytest.raises(cnnviz.InputError) as caught:
        cnnviz.load_image(data)
    message = str(caught.value)
    assert named in message
    assert "export it as PNG or JPEG" in message


def test_other_text_is_simply_not_an_image() -> None:
    with pytest.raises(cnnviz.InputError, match="not an image cnnviz can read"):
        cnnviz.load_image(b"<html><body>svg</body></html>")
