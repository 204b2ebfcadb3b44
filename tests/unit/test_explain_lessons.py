"""Adversarial examples, activation maximization, deconvnet and ZFNet, against their definitions."""

from __future__ import annotations

import copy
from functools import cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from captum.attr import Deconvolution
from torch import nn

import cnnviz
from cnnviz.errors import InputError
from cnnviz.explain.adversarial import attack, attack_success
from cnnviz.explain.maximization import MaximizeOptions, maximize, maximize_channels


@cache
def lenet() -> cnnviz.Model:
    return cnnviz.load_model("lenet5")


def digits() -> list:
    return [cnnviz.load_sample(f"digit_{d}") for d in range(10)]


def pixels(image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array)[None, None]


def state(model: cnnviz.Model) -> tuple:
    m = model.module
    return (
        [x.training for x in m.modules()],
        [p.requires_grad for p in m.parameters()],
        [len(x._forward_hooks) + len(x._backward_hooks) for x in m.modules()],
    )


def test_attack_at_epsilon_zero_changes_nothing() -> None:
    image = cnnviz.load_sample("digit_3")
    a = attack(lenet(), image, "pgd", 0.0)
    assert not a.perturbation.any()
    assert np.array_equal(np.asarray(a.image), np.asarray(a.original))
    assert a.after == a.before
    assert not a.success
    assert attack_success(lenet(), digits(), "fgsm", 0.0) == 0.0


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
@pytest.mark.parametrize("epsilon", [0.004, 0.01, 0.05, 0.2])
def test_perturbation_stays_within_epsilon_and_is_the_image_change(method, epsilon) -> None:
    a = attack(lenet(), cnnviz.load_sample("digit_7"), method, epsilon)
    assert np.abs(a.perturbation).max() <= epsilon + 1e-6
    change = pixels(a.image)[0] - pixels(a.original)[0]
    np.testing.assert_allclose(a.perturbation, change.numpy(), atol=1e-6)
    assert a.magnified().size == a.image.size


def test_fgsm_is_one_signed_gradient_step() -> None:
    """The definition: x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1), on 8-bit pixels."""
    model, eps = lenet(), 0.1
    module = copy.deepcopy(model.module).eval()
    x = pixels(model.view(cnnviz.load_sample("digit_5"))).requires_grad_(True)
    logits = module((x - 0.5) / 0.5)
    loss = F.cross_entropy(logits, logits.argmax(dim=1))
    (grad,) = torch.autograd.grad(loss, x)
    expected = (x + eps * grad.sign()).clamp(0, 1)
    whole_steps = np.trunc(np.round((expected - x).detach().numpy() * 255, 3)) / 255
    a = attack(lenet(), cnnviz.load_sample("digit_5"), "fgsm", eps)
    np.testing.assert_allclose(a.perturbation, whole_steps[0], atol=1e-6)


def test_attacks_flip_predictions_more_as_epsilon_grows_and_pgd_beats_fgsm() -> None:
    images = digits()
    fgsm = [attack_success(lenet(), images, "fgsm", e) for e in (0.0, 0.1, 0.3)]
    pgd = [attack_success(lenet(), images, "pgd", e) for e in (0.0, 0.1, 0.3)]
    assert fgsm == sorted(fgsm)
    assert pgd == sorted(pgd)
    assert pgd[2] >= fgsm[2] > 0
    single = [attack(lenet(), image, "pgd", 0.3).success for image in images]
    assert np.mean(single) == pytest.approx(pgd[2])


def test_targeted_attack_pushes_towards_the_target_and_restores_the_model() -> None:
    before = state(lenet())
    a = attack(lenet(), cnnviz.load_sample("digit_1"), "pgd", 0.3, target="7")
    assert a.target == 7
    assert a.success == (a.after.index == 7)
    assert a.after.index == 7
    assert state(lenet()) == before
    with pytest.raises(InputError):
        attack(lenet(), cnnviz.load_sample("digit_1"), "fgsm", 1.5)
    with pytest.raises(InputError):
        attack(lenet(), cnnviz.load_sample("digit_1"), "deepfool", 0.1)


