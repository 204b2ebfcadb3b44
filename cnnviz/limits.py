"""Size limits of what a user can upload: one limit per kind of file, in one place.

The library's checks (:func:`cnnviz.load_image`, :func:`cnnviz.data.dataset_from_zip`,
checkpoint loading) take their defaults from here, and each uploader on the pages passes the
same number to the browser (``st.file_uploader(max_upload_size=...)``) and states it, so what
the page promises and what the library accepts cannot drift apart. The server's own cap
(``server.maxUploadSize`` in ``.streamlit/config.toml``) must be the largest of them: a test
checks that it is.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHECKPOINT", "IMAGE", "LABELS", "LESSON", "LIMITS", "ONNX", "ZIP", "UploadLimit"]

MIB = 2**20


@dataclass(frozen=True, slots=True)
class UploadLimit:
    """The largest file of one kind.

    Attributes:
        what: What the file is, for sentences ("an image").
        megabytes: The limit in megabytes, as ``st.file_uploader(max_upload_size=...)`` takes it.
    """

    what: str
    megabytes: int

    @property
    def max_bytes(self) -> int:
        """The limit in bytes, as the server and the library count it (MiB).

        Streamlit's uploader in the browser counts a megabyte as 1,000,000 bytes (1,048,576 on
        Windows), so the browser refuses slightly smaller files first: anything it lets
        through is accepted here, never refused for its size a second time.
        """
        return self.megabytes * MIB

    def describe(self) -> str:
        """The limit as the page states it: ``"up to 20 MB"``."""
        return f"up to {self.megabytes} MB"


IMAGE = UploadLimit("an image", 20)
"""Photos and scans: a 40-megapixel JPEG is about 15 MB."""
ZIP = UploadLimit("a zip of class folders", 200)
"""A small data set for the Training page (a few thousand photos)."""
CHECKPOINT = UploadLimit("a checkpoint", 600)
"""A state dict of any registry architecture: VGG-16, the largest, is 528 MB."""
ONNX = UploadLimit("an ONNX model", 300)
"""A whole network as an ONNX graph: ResNet-50 is about 100 MB, EfficientNet-B0 about 20 MB."""
LABELS = UploadLimit("a labels file", 1)
"""Class names, one per line: ImageNet-21k's 21,843 names are about 400 kB."""
LESSON = UploadLimit("a lesson file", 1)
"""A teacher's lesson (TOML): the bundled 12-step lesson is about 5 kB."""
LIMITS = (IMAGE, ZIP, CHECKPOINT, ONNX, LABELS, LESSON)
