"""Short fingerprints of step-by-step results, for caches keyed on what was computed."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["digest"]


def digest(*parts: np.ndarray | object) -> str:
    """A hex digest of arrays (shape, dtype and bytes) and plain values (their ``repr``).

    Two results with the same digest hold the same numbers and settings, so a page can key a
    cache on it instead of hashing the arrays itself.
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(repr((part.shape, part.dtype.str)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()