def test_maximization_raises_the_activation_far_above_its_start_and_any_digit() -> None:
    model = lenet()
    before = state(model)
    r = maximize(model, "features.c3", 0, MaximizeOptions(steps=48))
    assert state(model) == before
    assert len(r.history) == 49
    assert r.end > r.start + 1.0
    assert r.end > 5 * abs(r.start)
    # higher than what any real digit makes of that channel
    best_digit = max(
        float(cnnviz.probe(model, image).layer("features.c3").output[0, 5, 5])  # centre of 10x10
        for image in digits()
    )
    assert r.end > best_digit
    # the image really is what the history says: its activation, measured independently
    x = pixels(r.image)
    seen = {}
    hook = model.module.features.c3.register_forward_hook(lambda m, a, o: seen.update(out=o))
    try:
        with torch.no_grad():
            model.module((x - 0.5) / 0.5)
    finally:
        hook.remove()
    assert float(seen["out"][0, 0, 5, 5]) == pytest.approx(r.end, abs=0.05 * abs(r.end))


def test_maximizing_several_channels_and_a_class() -> None:
    rs = maximize_channels(lenet(), "features.c1", [0, 1, 2], MaximizeOptions(steps=24))
    assert [r.channel for r in rs] == [0, 1, 2]
    assert all(r.end > r.start for r in rs)
    seven = maximize(lenet(), "classifier.output", 7, MaximizeOptions(steps=24))
    assert seven.end > seven.start + 5
    with pytest.raises(InputError):
        maximize(lenet(), "features.c1", 6)
    with pytest.raises(InputError):
        maximize(lenet(), "nope", 0)


def test_deconvnet_equals_captums_deconvolution() -> None:
    model = lenet()
    image = cnnviz.load_sample("digit_2")
    e = cnnviz.explain(model, image, "deconvnet", target=4)
    module = copy.deepcopy(model.module).eval()
    x = model.preprocess(image)
    expected = Deconvolution(module).attribute(x, target=4)[0]
    torch.testing.assert_close(torch.from_numpy(np.array(e.raw)), expected)
    assert e.method == "deconvnet"
    assert e.heatmap.max() == 1.0


PAPER_SHAPES = {  # Zeiler & Fergus 2013, Fig. 3
    "features.conv1": (96, 110, 110),
    "features.pool1": (96, 55, 55),
    "features.conv2": (256, 26, 26),
    "features.pool2": (256, 13, 13),
    "features.conv3": (384, 13, 13),
    "features.conv4": (384, 13, 13),
    "features.conv5": (256, 13, 13),
    "features.pool5": (256, 6, 6),
    "classifier.fc6": (4096,),
    "classifier.fc7": (4096,),
    "classifier.output": (1000,),
}


def test_zfnet_layer_shapes_match_the_paper() -> None:
    model = cnnviz.load_model("zfnet", "random")
    assert model.input_size == (3, 224, 224)
    assert len(model.labels) == 1000
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.module.named_modules())
    hooks = [
        modules[name].register_forward_hook(
            lambda m, a, out, name=name: shapes.update({name: tuple(out.shape[1:])})
        )
        for name in PAPER_SHAPES
    ]
    try:
        with torch.no_grad():
            model.module(torch.zeros(1, 3, 224, 224))
    finally:
        for h in hooks:
            h.remove()
    assert shapes == PAPER_SHAPES
    conv1 = modules["features.conv1"]
    assert isinstance(conv1, nn.Conv2d)
    assert (conv1.kernel_size, conv1.stride) == ((7, 7), (2, 2))
    alexnet = cnnviz.models.build_module("alexnet").features[0]
    assert (alexnet.kernel_size, alexnet.stride) == ((11, 11), (4, 4))
