"""A run's events as TensorBoard logs: wrap :func:`cnnviz.training.train` in
:func:`write_tensorboard`.

TensorBoard is the dashboard that comes with TensorFlow and reads PyTorch's
``torch.utils.tensorboard`` files as well: ``tensorboard --logdir DIR`` serves the curves at
http://localhost:6006. The writer only consumes the event stream, so the training loop knows
nothing about it::

    for event in write_tensorboard(train(config), "runs/lenet5", config):
        ...
"""

from __future__ import annotations

import io
import os
import secrets
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnviz.figures import filters_grid
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent, TrainEvent
from cnnviz.training.loop import TrainConfig

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

STEP_TAGS = ("step/loss", "step/accuracy", "step/learning_rate")
"""Scalars written after every optimizer step (x axis: the step)."""
EPOCH_TAGS = ("epoch/train_loss", "epoch/train_accuracy", "epoch/val_loss", "epoch/val_accuracy")
"""Scalars written after every epoch (x axis: the epoch)."""
FILTERS_TAG = "epoch/first_layer_filters"
"""The first convolution's filters after every epoch, as one image (blue negative, red positive)."""
ROOT_ENV = "CNNVIZ_TENSORBOARD"
"""Environment variable naming the folder that :func:`new_logdir` puts run folders in."""


def write_tensorboard(
    events: Iterable[TrainEvent],
    logdir: str | os.PathLike[str],
    config: TrainConfig | None = None,
) -> Iterator[TrainEvent]:
    """Pass a run's events through unchanged, writing them as TensorBoard event files.

    Written: :data:`STEP_TAGS` after each step, :data:`EPOCH_TAGS` and :data:`FILTERS_TAG`
    after each epoch, the settings (text ``settings``) first and the final sentence (text
    ``result``) last. The files are complete on disk before the :class:`DoneEvent` is passed on.

    Args:
        events: What :func:`cnnviz.training.train` yields.
        logdir: Folder for the event files (created if missing); ``tensorboard --logdir`` it.
        config: The run's settings, written as a table (optional).

    Yields:
        The same events, in the same order.
    """
    # Imported here: tensorboard's protobuf machinery is needed only when logs are asked for.
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=os.fspath(logdir), flush_secs=10)  # a live view lags <= 10 s
    try:
        if config is not None:
            writer.add_text("settings", _settings_table(config), 0)
        for event in events:
            _write(writer, event)
            if isinstance(event, DoneEvent):
                writer.close()
            yield event
    finally:
        writer.close()  # a second close does nothing


def _write(writer: SummaryWriter, event: TrainEvent) -> None:
    if isinstance(event, StepEvent):
        for tag, value in zip(STEP_TAGS, (event.loss, event.accuracy, event.lr), strict=True):
            writer.add_scalar(tag, value, event.step)
    elif isinstance(event, EpochEvent):
        values = (event.train_loss, event.train_accuracy, event.val_loss, event.val_accuracy)
        for tag, value in zip(EPOCH_TAGS, values, strict=True):
            writer.add_scalar(tag, value, event.epoch)
        pixels = np.asarray(filters_grid(event.state_dict).image.convert("RGB"))
        writer.add_image(FILTERS_TAG, pixels, event.epoch, dataformats="HWC")
    else:
        writer.add_text("result", f"**{event.status}**: {event.message}", len(event.history))


def _settings_table(config: TrainConfig) -> str:
    rows = "\n".join(f"| {name} | {value} |" for name, value in asdict(config).items())
    return f"| setting | value |\n| --- | --- |\n{rows}"


def logs_root() -> Path:
    """Where the Training page's run folders go: ``$CNNVIZ_TENSORBOARD``, or
    ``cnnviz-tensorboard`` in the system's temporary folder (e.g. ``/tmp/cnnviz-tensorboard``).
    """
    configured = os.environ.get(ROOT_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "cnnviz-tensorboard"


def new_logdir(config: TrainConfig, root: str | os.PathLike[str] | None = None) -> Path:
    """A new, empty folder for one run's logs, named after the run.

    Args:
        config: The run's settings (its architecture and data set name the folder).
        root: Where the run folders go (default: :func:`logs_root`).

    Returns:
        ``ROOT/<arch>-<dataset>-<date>-<time>-<6 random hex digits>``, created.
    """
    base = Path(root) if root is not None else logs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = base / f"{config.arch}-{config.dataset}-{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    return folder


def zip_logs(logdir: str | os.PathLike[str]) -> bytes:
    """Every file under ``logdir`` in a zip, inside a folder named like ``logdir``.

    Unzip it and run ``tensorboard --logdir .`` where it was unzipped.
    """
    folder = Path(logdir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()
