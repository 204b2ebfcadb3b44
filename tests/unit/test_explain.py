"""cnnviz.explain: Grad-CAM and friends against captum, pytorch-grad-cam, autograd and paper."""

from __future__ import annotations

import copy
import io
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from captum.attr import LayerGradCam
from torch import nn

from cnnviz.errors import InputError
from cnnviz.explain import (
    cam_layers,
    default_cam_layer,
    explain,
    explain_classes,
    method_names,
    randomization_steps,
    sanity_check,
    similarity,
)
from cnnviz.images import load_sample
from cnnviz.models import Model, ModelSpec, load_model, model_names

ModelGetter = Callable[[str], Model]
FAST = {
    "smoothgrad": {"samples": 2},
    "integrated_gradients": {"steps": 2, "batch": 2},
    "occlusion": {"window": 16, "stride": 16},
}


def small_input(model: Model, seed: int = 0) -> torch.Tensor:
    """The model's own input size for our nets; 64 x 64 for torchvision's (fast, still valid)."""
    side = model.spec.input_size if not model.spec.is_torchvision else 64
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, model.spec.channels, side, side, generator=generator)


def minmax(t: torch.Tensor) -> torch.Tensor:
    return (t - t.min()) / (t.max() - t.min())


def hooks_left(module: nn.Module) -> list[str]:
    return [
        name
        for name, m in module.named_modules()
        if m._forward_hooks or m._backward_hooks or m._forward_pre_hooks or m._backward_pre_hooks
    ]


def assert_restored(module: nn.Module, inplace: list[nn.Module]) -> None:
    assert hooks_left(module) == []
    assert all(p.requires_grad for p in module.parameters())
    assert all(p.grad is None for p in module.parameters())  # no weight gradient was computed
    assert all(m.inplace for m in inplace)


# --- a hand-computed case ---------------------------------------------------------------------

# x (4 x 4); a 1x1 conv makes A0 = x and A1 = -x, a ReLU keeps the positive parts, global average
# pooling and fc: y0 = 2 mean(A0) + 1 mean(A1), y1 = -mean(A0) - mean(A1).
HAND_X = torch.tensor(
    [[1.0, -2.0, 0.0, 4.0], [-1.0, 3.0, -4.0, 2.0], [0.5, -0.5, 1.5, -1.5], [0.0, 2.0, -3.0, 1.0]]
)
HAND_SPEC = ModelSpec("hand", "Hand", 2024, "", input_size=4, channels=1, mean=(0.0,), std=(1.0,),
                      resize=None)  # fmt: skip


def hand_model() -> Model:
    conv = nn.Conv2d(1, 2, kernel_size=1, bias=False)
    fc = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        fc.weight.copy_(torch.tensor([[2.0, 1.0], [-1.0, -1.0]]))
    module = nn.Sequential(
        OrderedDict(conv=conv, act=nn.ReLU(inplace=True), gap=nn.AdaptiveAvgPool2d(1),
                    flat=nn.Flatten(), fc=fc)
    ).eval()  # fmt: skip
    return Model(module, HAND_SPEC, ("zero", "one"), "random", "test", "hand:test")


def test_hand_computed_gradcam() -> None:
    # dy0/dA_k = w_k / 16 everywhere: alpha = (2/16, 1/16); L = (2 relu(x) + relu(-x)) / 16.
    e = explain(hand_model(), HAND_X[None, None], "gradcam", target=0)
    expected = (2 * HAND_X.clamp(min=0) + (-HAND_X).clamp(min=0)) / 16
    assert e.layer == "act"
    torch.testing.assert_close(torch.tensor(e.raw), expected)
    torch.testing.assert_close(torch.tensor(e.heatmap), minmax(expected))
    assert e.heatmap[0, 3] == 1.0  # x = 4: 2 * 4 / 16, the largest value
    assert e.heatmap[1, 2] == 0.5  # x = -4: 4 / 16, half of it
    assert e.note == ""


def test_hand_computed_flat_gradcam_says_so() -> None:
    # Class 1: alpha = (-1/16, -1/16), so L = ReLU(-|x| / 16) = 0 everywhere: undefined.
    e = explain(hand_model(), HAND_X[None, None], "gradcam", target="one")
    torch.testing.assert_close(torch.tensor(e.raw), -HAND_X.abs() / 16)
    assert e.flat
    assert not e.heatmap.any()
    assert np.isfinite(e.heatmap).all()
    assert "zero everywhere" in e.note


