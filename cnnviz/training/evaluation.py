"""After training: predictions, the confusion matrix, mistakes, and the network of any epoch."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from cnnviz.data import Dataset
from cnnviz.models import MODELS, Model, build_module
from cnnviz.training.events import EpochEvent
from cnnviz.training.loop import TrainConfig, _normalize, save_checkpoint


def predict(model: Model, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Predicted class of each uint8 image (N, C, H, W) at the model's size; int64 (N,)."""
    out = []
    with model.lock, torch.inference_mode():
        was_training = model.module.training
        model.module.eval()
        try:
            for first in range(0, len(images), batch):
                x = _normalize(images[first : first + batch], model.name)
                out.append(model.module(x).argmax(1))
        finally:
            model.module.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def confusion(model: Model, data: Dataset) -> np.ndarray:
    """Confusion matrix on the validation images.

    Returns:
        int64 (K, K): entry ``[t, p]`` counts the images of class ``t`` predicted as ``p``;
        the diagonal holds the correct ones, so ``trace / sum`` is the validation accuracy.
    """
    k = len(data.classes)
    pairs = data.val_y.numpy() * k + predict(model, data.val_x)
    return np.bincount(pairs, minlength=k * k).reshape(k, k).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Mistake:
    """A validation image the model got wrong."""

    index: int
    true: int
    predicted: int


def misclassified(model: Model, data: Dataset, limit: int = 16) -> tuple[Mistake, ...]:
    """The first ``limit`` validation images the model gets wrong, by index in ``data.val_x``."""
    predicted = predict(model, data.val_x)
    truth = data.val_y.numpy()
    wrong = np.flatnonzero(predicted != truth)[:limit]
    return tuple(Mistake(int(i), int(truth[i]), int(predicted[i])) for i in wrong)


def checkpoint_bytes(
    model: Model, config: TrainConfig | None = None, history: tuple[EpochEvent, ...] = ()
) -> bytes:
    """:func:`save_checkpoint` into memory: the bytes of a ``.pt`` file."""
    buffer = io.BytesIO()
    save_checkpoint(model, buffer, config, history)
    return buffer.getvalue()


def to_image(pixels: np.ndarray) -> Image.Image:
    """uint8 (C, H, W) with C = 1 or 3 -> a PIL image ("L" or "RGB")."""
    return Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))


def epoch_model(
    config: TrainConfig, classes: tuple[str, ...], state_dict: dict[str, torch.Tensor], epoch: int
) -> Model:
    """The network as it was after one epoch (from :attr:`EpochEvent.state_dict`)."""
    arch = config.arch
    module = build_module(arch, num_classes=len(classes), variant=config.variant)
    module.load_state_dict(state_dict)
    source = f"Weights after epoch {epoch} of a training run."
    return Model(module.eval(), MODELS[arch], classes, "trained", source, f"{arch}:epoch:{epoch}")
