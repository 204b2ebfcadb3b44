"""Layers that act differently while training: batch normalization and dropout, on real numbers.

Batch norm (Ioffe & Szegedy, 2015) normalizes each channel ``c`` of a batch of maps ``x``::

    training:    y = (x − mean_c) / sqrt(var_c + eps) · gamma_c + beta_c   (this batch's statistics)
    evaluation:  y = (x − running_mean_c) / sqrt(running_var_c + eps) · gamma_c + beta_c

so in training every channel leaves with mean beta and standard deviation gamma, whatever came
in; in evaluation the averages remembered during training are used instead, and one image's
output no longer depends on the others in its batch.

Dropout (Srivastava et al., 2014) zeroes each value with probability ``p`` while training and
scales the survivors by ``1 / (1 − p)``, so the expected sum is unchanged; in evaluation it
does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from cnnviz.errors import InputError
from cnnviz.models import Model

__all__ = ["BatchNormStats", "DropoutSteps", "batch_norm_stats", "dropout_steps"]


@dataclass(frozen=True, slots=True)
class BatchNormStats:
    """Per-channel statistics of a real layer's maps over a batch, before and after batch norm.

    Attributes:
        layer: The layer whose output went into batch norm.
        norm: Where the batch norm came from: the model's own layer, or a fresh one.
        images: How many images made the batch.
        before_mean: Mean of each channel over the batch and positions (C,).
        before_std: Its standard deviation (C,).
        train_mean: The same after batch norm in training mode (C,).
        train_std: ... (C,).
        eval_mean: The same after batch norm in evaluation mode (C,).
        eval_std: ... (C,).
    """

    layer: str
    norm: str
    images: int
    before_mean: np.ndarray = field(repr=False)
    before_std: np.ndarray = field(repr=False)
    train_mean: np.ndarray = field(repr=False)
    train_std: np.ndarray = field(repr=False)
    eval_mean: np.ndarray = field(repr=False)
    eval_std: np.ndarray = field(repr=False)


def _stats(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(dim=(0, 2, 3)).numpy(), x.std(dim=(0, 2, 3), unbiased=False).numpy()


def _following_norm(model: Model, layer: str) -> tuple[str, nn.BatchNorm2d] | None:
    """The batch norm the model applies right after ``layer``, if it defines one there."""
    names = [name for name, _ in model.module.named_modules()]
    modules = dict(model.module.named_modules())
    if layer not in names:
        raise InputError(f"{model.spec.label} has no layer called '{layer}'.")
    after = names[names.index(layer) + 1 :]
    if after and isinstance(modules[after[0]], nn.BatchNorm2d):
        return after[0], modules[after[0]]
    return None


def batch_norm_stats(model: Model, images: Sequence[Image.Image], layer: str) -> BatchNormStats:
    """Run ``images`` as one batch, take ``layer``'s maps, and batch-normalize them both ways.

    The batch norm is the model's own when one follows ``layer`` (its learned gamma, beta and
    running statistics), else a fresh ``BatchNorm2d`` (gamma 1, beta 0, running mean 0 and
    variance 1, as before any training).

    Args:
        model: A :class:`cnnviz.Model` (the call holds its lock; modes and hooks restored).
        images: The batch (2 or more images make the training statistics meaningful).
        layer: A module name whose output is maps (C, H, W).

    Raises:
        InputError: No images, an unknown layer, or a layer without map output.
    """
    if not images:
        raise InputError("Batch norm needs at least one image.")
    found = _following_norm(model, layer)
    module = dict(model.module.named_modules())[layer]
    batch = torch.cat([model.preprocess(image) for image in images])
    seen: list[torch.Tensor] = []
    modes = [(m, m.training) for m in model.module.modules()]
    with model.lock, torch.no_grad():
        handle = module.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
        try:
            model.module.eval()
            model.module(batch)
        finally:
            handle.remove()
            for m, training in modes:
                m.training = training
    x = seen[0].double()
    if x.dim() != 4:
        raise InputError(f"{layer} does not output maps (C, H, W): choose a convolution.")
    if found is not None:
        name, own = found
        norm = f"the model's own {name}"
        bn = nn.BatchNorm2d(x.shape[1], eps=own.eps).double()
        bn.load_state_dict(own.state_dict())
    else:
        norm = "a fresh BatchNorm2d (gamma 1, beta 0, running mean 0, variance 1)"
        bn = nn.BatchNorm2d(x.shape[1]).double()
    with torch.no_grad():
        evaluated = bn.eval()(x)
        trained = bn.train()(x)  # updates bn's running statistics: a copy, never the model's
    return BatchNormStats(
        layer, norm, len(images), *_stats(x), *_stats(trained), *_stats(evaluated)
    )


@dataclass(frozen=True, slots=True)
class DropoutSteps:
    """Dropout applied to a vector, in training and in evaluation mode.

    Attributes:
        p: The probability of zeroing each value.
        before: The values (N,).
        kept: Training mode's mask (N,), True where a value survived.
        train: Training mode's output: ``before · kept / (1 − p)`` (N,).
        eval: Evaluation mode's output: ``before`` unchanged (N,).
    """

    p: float
    before: np.ndarray = field(repr=False)
    kept: np.ndarray = field(repr=False)
    train: np.ndarray = field(repr=False)
    eval: np.ndarray = field(repr=False)


def dropout_steps(values: np.ndarray, p: float = 0.5, seed: int = 0) -> DropoutSteps:
    """``nn.Dropout(p)`` on ``values`` in training mode (mask drawn with ``seed``) and in
    evaluation mode.

    Args:
        values: Any numbers (flattened).
        p: Probability of zeroing, 0 <= p < 1.
        seed: Seed of the mask: the same seed gives the same mask.

    Raises:
        InputError: ``p`` outside [0, 1).
    """
    if not 0.0 <= p < 1.0:
        raise InputError("The dropout probability must be at least 0 and below 1.")
    x = torch.from_numpy(np.asarray(values, dtype=np.float64).reshape(-1).copy())
    drop = nn.Dropout(p)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        mask = torch.rand(x.shape, dtype=torch.float64) >= p
        train = x * mask / (1.0 - p)
        evaluated = drop.eval()(x)
    return DropoutSteps(float(p), x.numpy(), mask.numpy(), train.numpy(), evaluated.numpy())