def test_hand_computed_saliency() -> None:
    # y0 = mean(2 relu(x) + relu(-x)): dy0/dx = (2 [x > 0] - [x < 0]) / 16.
    e = explain(hand_model(), HAND_X[None, None], "saliency", target=0)
    expected = (2.0 * (HAND_X > 0) - 1.0 * (HAND_X < 0)) / 16
    torch.testing.assert_close(torch.tensor(e.raw[0]), expected)
    assert set(np.unique(e.heatmap)) <= {0.0, 0.5, 1.0}


# --- against captum and pytorch-grad-cam --------------------------------------------------------

PEER_MODELS = ["lenet5", "resnet_small", "resnet18", "vgg11", "mobilenet_v2"]


@pytest.mark.parametrize("name", PEER_MODELS)
def test_gradcam_equals_captum_layergradcam(name: str, random_model: ModelGetter) -> None:
    model = random_model(name)
    x = small_input(model)
    e = explain(model, x, "gradcam")
    layer = model.module.get_submodule(e.layer)
    module = copy.deepcopy(model.module)
    captum = LayerGradCam(module, module.get_submodule(e.layer))
    raw = captum.attribute(x, target=e.target, relu_attributions=False)[0, 0].detach()
    torch.testing.assert_close(torch.tensor(e.raw), raw, rtol=1e-4, atol=1e-6)
    # captum's relu_attributions=True is the paper's ReLU; upsampled bilinearly to the input.
    relu = captum.attribute(x, target=e.target, relu_attributions=True).detach()
    expected = minmax(F.interpolate(relu, size=x.shape[-2:], mode="bilinear")[0, 0])
    torch.testing.assert_close(torch.tensor(e.heatmap), expected, rtol=1e-4, atol=1e-5)
    assert layer is model.module.get_submodule(e.layer)


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "vgg11"])
def test_gradcam_agrees_with_pytorch_grad_cam(name: str, random_model: ModelGetter) -> None:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = random_model(name)
    x = small_input(model, seed=1)
    e = explain(model, x, "gradcam")
    module = copy.deepcopy(model.module)  # pytorch-grad-cam fills .grad of every weight
    with GradCAM(module, target_layers=[module.get_submodule(e.layer)]) as cam:
        theirs = cam(x, targets=[ClassifierOutputTarget(e.target)])[0]
    # They scale to [0, 1] before resizing with OpenCV, we after resizing with torch: the
    # same bilinear weights, so the maps differ only where the range does (a few 0.01).
    assert np.abs(e.heatmap - theirs).max() < 0.05
    assert np.corrcoef(e.heatmap.ravel(), theirs.ravel())[0, 1] > 0.995


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_saliency_equals_autograd(name: str, random_model: ModelGetter) -> None:
    model = random_model(name)
    x = small_input(model)
    e = explain(model, x, "saliency", target=3)
    module = copy.deepcopy(model.module)
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(module(leaf)[0, 3], leaf)
    torch.testing.assert_close(torch.tensor(e.raw), grad[0])
    top = float(np.percentile(grad[0].abs().amax(0).numpy(), 99.5, method="higher"))
    torch.testing.assert_close(torch.tensor(e.heatmap), (grad[0].abs().amax(0) / top).clamp(0, 1))


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0)


