"""Activation functions, step by step: the function and its slope, and what it does to a layer.

The functions themselves live in one table, :data:`cnnviz.nets.ACTIVATIONS` (our nets build
their layers from it, the Training page offers it). Here they are applied to numbers:

* :func:`activate`: ``relu(v) = max(0, v)``, ``sigmoid(v) = 1 / (1 + e^-v)``, ... element-wise.
* :func:`activation_curve`: ``f(x)`` and its derivative ``f'(x)`` over a range, for graphs. The
  derivative is what backpropagation multiplies by: where it is 0 (ReLU below 0) no gradient
  passes; where it is small (sigmoid and tanh far from 0) the gradient fades.
* :func:`activation_effect`: a function applied to a real layer's pre-activation maps, with the
  fraction of values it zeroed and the fraction it squashed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nets import ACTIVATIONS, Activation
from cnnviz.probe import Layer, Probe

__all__ = [
    "ActivationCurve",
    "ActivationEffect",
    "activate",
    "activation_curve",
    "activation_effect",
    "activation_label",
    "activation_names",
    "preactivation_layers",
]

NO_ACTIVATION = "none"
SQUASH_TOLERANCE = 0.01
"""A value counts as squashed when its size shrank by more than this fraction."""


def activation_names() -> tuple[str, ...]:
    """What may follow a convolution: ``"none"``, then every name of
    :data:`cnnviz.nets.ACTIVATIONS` (the one table of activations)."""
    return (NO_ACTIVATION, *ACTIVATIONS)


def activation_label(name: str) -> str:
    """The short name of an activation on screen (``"leaky ReLU"``); ``"none"`` for none.

    Raises:
        InputError: Unknown activation name.
    """
    return NO_ACTIVATION if name == NO_ACTIVATION else _activation(name).label


def activate(values: np.ndarray | float, name: str) -> np.ndarray:
    """Apply an activation element-wise, as its layer in :data:`cnnviz.nets.ACTIVATIONS` does:
    ``relu = max(0, v)``, ``leaky_relu = v if v > 0 else 0.1 v``, ``sigmoid = 1 / (1 + e^-v)``,
    ...; ``"none"`` returns the values unchanged.

    Args:
        values: Numbers of any shape; computed in float64.
        name: One of :func:`activation_names`.

    Raises:
        InputError: Unknown activation name.
    """
    if name == NO_ACTIVATION:
        return np.asarray(values, dtype=np.float64)
    return _activation(name).apply(values)


def _activation(name: str) -> Activation:
    if name not in ACTIVATIONS:
        choices = ", ".join(activation_names())
        raise InputError(f"Unknown activation {name!r}; choose one of {choices}.")
    return ACTIVATIONS[name]


@dataclass(frozen=True, slots=True)
class ActivationCurve:
    """One activation function sampled over a range, with its derivative.

    Attributes:
        name: Key in :data:`cnnviz.nets.ACTIVATIONS`.
        label: Its name on screen.
        formula: What it does to a number, as a student reads it.
        x: The inputs (N,), evenly spaced.
        y: ``f(x)`` (N,).
        slope: ``f'(x)`` (N,), PyTorch's gradient.
    """

    name: str
    label: str
    formula: str
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    slope: np.ndarray = field(repr=False)


def activation_curve(
    name: str, low: float = -4.0, high: float = 4.0, points: int = 161
) -> ActivationCurve:
    """``f(x)`` and ``f'(x)`` of an activation on ``points`` evenly spaced ``x`` in [low, high].

    Args:
        name: A key of :data:`cnnviz.nets.ACTIVATIONS`.
        low: Smallest ``x``.
        high: Largest ``x`` (> low).
        points: Number of samples (2 to 10,000).

    Raises:
        InputError: Unknown name or an empty range.
    """
    activation = _activation(name)
    if not high > low or not 2 <= points <= 10_000:
        raise InputError("The range must have low < high and 2 to 10,000 points.")
    x = np.linspace(low, high, points)
    return ActivationCurve(
        name, activation.label, activation.formula, x, activation.apply(x), activation.derivative(x)
    )


@dataclass(frozen=True, slots=True)
class ActivationEffect:
    """An activation applied to a real layer's maps (the numbers it would receive).

    Attributes:
        layer: The layer whose output went in.
        name: The activation's key.
        before: The layer's output (C, H, W) or (N,), float32.
        after: The activation of it, same shape.
        zeroed: Fraction of the values that were not 0 and became exactly 0 (ReLU's negatives).
        squashed: Fraction of the others whose size shrank by more than 1% (leaky ReLU's
            negatives, tanh and sigmoid of large values).
        negative: Fraction of the values below 0 before.
    """

    layer: str
    name: str
    before: np.ndarray = field(repr=False)
    after: np.ndarray = field(repr=False)
    zeroed: float
    squashed: float
    negative: float


def activation_effect(layer: Layer, name: str) -> ActivationEffect:
    """Apply activation ``name`` to ``layer``'s output and count what it zeroed or squashed.

    Args:
        layer: A probed layer, ideally one of :func:`preactivation_layers`.
        name: A key of :data:`cnnviz.nets.ACTIVATIONS`.

    Raises:
        InputError: Unknown activation name.
    """
    activation = _activation(name)
    before = np.asarray(layer.output, dtype=np.float64)
    after = activation.apply(before)
    zero = (after == 0) & (before != 0)
    size_before, size_after = np.abs(before), np.abs(after)
    squash = ~zero & (size_after < size_before * (1 - SQUASH_TOLERANCE))
    count = max(1, before.size)
    return ActivationEffect(
        layer.name, name, before.astype(np.float32), after.astype(np.float32),
        float(zero.sum() / count), float(squash.sum() / count), float((before < 0).sum() / count),
    )  # fmt: skip


def preactivation_layers(probe: Probe) -> tuple[Layer, ...]:
    """The layers whose maps go straight into an activation: each activation's input.

    In execution order the layer that finished just before an activation (a convolution, or
    its batch norm) is the one that fed it; only maps (C, H, W) are kept. A network without
    activation layers gives its convolutions instead.
    """
    leaves = [x for x in probe.layers if x.is_leaf]
    found = {
        previous.name: previous
        for previous, current in itertools.pairwise(leaves)
        if current.kind == "activation" and previous.is_map and previous.kind in ("conv", "norm")
    }
    if not found:
        found = {x.name: x for x in probe.layers if x.kind == "conv" and x.is_map}
    return tuple(found.values())
