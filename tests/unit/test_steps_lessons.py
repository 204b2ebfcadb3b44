"""Softmax steps and activation curves/effects, against independent definitions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnviz
from cnnviz import steps
from cnnviz.errors import InputError
from cnnviz.nets import ACTIVATIONS

finite = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=1, max_size=12), st.floats(0.05, 20))
def test_softmax_sums_to_one_and_matches_torch(logits: list[float], temperature: float) -> None:
    s = steps.softmax_steps(logits, temperature)
    assert s.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    expected = torch.softmax(torch.tensor(logits, dtype=torch.float64) / temperature, dim=0)
    torch.testing.assert_close(torch.from_numpy(s.probabilities), expected)
    assert s.exps.max() == 1.0  # the largest shifted value is 0
    assert s.total == pytest.approx(float(np.exp(s.shifted).sum()))


def test_softmax_by_hand_and_temperature() -> None:
    s = steps.softmax_steps([0.0, np.log(3.0)], 1.0, ["a", "b"])
    np.testing.assert_allclose(s.probabilities, [0.25, 0.75])
    assert s.order() == (1, 0)
    assert "= 0.75" in s.formula(1)
    hot = steps.softmax_steps([0.0, np.log(3.0)], 1000.0)
    cold = steps.softmax_steps([0.0, np.log(3.0)], 0.05)
    assert hot.probabilities[1] == pytest.approx(0.5, abs=1e-3)
    assert cold.probabilities[1] > 0.999


@pytest.mark.parametrize(
    ("logits", "temperature", "labels"), [([], 1.0, ()), ([1.0, np.nan], 1.0, ()),
                                          ([1.0], 0.0, ()), ([1.0, 2.0], 1.0, ("a",))]
)  # fmt: skip
def test_softmax_refuses(logits, temperature, labels) -> None:
    with pytest.raises(InputError):
        steps.softmax_steps(logits, temperature, labels)


def test_probe_logits_are_the_predictions() -> None:
    model = cnnviz.load_model("lenet5")
    p = cnnviz.probe(model, cnnviz.load_sample("digit_3"))
    s = steps.softmax_steps(steps.probe_logits(p, len(model.labels)), 1.0, model.labels)
    top = p.predictions[0]
    assert s.order(1) == (top.index,)
    assert s.probabilities[top.index] == pytest.approx(top.probability, rel=1e-5)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# Independent definitions of each function's derivative (away from kinks).
SLOPES = {
    "relu": lambda x: (x > 0).astype(float),
    "leaky_relu": lambda x: np.where(x > 0, 1.0, 0.1),
    "elu": lambda x: np.where(x > 0, 1.0, np.exp(x)),
    "silu": lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
    "relu6": lambda x: ((x > 0) & (x < 6)).astype(float),
    "tanh": lambda x: 1 - np.tanh(x) ** 2,
    "sigmoid": lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_curve_slope_matches_definition(name: str) -> None:
    curve = steps.activation_curve(name, -7.05, 7.05, 142)  # never exactly on 0 or 6
    if name in SLOPES:
        np.testing.assert_allclose(curve.slope, SLOPES[name](curve.x), atol=1e-9)
    # every slope agrees with the curve's own finite differences
    h = 1e-6
    numeric = (ACTIVATIONS[name].apply(curve.x + h) - ACTIVATIONS[name].apply(curve.x - h)) / 2 / h
    np.testing.assert_allclose(curve.slope, numeric, atol=1e-5)
    assert curve.label == ACTIVATIONS[name].label


def test_effect_counts_by_hand() -> None:
    layer = SimpleNamespace(name="c", output=np.array([-2.0, -1.0, 0.0, 1.0, 3.0]))
    relu = steps.activation_effect(layer, "relu")
    assert (relu.zeroed, relu.squashed, relu.negative) == (0.4, 0.0, 0.4)
    np.testing.assert_array_equal(relu.after, [0, 0, 0, 1, 3])
    leaky = steps.activation_effect(layer, "leaky_relu")
    assert (leaky.zeroed, leaky.squashed) == (0.0, 0.4)
    tanh = steps.activation_effect(layer, "tanh")  # |tanh(v)| < |v| for every v != 0
    assert tanh.squashed == 0.8


def test_preactivation_layers_of_lenet5() -> None:
    model = cnnviz.load_model("lenet5")
    p = cnnviz.probe(model, cnnviz.load_sample("digit_3"))
    names = [x.name for x in steps.preactivation_layers(p)]
    assert names == ["features.c1", "features.c3"]
    effect = steps.activation_effect(p.layer("features.c1"), "relu")
    np.testing.assert_allclose(effect.after, p.layer("features.act1").output, atol=1e-6)
    assert 0 < effect.zeroed < 1