class _GuidedModule(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReLU.apply(x)


def manual_guided_backprop(module: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, _GuidedModule())
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(module(leaf)[0, target], leaf)
    return grad[0]


def test_guided_backprop_matches_a_manual_one_on_resnet_with_reused_relus(
    random_model: ModelGetter,
) -> None:
    model = random_model("resnet18")  # each block calls its one ReLU module twice
    x = small_input(model)
    e = explain(model, x, "guided_backprop", target=1)
    expected = manual_guided_backprop(model.module, x, 1)
    torch.testing.assert_close(torch.tensor(e.raw), expected, rtol=1e-4, atol=1e-6)
    assert e.note == ""
    from pytorch_grad_cam import GuidedBackpropReLUModel

    theirs = GuidedBackpropReLUModel(copy.deepcopy(model.module), device="cpu")(
        x, target_category=1
    )
    np.testing.assert_allclose(e.raw, theirs.transpose(2, 0, 1), rtol=1e-4, atol=1e-6)


def test_guided_methods_say_when_they_are_approximate(random_model: ModelGetter) -> None:
    densenet = random_model("densenet121")  # calls F.relu after its last block
    assert "function" in explain(densenet, small_input(densenet), "guided_backprop").note
    mobile = random_model("mobilenet_v2")  # ReLU6
    assert "ReLU6" in explain(mobile, small_input(mobile), "guided_gradcam").note


def test_integrated_gradients_is_complete() -> None:
    model = load_model("lenet5", "pretrained")
    x = model.preprocess(load_sample("digit_3"))
    e = explain(model, x, "integrated_gradients", steps=64, baseline="black")
    black = ((0.0 - 0.5) / 0.5) * torch.ones_like(x)
    with torch.no_grad():
        gap = float(model.module(x)[0, e.target] - model.module(black)[0, e.target])
    assert abs(float(e.raw.sum()) - gap) < 0.02 * abs(gap)
    assert e.convergence_delta == pytest.approx(float(e.raw.sum()) - gap, abs=1e-3)


def test_every_method_on_every_registry_model() -> None:
    for name in model_names():
        model = load_model(name, "random")
        inplace = [m for m in model.module.modules() if getattr(m, "inplace", False)]
        model.module.train()  # restored afterwards, as found
        x = small_input(model)
        for method in method_names():
            e = explain(model, x, method, **FAST.get(method, {}))
            where = f"{name} {method}"
            assert e.heatmap.shape == x.shape[-2:], where
            assert np.isfinite(e.heatmap).all(), where
            assert np.isfinite(e.raw).all(), where
            assert e.heatmap.min() >= 0.0, where
            assert e.heatmap.max() <= 1.0, where
            assert e.heatmap.max() == 1.0 or e.note, where
            assert not e.heatmap.flags.writeable
        assert model.module.training
        assert_restored(model.module, inplace)


# --- state, hooks, threads ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gradcam", "saliency", "guided_backprop", "smoothgrad"])
def test_no_hooks_and_state_restored_after_an_exception(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model("resnet18", "random")
    inplace = [m for m in model.module.modules() if getattr(m, "inplace", False)]
    assert inplace

    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    monkeypatch.setattr(model.module.fc, "forward", broken)
    with pytest.raises(RuntimeError, match="boom"):
        explain(model, small_input(model), method, **FAST.get(method, {}))
    assert_restored(model.module, inplace)
    assert not model.module.training
    assert not model.lock.locked()


def test_two_threads_on_one_shared_model_get_the_right_maps(random_model: ModelGetter) -> None:
    model = random_model("resnet_small")
    inputs = [small_input(model, seed) for seed in range(4)]
    alone = [explain(model, x, "gradcam", target=2).heatmap for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda x: explain(model, x, "gradcam", target=2).heatmap,
                                 inputs * 3))  # fmt: skip
    for k, heat in enumerate(together):
        np.testing.assert_allclose(heat, alone[k % 4], atol=1e-6)
    assert hooks_left(model.module) == []


# --- targets, layers, options -------------------------------------------------------------------


def test_targets_default_index_name_and_errors() -> None:
    model = load_model("lenet5", "pretrained")
    image = load_sample("digit_3")
    assert explain(model, image, "saliency").label == "3"  # the trained net's prediction
    assert explain(model, image, "gradcam", target=5).target == 5
    assert explain(model, image, "occlusion", target="8", window=8, stride=8).label == "8"
    with pytest.raises(InputError, match="no class called 'cat'"):
        explain(model, image, target="cat")
    with pytest.raises(InputError, match="choose 0 to 9"):
        explain(model, image, target=10)
    with pytest.raises(InputError, match="no method"):
        explain(model, image, "lime")
    with pytest.raises(InputError, match="has no option steps"):
        explain(model, image, "smoothgrad", steps=4)
    with pytest.raises(InputError, match="baseline"):
        explain(model, image, "integrated_gradients", baseline="white")
    with pytest.raises(InputError, match="shape"):
        explain(model, torch.zeros(1, 3, 32, 32))


def test_class_names_suggest_near_matches(random_model: ModelGetter) -> None:
    with pytest.raises(InputError, match="Did you mean: tabby"):
        explain(random_model("resnet18"), torch.zeros(1, 3, 64, 64), target="tabb")


def test_explain_classes_equals_one_call_per_class(random_model: ModelGetter) -> None:
    model = random_model("resnet18")
    x = small_input(model)
    for method in ("gradcam", "saliency"):
        many = explain_classes(model, x, [3, 7, 11], method)
        for e in many:
            one = explain(model, x, method, target=e.target)
            np.testing.assert_allclose(e.heatmap, one.heatmap, atol=1e-6)
            np.testing.assert_allclose(e.raw, one.raw, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "layer"),
    [("resnet18", "layer4"), ("vgg16", "features.29"), ("googlenet", "inception5b"),
     ("densenet121", "features.norm5"), ("mobilenet_v2", "features.18"),
     ("efficientnet_b0", "features.8"), ("alexnet", "features.11"), ("lenet5", "features.act3")],
)  # fmt: skip
def test_default_layers_per_family(name: str, layer: str, random_model: ModelGetter) -> None:
    model = random_model(name)
    assert default_cam_layer(model) == layer
    sides = [x.shape[1] for x in cam_layers(model)]
    assert sides == sorted(sides, reverse=True)
    assert len(set(sides)) == len(sides)


