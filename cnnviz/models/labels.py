"""Class names of your own model: read from a labels file, or numbered when none are known.

A labels file is plain UTF-8 text with one class name per line (blank lines skipped), or JSON: a
list of names, or an object mapping each index (``"0"``, ``"1"``, ...) to its name, as
Keras' ``class_indices`` inverted or Hugging Face's ``id2label`` hold them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cnnviz.errors import ModelError
from cnnviz.limits import LABELS

MAX_CLASSES = 100_000
"""More classes than any image classifier has (ImageNet-21k has 21,843)."""
MAX_LABEL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Labels:
    """Class names read from a labels file.

    Attributes:
        names: One name per class, index 0 first.
        origin: Where they came from, for the page (``"labels.txt"``).
    """

    names: tuple[str, ...]
    origin: str


def numbered_labels(count: int) -> tuple[str, ...]:
    """``("class 0", ..., "class K-1")``: names for a head whose classes nobody named."""
    return tuple(f"class {i}" for i in range(count))


def read_labels(source: str | os.PathLike[str] | bytes, origin: str | None = None) -> Labels:
    """The class names in a labels file or its bytes, in class-index order.

    Args:
        source: A path, or the file's bytes (an upload).
        origin: The file's name for the page (default: the path's name, or "your labels file").

    Returns:
        The names, one per class, index 0 first.

    Raises:
        ModelError: Too large (:data:`cnnviz.limits.LABELS`), not UTF-8 text, empty, a JSON
            object whose keys are not the indices 0 to K-1, or names that are too long.
    """
    if origin is None:
        origin = "your labels file" if isinstance(source, bytes) else Path(source).name
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise ModelError(f"The labels file {source} does not exist.")
        if path.stat().st_size > LABELS.max_bytes:
            raise _too_large()
        source = path.read_bytes()
    if len(source) > LABELS.max_bytes:
        raise _too_large()
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError(
            "This labels file is not UTF-8 text: give one class name per line, or a JSON list."
        ) from None
    labels = _from_json(text) if text.lstrip()[:1] in ("[", "{") else _from_lines(text)
    if not labels:
        raise ModelError("This labels file names no class: give one class name per line.")
    if len(labels) > MAX_CLASSES:
        raise ModelError(f"This labels file names more than {MAX_CLASSES:,} classes.")
    if any(len(label) > MAX_LABEL_CHARS for label in labels):
        raise ModelError(
            f"A class name in this labels file is longer than {MAX_LABEL_CHARS} characters: "
            "give one class name per line."
        )
    return Labels(labels, origin)


def _too_large() -> ModelError:
    return ModelError(
        f"This labels file is larger than {LABELS.megabytes} MB: a list of class names is a few "
        "kilobytes (one name per line)."
    )


def _from_lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _from_json(text: str) -> tuple[str, ...]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ModelError("This labels file starts like JSON but is not valid JSON.") from None
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return tuple(x.strip() for x in data)
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        try:
            by_index = {int(k): v.strip() for k, v in data.items()}
        except ValueError:
            by_index = {}
        if sorted(by_index) == list(range(len(data))):
            return tuple(by_index[i] for i in range(len(data)))
    raise ModelError(
        "This JSON labels file is neither a list of class names nor an object mapping the "
        'indices 0 to K-1 to names (like {"0": "cat", "1": "dog"}).'
    )
