"""Tests for cnnviz.models: registry, views and preprocessing, bundled and cached weights,
checkpoints. Downloads and what "auto" does on and off line: test_models_download.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnviz.data import SHAPES
from cnnviz.errors import ModelError
from cnnviz.images import load_sample
from cnnviz.models import (
    DIGIT_LABELS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODELS,
    Model,
    build_module,
    download,
    download_weights,
    load_model,
    model_names,
    pretrained_available,
)
from cnnviz.nets import LeNet5

# --- helpers --------------------------------------------------------------------------------


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def seeded_state(build: Callable[[], torch.nn.Module], seed: int) -> dict[str, torch.Tensor]:
    """The state dict of a freshly built module under ``seed`` (unlike cnnviz's seed 0)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().state_dict()


def to_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def forward(model: Model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.module(x)


def resnet18_weights() -> torchvision.models.WeightsEnum:
    return torchvision.models.get_model_weights("resnet18").DEFAULT


# --- registry -------------------------------------------------------------------------------


def test_model_names_are_the_registry_in_teaching_order() -> None:
    names = model_names()
    assert names[:5] == ("lenet5", "tinyvgg", "resnet_small", "mobilenet_small", "deepnet")
    assert set(names) == set(MODELS)
    assert {"resnet18", "vgg16", "resnet50", "densenet121", "mobilenet_v2"} <= set(names)
    years = [MODELS[n].year for n in names[5:]]
    assert years == sorted(years)


@pytest.mark.parametrize("name", model_names())
def test_every_model_builds_random_in_eval_mode_and_classifies(
    name: str, random_model: Callable[[str], Model]
) -> None:
    model = random_model(name)
    spec = MODELS[name]
    assert model.name == name
    assert model.weights == "random"
    assert not model.trained
    assert model.key == f"{name}:random"
    assert model.input_size == (spec.channels, spec.input_size, spec.input_size)
    assert all(not m.training for m in model.module.modules())
    imagenet = spec.is_torchvision or name == "zfnet"
    expected_labels = 1000 if imagenet else 6 if name == "tinyvgg" else 10
    assert len(model.labels) == expected_labels
    out = forward(model, torch.zeros(1, *model.input_size))
    assert out.shape == (1, len(model.labels))
    assert torch.isfinite(out).all()


def test_labels_of_our_nets_and_of_imagenet(random_model: Callable[[str], Model]) -> None:
    assert random_model("lenet5").labels == DIGIT_LABELS == tuple("0123456789")
    assert random_model("tinyvgg").labels == SHAPES
    assert SHAPES == ("circle", "square", "triangle", "cross", "stripes", "ring")
    assert "shapes" in MODELS["tinyvgg"].summary
    labels = random_model("resnet18").labels
    assert labels[0] == "tench"
    assert labels[-1] == "toilet tissue"


@pytest.mark.parametrize("name", ["lenet5", "tinyvgg", "resnet18", "googlenet", "mobilenet_v2"])
def test_random_weights_are_the_same_every_time(name: str) -> None:
    first = load_model(name, "random")
    torch.manual_seed(123)  # the global RNG state must not matter
    second = load_model(name, "random")
    assert first.module is not second.module
    assert_same_state(first.module.state_dict(), second.module.state_dict())


def test_random_weights_leave_the_global_rng_alone() -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_model("lenet5", "random")
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match="There is no model called 'resnet19'") as info:
        load_model("resnet19", "random")
    message = str(info.value)
    assert all(name in message for name in model_names())
    with pytest.raises(ModelError, match="resnet19"):
        pretrained_available("resnet19")
    with pytest.raises(ModelError, match="resnet19"):
        download_weights("resnet19")


# --- view and preprocess --------------------------------------------------------------------


def banded_image() -> Image.Image:
    """600x200: a red band in the 100 leftmost columns, blue elsewhere."""
    pixels = np.zeros((200, 600, 3), dtype=np.uint8)
    pixels[:, :100] = (255, 0, 0)
    pixels[:, 100:] = (0, 0, 255)
    return Image.fromarray(pixels)


def test_view_center_crops_a_wide_image(random_model: Callable[[str], Model]) -> None:
    view = random_model("resnet18").view(banded_image())
    assert view.mode == "RGB"
    assert view.size == (224, 224)
    # Shorter side 200 -> 256 scales 600 -> 768; the 224 crop starts at x = 272 of 768, i.e.
    # at 212 of the original 600: the red band (x < 100) is cropped away.
    pixels = np.asarray(view)
    assert (pixels == (0, 0, 255)).all()


def test_view_center_crop_keeps_the_middle(random_model: Callable[[str], Model]) -> None:
    # A tall image with a green stripe across its exact middle: the stripe survives the crop.
    pixels = np.zeros((900, 300, 3), dtype=np.uint8)
    pixels[440:460] = (0, 255, 0)
    view = np.asarray(random_model("resnet18").view(Image.fromarray(pixels)))
    assert view.shape == (224, 224, 3)
    # 300 -> 256 scales 900 -> 768, rows 440..460 -> 375.5..392.5; the crop starts at row
    # (768 - 224) // 2 = 272, so the stripe lands on rows 103.5..120.5 of the view.
    assert (view[104:120, :, 1] == 255).all()
    assert (view[:103, :, 1] == 0).all()
    assert (view[121:, :, 1] == 0).all()


def test_view_resizes_the_whole_image_for_lenet5(random_model: Callable[[str], Model]) -> None:
    view = random_model("lenet5").view(banded_image())
    assert view.mode == "L"
    assert view.size == (32, 32)
    pixels = np.asarray(view).astype(int)
    red_l = round(0.299 * 255)  # PIL's ITU-R 601-2 luma
    blue_l = round(0.114 * 255)
    # The red band keeps its place: the 5 leftmost of 32 columns (100/600 of the width).
    assert np.abs(pixels[:, :4] - red_l).max() <= 1
    assert np.abs(pixels[:, 7:] - blue_l).max() <= 1


def test_view_converts_grayscale_to_rgb_for_rgb_models(
    random_model: Callable[[str], Model],
) -> None:
    view = random_model("tinyvgg").view(Image.new("L", (100, 50), 77))
    assert view.mode == "RGB"
    assert view.size == (64, 64)
    assert (np.asarray(view) == 77).all()


def test_view_of_an_extreme_aspect_ratio_stays_small(
    random_model: Callable[[str], Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    # load_image accepts up to 40 million pixels in any shape, so a tiny PNG can be 100000x1.
    real_resize = Image.Image.resize
    limit = 1024 * 1024

    def bounded_resize(self: Image.Image, size: tuple[int, int], *args, **kwargs) -> Image.Image:
        assert size[0] * size[1] <= limit, f"resize to {size} would allocate too much"
        return real_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", bounded_resize)
    columns = (np.arange(100_000) // 1000 % 256).astype(np.uint8)
    view = random_model("resnet18").view(Image.fromarray(columns[None, :], mode="L"))
    assert view.size == (224, 224)
    # The center crop sees the middle column, x = 50000, whose value is 50.
    assert np.abs(np.asarray(view).astype(int) - 50).max() <= 1


def test_preprocess_matches_hand_normalization_rgb(random_model: Callable[[str], Model]) -> None:
    rgb = (10, 128, 250)
    x = random_model("resnet18").preprocess(Image.new("RGB", (300, 260), rgb))
    assert x.dtype == torch.float32
    assert x.shape == (1, 3, 224, 224)
    for c in range(3):
        value = (rgb[c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        torch.testing.assert_close(x[0, c], torch.full((224, 224), value))


def test_preprocess_matches_hand_normalization_gray(random_model: Callable[[str], Model]) -> None:
    x = random_model("lenet5").preprocess(Image.new("L", (50, 40), 51))
    assert x.shape == (1, 1, 32, 32)
    torch.testing.assert_close(x, torch.full((1, 1, 32, 32), (0.2 - 0.5) / 0.5))


# --- bundled and cached weights (downloads and "auto" on line: test_models_download.py) ---


def test_our_nets_without_bundled_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "ASSETS_DIR", tmp_path)
    assert not pretrained_available("lenet5")
    with pytest.raises(ModelError, match="No trained weights for LeNet-5"):
        load_model("lenet5", "pretrained")
    model = load_model("lenet5", "auto")
    assert model.weights == "random"
    assert model.weights_source == "Random, untrained weights: the predictions mean nothing."
    with pytest.raises(ModelError, match="LeNet-5 has no weights to download"):
        download_weights("lenet5")


def test_the_shipped_lenet5_is_trained_and_reads_the_digit_samples() -> None:
    model = load_model("lenet5")  # auto: the weights in cnnviz/assets, no network
    assert model.weights == "pretrained"
    assert "validation accuracy" in model.weights_source
    assert model.labels == DIGIT_LABELS
    for digit in range(10):
        x = model.preprocess(load_sample(f"digit_{digit}"))
        with torch.inference_mode():
            assert int(model.module(x).argmax()) == digit


def test_bundled_weights_load_as_pretrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = seeded_state(LeNet5, 5)
    torch.save(state, tmp_path / "lenet5_digits.pt")
    monkeypatch.setattr(download, "ASSETS_DIR", tmp_path)
    assert pretrained_available("lenet5")
    for weights in ("pretrained", "auto"):
        model = load_model("lenet5", weights)
        assert model.weights == "pretrained"
        assert model.trained
        assert model.key == "lenet5:bundled"
        assert "(bundled: lenet5_digits.pt)" in model.weights_source
        assert model.labels == DIGIT_LABELS
        assert_same_state(model.module.state_dict(), state)
        assert not model.module.training


def test_pretrained_loads_a_file_already_in_the_hub_cache(torch_home: Path) -> None:
    state = seeded_state(lambda: torchvision.models.resnet18(weights=None), 3)
    torch_home.mkdir(parents=True)
    torch.save(state, torch_home / "resnet18-f37072fd.pth")  # torchvision's own file name
    assert pretrained_available("resnet18")
    for weights in ("pretrained", "auto"):
        model = load_model("resnet18", weights)
        assert model.weights == "pretrained"
        assert model.key == "resnet18:IMAGENET1K_V1"
        assert model.weights_source == "Pretrained on ImageNet (IMAGENET1K_V1, torchvision)."
        assert model.labels == tuple(resnet18_weights().meta["categories"])
        assert not model.module.training
        assert_same_state(model.module.state_dict(), state)


def test_pretrained_with_a_damaged_cache_file_says_so(torch_home: Path) -> None:
    torch_home.mkdir(parents=True)
    (torch_home / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint" * 100)
    with pytest.raises(ModelError, match=r"is damaged\. Delete it"):
        load_model("resnet18", "pretrained")


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_path_and_bytes_round_trip(tmp_path: Path) -> None:
    state = seeded_state(LeNet5, 1)
    path = tmp_path / "lenet.pt"
    torch.save(state, path)
    reference = LeNet5().eval()
    reference.load_state_dict(state)
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(x)
    from_path = load_model("lenet5", path)
    from_str = load_model("lenet5", str(path))
    from_bytes = load_model("lenet5", path.read_bytes())
    for model in (from_path, from_str, from_bytes):
        assert model.weights == "checkpoint"
        assert model.trained
        assert model.labels == DIGIT_LABELS
        assert not model.module.training
        torch.testing.assert_close(forward(model, x), expected)
    assert from_path.key == from_bytes.key
    assert from_path.key.startswith("lenet5:ckpt:")
    assert from_path.key != load_model("lenet5", to_bytes(seeded_state(LeNet5, 2))).key
    assert str(path) in from_path.weights_source
    assert from_bytes.weights_source == "Weights from an uploaded checkpoint file."


def test_checkpoint_with_metadata_sets_the_classes() -> None:
    state = seeded_state(lambda: LeNet5(num_classes=3), 1)
    data = to_bytes({"state_dict": state, "meta": {"classes": ["cat", "dog", "fish"]}})
    model = load_model("lenet5", data)
    assert model.labels == ("cat", "dog", "fish")
    assert forward(model, torch.zeros(1, 1, 32, 32)).shape == (1, 3)
    assert_same_state(model.module.state_dict(), state)


def test_checkpoint_with_other_class_count_and_no_metadata_gets_a_new_head() -> None:
    state = seeded_state(lambda: LeNet5(num_classes=3), 1)
    model = load_model("lenet5", to_bytes(state))
    assert model.labels == ("class 0", "class 1", "class 2")
    assert_same_state(model.module.state_dict(), state)


def test_checkpoint_of_another_architecture_does_not_fit() -> None:
    data = to_bytes(seeded_state(LeNet5, 1))
    with pytest.raises(ModelError, match="does not fit TinyVGG: missing 10 weights") as info:
        load_model("tinyvgg", data)
    assert "'features.conv1_1.weight'" in str(info.value)


def test_checkpoint_with_extra_weights_does_not_fit() -> None:
    state = seeded_state(LeNet5, 1)
    state["features.c7.weight"] = torch.zeros(3)
    with pytest.raises(ModelError, match=r"1 weights it does not have \(e\.g\. 'features\.c7"):
        load_model("lenet5", to_bytes(state))


_SIDE_EFFECTS: list[str] = []


def _side_effect(tag: str) -> str:
    _SIDE_EFFECTS.append(tag)
    return tag


class Payload:
    """Unpickling this calls :func:`_side_effect`: what a malicious checkpoint would do."""

    def __reduce__(self) -> tuple:
        return (_side_effect, ("ran",))


def test_checkpoint_that_runs_code_is_refused_without_running_it() -> None:
    _SIDE_EFFECTS.clear()
    data = to_bytes({"features.c1.weight": torch.zeros(6, 1, 5, 5), "x": Payload()})
    with pytest.raises(ModelError, match="which cnnviz refuses"):
        load_model("lenet5", data)
    assert _SIDE_EFFECTS == []
    # The payload is real: an unsafe load would have run it.
    torch.load(io.BytesIO(data), weights_only=False)
    assert _SIDE_EFFECTS == ["ran"]
    _SIDE_EFFECTS.clear()


@pytest.mark.parametrize(
    "data",
    [b"", np.random.default_rng(0).bytes(1000), b"PK\x03\x04broken zip"],
    ids=["empty", "garbage", "broken-zip"],
)
def test_corrupt_checkpoint_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ModelError, match="not a plain PyTorch weights file"):
        load_model("lenet5", data)


def test_truncated_checkpoint_is_refused() -> None:
    data = to_bytes(seeded_state(LeNet5, 1))
    with pytest.raises(ModelError, match="not a plain PyTorch weights file"):
        load_model("lenet5", data[: len(data) // 2])


@pytest.mark.parametrize(
    "obj",
    [[torch.zeros(2)], {"a": 1}, torch.zeros(3), {"state_dict": {"w": "text"}}],
    ids=["list", "non-tensor-value", "tensor", "nested-non-tensor"],
)
def test_checkpoint_without_a_state_dict_is_refused(obj: object) -> None:
    with pytest.raises(ModelError, match="does not hold a state dict"):
        load_model("lenet5", to_bytes(obj))


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(ModelError, match="does not exist") as info:
        load_model("lenet5", missing)
    assert str(missing) in str(info.value)
    with pytest.raises(ModelError, match="does not exist"):
        load_model("lenet5", str(missing))


def test_bfloat16_checkpoint_loads() -> None:
    state = {k: v.to(torch.bfloat16) for k, v in seeded_state(LeNet5, 1).items()}
    model = load_model("lenet5", to_bytes(state))
    assert model.module.features.c1.weight.dtype == torch.float32
    torch.testing.assert_close(
        model.module.features.c1.weight, state["features.c1.weight"].float(), rtol=0, atol=0
    )


# --- broken weights (NaN, infinity) ---------------------------------------------------------


def test_checkpoint_with_nan_in_a_weight_is_refused() -> None:
    state = seeded_state(LeNet5, 1)
    state["features.c1.weight"][0, 0, 2, 2] = float("nan")
    with pytest.raises(ModelError) as info:
        load_model("lenet5", to_bytes(state))
    assert str(info.value) == (
        "This checkpoint's weights contain NaN (not a number) in 'features.c1.weight': it was "
        "saved from a training run that diverged; train again with a lower learning rate, or "
        "choose other weights."
    )


def test_checkpoint_with_inf_in_a_batch_norm_running_var_is_refused() -> None:
    state = seeded_state(lambda: build_module("resnet_small"), 1)
    key = next(k for k in state if k.endswith("running_var"))
    assert state[key.replace("running_var", "num_batches_tracked")].dtype == torch.int64
    state[key][-1] = float("inf")
    with pytest.raises(ModelError, match=rf"contain infinite values in '{key}': it was saved"):
        load_model("resnet_small", to_bytes({"state_dict": state, "meta": {}}))
    state[key][-1] = 1.0  # finite again, integer buffers included: it loads
    assert load_model("resnet_small", to_bytes(state)).weights == "checkpoint"


def test_bundled_weights_with_nan_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = seeded_state(LeNet5, 5)
    state["classifier.c5.bias"][3] = float("nan")
    torch.save(state, tmp_path / "lenet5_digits.pt")
    monkeypatch.setattr(download, "ASSETS_DIR", tmp_path)
    with pytest.raises(ModelError, match=r"NaN \(not a number\) in 'classifier\.c5\.bias'"):
        load_model("lenet5", "pretrained")


def test_cached_pretrained_weights_with_nan_are_refused(torch_home: Path) -> None:
    state = seeded_state(lambda: torchvision.models.resnet18(weights=None), 3)
    state["fc.weight"][0, 0] = float("nan")
    torch_home.mkdir(parents=True)
    torch.save(state, torch_home / "resnet18-f37072fd.pth")
    with pytest.raises(
        ModelError, match=r"is damaged: it holds NaN \(not a number\) in 'fc\.weight'"
    ):
        load_model("resnet18", "pretrained")
