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


def digit_samples() -> list:
    return [cnnviz.load_sample(f"digit_{d}") for d in range(10)]


def test_batch_norm_statistics_by_the_formula() -> None:
    model = cnnviz.load_model("lenet5")
    stats = steps.batch_norm_stats(model, digit_samples(), "features.c1")
    maps = np.stack(
        [cnnviz.probe(model, image).layer("features.c1").output for image in digit_samples()]
    ).astype(np.float64)  # independent: ten probes, not one batch
    mean, var = maps.mean(axis=(0, 2, 3)), maps.var(axis=(0, 2, 3))
    np.testing.assert_allclose(stats.before_mean, mean, atol=1e-5)
    np.testing.assert_allclose(stats.before_std, np.sqrt(var), atol=1e-5)
    # training mode: (x - mean) / sqrt(var + eps) per channel -> mean 0, std sqrt(var/(var+eps))
    np.testing.assert_allclose(stats.train_mean, 0, atol=1e-9)
    np.testing.assert_allclose(stats.train_std, np.sqrt(var / (var + 1e-5)), atol=1e-6)
    # evaluation mode with a fresh norm (running mean 0, variance 1): x / sqrt(1 + eps)
    np.testing.assert_allclose(stats.eval_mean, mean / np.sqrt(1 + 1e-5), atol=1e-5)
    assert stats.norm.startswith("a fresh")


def test_batch_norm_uses_the_models_own_and_leaves_it_alone() -> None:
    model = cnnviz.load_model("resnet_small", "random")
    bn = model.module.features.stem.bn
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    stats = steps.batch_norm_stats(model, digit_samples()[:4], "features.stem.conv")
    assert stats.norm == "the model's own features.stem.bn"
    for k, v in bn.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert not any(m.training for m in model.module.modules())
    # eval with running mean 0 / var 1 and gamma 1, beta 0 (untrained): scaled by 1/sqrt(1+eps)
    np.testing.assert_allclose(stats.eval_mean, stats.before_mean / np.sqrt(1 + 1e-5), atol=1e-6)


def test_dropout_masks_in_training_and_none_in_evaluation() -> None:
    values = np.linspace(1, 2, 4000)
    d = steps.dropout_steps(values, 0.3, seed=1)
    np.testing.assert_array_equal(d.eval, values)
    assert abs((~d.kept).mean() - 0.3) < 0.03
    np.testing.assert_allclose(d.train[d.kept], values[d.kept] / 0.7)
    assert not d.train[~d.kept].any()
    same = steps.dropout_steps(values, 0.3, seed=1)
    np.testing.assert_array_equal(same.kept, d.kept)
    # PyTorch's own dropout drops about as many and scales survivors the same way
    torch_out = torch.nn.functional.dropout(torch.from_numpy(values), 0.3, training=True).numpy()
    kept = torch_out != 0
    assert abs((~kept).mean() - 0.3) < 0.03
    np.testing.assert_allclose(torch_out[kept], values[kept] / 0.7)
    with pytest.raises(InputError):
        steps.dropout_steps(values, 1.0)


def test_parameter_sharing_counts_by_hand() -> None:
    assert steps.param_count(5, 1, 6) == 156
    assert steps.dense_param_count((1, 32, 32), (6, 28, 28)) == (1024 + 1) * 4704
    assert steps.dense_param_count_formula((1, 32, 32), (6, 28, 28)).endswith("= 4,821,600")


def test_translation_shifts_the_maps_and_keeps_the_prediction_near_the_centre() -> None:
    model = cnnviz.load_model("lenet5")
    image = cnnviz.load_sample("digit_3")
    t = steps.translation(model, image, "features.c1", range(-10, 11))
    home = cnnviz.probe(model, image)
    np.testing.assert_allclose(t.at(0).maps, home.layer("features.c1").output, atol=1e-5)
    assert t.at(0).prediction.index == home.predictions[0].index
    # equivariance: away from the borders, the maps of a 2-pixel shift are the maps shifted by 2
    np.testing.assert_allclose(t.at(2).maps[:, :, 4:24], t.at(0).maps[:, :, 2:22], atol=1e-5)
    low, high = t.stable
    assert low <= -1
    assert high >= 1
    for item in t.shifted:
        kept = item.prediction.index == home.predictions[0].index
        assert kept or not low <= item.shift <= high
    shifted = np.asarray(steps.shift_image(home.image, 3))
    np.testing.assert_array_equal(shifted[:, 3:], np.asarray(home.image)[:, :-3])
    assert not shifted[:, :3].any()
