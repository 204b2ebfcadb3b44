"""Errors that carry one sentence a student can act on.

Every error cnnviz raises on purpose is a :class:`CnnvizError`. The page shows ``str(error)``
as it is, so the message must say what went wrong and what to do, in plain words.
"""

from __future__ import annotations

__all__ = ["CnnvizError", "InputError", "ModelError", "TrainingDiverged"]


class CnnvizError(Exception):
    """Base class: the message is written for the person using the app."""


class InputError(CnnvizError, ValueError):
    """The image (or other input file) cannot be used: not an image, too large, corrupt, empty."""


class ModelError(CnnvizError, RuntimeError):
    """A model cannot be built or its weights cannot be found or loaded."""


class TrainingDiverged(CnnvizError, RuntimeError):
    """Training blew up: the loss became ``inf``/``nan``, or grew far past its start and stayed.

    :func:`cnnviz.train` does not raise it (its ``"diverged"`` DoneEvent carries the kept model);
    ``DoneEvent.raise_for_status()`` and ``cnnviz train`` do. See ``cnnviz.training.divergence``.
    """
