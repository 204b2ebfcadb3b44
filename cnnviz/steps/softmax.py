"""Softmax, one step at a time: from the network's last numbers (logits) to probabilities.

With logits ``z`` and a temperature ``T``::

    p_i = exp(z_i / T) / sum_j exp(z_j / T)

Every ``exp`` is positive, and dividing by their sum makes them add up to 1. ``T = 1`` is the
network's own softmax; a larger ``T`` flattens the probabilities towards equal, a smaller one
sharpens them towards the largest logit. Subtracting the largest ``z / T`` from every value first
changes nothing in the result (it cancels in the fraction) but keeps ``exp`` from overflowing:
that is what every framework does, and what the numbers written out here show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz.errors import InputError
from cnnviz.probe import Probe

__all__ = ["SoftmaxSteps", "probe_logits", "softmax_steps"]

MIN_TEMPERATURE = 0.01


@dataclass(frozen=True, slots=True)
class SoftmaxSteps:
    """The softmax of one logit vector, with every intermediate number.

    Attributes:
        labels: One class name per logit.
        logits: The raw scores ``z`` (N,), float64.
        temperature: ``T`` (> 0).
        shifted: ``z / T - max(z / T)`` (N,): the largest is 0.
        exps: ``exp(shifted)`` (N,): each in (0, 1], the largest exactly 1.
        total: The sum of :attr:`exps`.
        probabilities: ``exps / total`` (N,): each in (0, 1), summing to 1.
    """

    labels: tuple[str, ...]
    logits: np.ndarray
    temperature: float
    shifted: np.ndarray
    exps: np.ndarray
    total: float
    probabilities: np.ndarray

    def order(self, limit: int | None = None) -> tuple[int, ...]:
        """Class indices by probability, highest first (``limit`` of them)."""
        ranked = np.argsort(-self.probabilities, kind="stable")
        return tuple(int(i) for i in ranked[:limit])

    def formula(self, index: int) -> str:
        """One class's probability with the numbers filled in, e.g.
        ``p(7) = exp(4.1 / 1 − 4.1) / 1.53 = 1 / 1.53 = 0.654``."""
        z, t, top = (
            self.logits[index],
            self.temperature,
            float(np.max(self.logits / self.temperature)),
        )
        return (
            f"p({self.labels[index]}) = exp({z:.3g} / {t:g} − {top:.3g}) / {self.total:.4g} "
            f"= {self.exps[index]:.4g} / {self.total:.4g} = {self.probabilities[index]:.4g}"
        )


def softmax_steps(
    logits: Sequence[float] | np.ndarray, temperature: float = 1.0, labels: Sequence[str] = ()
) -> SoftmaxSteps:
    """Softmax of ``logits`` at ``temperature``, keeping the shifted values, exps and their sum.

    Args:
        logits: The scores of the last layer (N,), N >= 1, finite.
        temperature: ``T`` >= 0.01; 1 is the network's own softmax.
        labels: A name per logit (default: the indices).

    Returns:
        The :class:`SoftmaxSteps`.

    Raises:
        InputError: An empty or non-finite logit vector, a temperature below 0.01, or a label
            count that does not match.
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if z.size == 0 or not np.isfinite(z).all():
        raise InputError("Softmax needs at least one logit, and every logit must be finite.")
    if not temperature >= MIN_TEMPERATURE:
        raise InputError(f"The temperature must be at least {MIN_TEMPERATURE}.")
    names = tuple(labels) or tuple(str(i) for i in range(z.size))
    if len(names) != z.size:
        raise InputError(f"{len(names)} labels were given for {z.size} logits.")
    scaled = z / temperature
    shifted = scaled - scaled.max()
    exps = np.exp(shifted)
    total = float(exps.sum())
    return SoftmaxSteps(names, z, float(temperature), shifted, exps, total, exps / total)


def probe_logits(probe: Probe, count: int) -> np.ndarray:
    """The logits of a probed image: the output of the last layer with ``count`` values.

    Args:
        probe: A :class:`cnnviz.Probe`.
        count: The number of classes (``len(model.labels)``).

    Raises:
        InputError: No layer of the probe outputs ``count`` values.
    """
    for layer in reversed(probe.layers):
        if layer.shape == (count,):
            return np.asarray(layer.output, dtype=np.float64)
    raise InputError(f"{probe.model_label} has no output layer with {count} values.")
