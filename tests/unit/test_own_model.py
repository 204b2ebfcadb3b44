"""Any nn.Module as a cnnviz Model (``from_module``) and the operator's factories."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

import cnnviz
from cnnviz.errors import ModelError
from cnnviz.models.own import from_factory, from_module
from cnnviz.steps.layers import conv_layer_input, first_conv, layer_patch


class TwoBranchNet(nn.Module):
    """A small CNN with two parallel branches joined by addition, then a pooled head."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.left = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.right = nn.Conv2d(8, 8, 1)
        self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.left(x) + self.right(x)
        return self.fc(self.pool(self.down(x)).flatten(1))


@pytest.fixture(scope="module")
def branchy() -> cnnviz.Model:
    torch.manual_seed(0)
    return from_module(TwoBranchNet(), (3, 32, 32), labels=["a", "b", "c", "d"], label="Branchy")


def test_probe_records_both_branches_and_predicts_what_the_module_computes(branchy) -> None:
    image = cnnviz.load_sample("chelsea")
    p = cnnviz.probe(branchy, image)
    names = {layer.name for layer in p.layers}
    assert {"left.0", "right", "down.0", "fc"} <= names
    with torch.no_grad():
        expected = torch.softmax(branchy.module(branchy.preprocess(image)), 1)[0]
    top = p.predictions[0]
    assert top.label == branchy.labels[int(expected.argmax())]
    assert top.probability == pytest.approx(float(expected.max()), abs=1e-5)
    assert branchy.input_size == (3, 32, 32)


def test_preprocess_resizes_and_normalizes_as_told() -> None:
    model = from_module(TwoBranchNet(), (3, 16, 16), mean=(0.5, 0.5, 0.5), std=(0.25,) * 3)
    image = cnnviz.load_sample("chelsea")
    pixels = np.asarray(image.convert("RGB").resize((16, 16), resample=2), dtype=np.float32)
    expected = (pixels / 255 - 0.5) / 0.25
    np.testing.assert_allclose(model.preprocess(image)[0].permute(1, 2, 0), expected, atol=1e-5)


def test_explain_finds_the_last_map_before_the_head_and_sanity_check_runs(branchy) -> None:
    image = cnnviz.load_sample("chelsea")
    e = cnnviz.explain(branchy, image)
    assert e.layer == "down"
    assert e.heatmap.shape == (32, 32)
    assert e.heatmap.min() >= 0
    assert e.heatmap.max() <= 1
    check = cnnviz.sanity_check(branchy, image)
    assert len(check.steps) >= 2


def test_real_layer_convolution_steps_on_a_custom_module(branchy) -> None:
    name, weight, _ = first_conv(branchy)
    assert name == "stem.0"
    assert weight.shape == (8, 3, 3, 3)
    layer_input = conv_layer_input(branchy, cnnviz.load_sample("chelsea"), "left.0")
    assert layer_input.shape == (8, 32, 32)
    patch = layer_patch(branchy, layer_input, "left.0", out_channel=2, size=4)
    conv = branchy.module.left[0]
    with torch.no_grad():
        expected = conv(torch.from_numpy(np.array(layer_input))[None])[0, 2, :4, :4]
    np.testing.assert_allclose(patch.steps.output[0], expected.numpy(), atol=1e-4)


def test_labels_count_must_fit_and_1000_outputs_get_imagenet_names() -> None:
    with pytest.raises(ModelError, match="names 2 classes, but TwoBranchNet has 4 outputs"):
        from_module(TwoBranchNet(), (3, 32, 32), labels=["a", "b"])
    model = from_module(TwoBranchNet(1000), (3, 32, 32))
    assert model.labels[281] == "tabby"
    assert "ImageNet" in model.labels_source
    assert from_module(TwoBranchNet(3), (3, 32, 32)).labels == ("class 0", "class 1", "class 2")