def test_any_map_layer_works_and_unknown_layers_are_refused(random_model: ModelGetter) -> None:
    model = random_model("resnet18")
    x = small_input(model)
    # bn2's output is changed in place by `out += identity` right after: the map stays right.
    e = explain(model, x, "gradcam", layer="layer4.1.bn2")
    module = copy.deepcopy(model.module)
    captum = LayerGradCam(module, module.layer4[1].bn2)
    raw = captum.attribute(x, target=e.target, relu_attributions=False)[0, 0].detach()
    torch.testing.assert_close(torch.tensor(e.raw), raw, rtol=1e-4, atol=1e-6)
    early = explain(model, x, "gradcam", layer="layer1")
    assert early.raw.shape == (16, 16)
    assert e.raw.shape == (2, 2)
    with pytest.raises(InputError, match="layer4"):
        explain(model, x, "gradcam", layer="fc")


def test_a_model_from_a_checkpoint_is_explained(random_model: ModelGetter) -> None:
    buffer = io.BytesIO()
    torch.save(random_model("resnet_small").module.state_dict(), buffer)
    model = load_model("resnet_small", buffer.getvalue())
    e = explain(model, load_sample("digit_7"), "gradcam")
    assert e.layer == "features.stage3"
    assert e.heatmap.shape == (32, 32)


# --- the sanity check ---------------------------------------------------------------------------


def test_similarity_of_equal_and_unrelated_maps() -> None:
    a = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    assert similarity(a, a) == pytest.approx((1.0, 1.0))
    rho, _ = similarity(a, a[::-1])
    assert rho < -0.9
    assert np.isnan(similarity(a, np.zeros_like(a))[0])


def test_sanity_check_randomizes_a_copy_top_down() -> None:
    model = load_model("lenet5", "pretrained")
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    image = load_sample("digit_3")
    groups = [g for g, _ in randomization_steps(model)]
    assert groups == ["classifier.output", "classifier.f6", "classifier.c5", "features.c3",
                      "features.c1"]  # fmt: skip
    gradcam = sanity_check(model, image, "gradcam")
    guided = sanity_check(model, image, "guided_backprop")
    for k, v in model.module.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)  # the shared model is untouched
    assert [s.randomized for s in gradcam.steps] == groups
    assert all(s.explanation.target == gradcam.original.target for s in gradcam.steps)
    # Grad-CAM depends on the learned weights; guided backprop barely notices the top layers.
    assert gradcam.steps[-1].spearman < 0.5
    assert gradcam.steps[0].ssim < 0.5
    assert guided.steps[0].spearman > 0.8
    assert guided.steps[0].ssim > 0.8
    assert hooks_left(model.module) == []


def test_randomization_groups_of_a_large_net(random_model: ModelGetter) -> None:
    groups = randomization_steps(random_model("resnet18"))
    assert [g for g, _ in groups] == ["classifier", "layer4", "layer3", "layer2", "layer1", "relu"]
    assert dict(groups)["classifier"] == ("fc",)
    assert "conv1" in dict(groups)["relu"]
    assert "layer4.0.downsample.0" in dict(groups)["layer4"]