@pytest.mark.parametrize(
    ("module", "size", "match"),
    [
        (nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)), (3, 8, 8), "no 2-D convolution"),
        (nn.Sequential(nn.Conv1d(3, 4, 3)), (3, 16, 16), "no 2-D convolution"),
        (nn.Sequential(nn.Conv2d(3, 4, 3)), (3, 16, 16), r"returns \(1, 4, 14, 14\)"),
        (nn.Sequential(nn.Conv2d(5, 4, 3)), (3, 16, 16), "does not run on an image"),
        (nn.Sequential(nn.Conv2d(4, 4, 3)), (4, 16, 16), "4 input channels"),
        (TwoBranchNet(), (3, 16, 32), "square inputs"),
        ("not a module", (3, 16, 16), "needs a torch.nn.Module"),
    ],
)
def test_what_is_not_an_image_cnn_gets_one_sentence(module, size, match) -> None:
    with pytest.raises(ModelError, match=match):
        from_module(module, size)


@pytest.fixture
def factory_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "zoo_for_cnnviz.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            import cnnviz

            def small():
                torch.manual_seed(1)
                return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                     nn.Flatten(), nn.Linear(4, 3))

            def gray():
                net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                    nn.Linear(4, 2))
                return cnnviz.Model.from_module(net, (1, 28, 28), labels=["no", "yes"])

            def broken():
                raise RuntimeError("no GPU here")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("zoo_for_cnnviz", None)


def test_factories_build_a_module_or_a_model(factory_package: Path) -> None:
    small = from_factory("zoo_for_cnnviz:small")
    assert small.spec.name == "zoo_for_cnnviz:small"
    assert small.input_size == (3, 224, 224)
    gray = from_factory("zoo_for_cnnviz:gray")
    assert gray.input_size == (1, 28, 28)
    assert gray.labels == ("no", "yes")


def test_a_factory_with_weights_and_labels_files(factory_package: Path) -> None:
    torch.manual_seed(5)
    trained = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    weights = factory_package / "w.safetensors"
    safetensors.torch.save_file(dict(trained.state_dict()), weights)
    (factory_package / "labels.txt").write_text("x\ny\nz\n")
    model = from_factory("zoo_for_cnnviz:small", weights, factory_package / "labels.txt")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), trained(x))
    assert model.labels == ("x", "y", "z")
    assert "w.safetensors" in model.weights_source


@pytest.mark.parametrize(
    ("target", "match"),
    [
        ("zoo_for_cnnviz", "not of the form package.module:factory"),
        ("no_such_package_xyz:f", "Cannot import no_such_package_xyz:f"),
        ("zoo_for_cnnviz:missing", "Cannot import zoo_for_cnnviz:missing"),
        ("zoo_for_cnnviz:broken", "failed to build a model.*no GPU here"),
    ],
)
def test_a_factory_that_fails_gets_one_sentence(factory_package: Path, target, match) -> None:
    with pytest.raises(ModelError, match=match):
        from_factory(target)


def test_transfer_training_of_your_own_model_trains_only_a_new_head(branchy) -> None:
    from cnnviz.data import load_dataset
    from cnnviz.training import DoneEvent, train

    data = load_dataset("shapes", size=32, channels=3, count=120, seed=0)
    before = {k: v.clone() for k, v in branchy.module.state_dict().items()}
    events = list(train(epochs=1, batch_size=32, transfer=True, data=data, base=branchy))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.status == "done"
    trained = done.model
    assert trained.labels == data.classes
    assert trained.input_size == branchy.input_size
    assert trained.module.fc.out_features == len(data.classes)
    after = trained.module.state_dict()
    for key, value in before.items():  # the shared model is untouched, the body kept frozen
        torch.testing.assert_close(branchy.module.state_dict()[key], value)
        if not key.startswith("fc."):
            torch.testing.assert_close(after[key], value)
    assert "Only the new last layer (fc) learned" in done.message
    assert cnnviz.probe(trained, cnnviz.load_sample("chelsea")).predictions[0].label in data.classes


def test_your_own_model_trains_by_transfer_only(branchy) -> None:
    from cnnviz.training import train

    with pytest.raises(cnnviz.InputError, match="transfer learning only"):
        next(train(epochs=1, transfer=False, base=branchy))
