"""Tests for cnnviz.explain.receptive: a unit's theoretical box against where its gradient is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnviz
from cnnviz.explain.receptive import unit_field


class _Stack(nn.Module):
    """Linear layers of every kind of geometry (no ReLU, positive weights): the gradient of a
    unit then reaches every pixel of its theoretical field, and none outside it."""

    def __init__(self, skip: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 2, 3, stride=1, padding=1),
            nn.AvgPool2d(2, 2),
            nn.Conv2d(2, 2, 3, dilation=2),
            nn.Conv2d(2, 2, 5, stride=2, padding=2),
        )
        self.skip = nn.Conv2d(1, 2, 1, stride=2) if skip else None
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
        for p in self.parameters():
            nn.init.uniform_(p, 0.1, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x)
        if self.skip is not None:  # a residual path: the field is the widest path's
            y = y + self.skip(x)[..., : y.shape[-2], : y.shape[-1]]
        return self.head(y)


def _support(gradient: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(gradient > 0)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def _image() -> Image.Image:
    pixels = np.random.default_rng(0).integers(1, 255, (40, 40), dtype=np.uint8)
    return Image.fromarray(pixels, "L")


def _model(skip: bool = False) -> cnnviz.Model:
    return cnnviz.Model.from_module(_Stack(skip), input_size=(1, 40, 40), mean=(0.0,), std=(1.0,))


@pytest.mark.parametrize("skip", [False, True], ids=["stack", "residual"])
@pytest.mark.parametrize("position", [(0, 0), (3, 4), (7, 7)])
def test_the_box_is_exactly_where_the_gradient_reaches(skip: bool, position: tuple) -> None:
    model = _model(skip)
    x = _image()
    layer = next(x for x in cnnviz.probe(model, x).layers if x.name == "features.3")
    assert layer.shape[1:] == (8, 8)
    # size 1 -> 3 -> 4 (pool, jump 2) -> 4 + (3-1)*2*2 = 12 -> 12 + (5-1)*2 = 20 (jump 4)
    assert (layer.receptive_field.size, layer.receptive_field.stride) == (20, 4)

    found = unit_field(model, x, "features.3", 1, position, layer.receptive_field)

    assert found.box == _support(found.gradient)  # the whole box, nothing outside it
    assert found.inside == 1.0
    assert found.gradient.max() == 1.0


def test_a_border_unit_is_clipped_to_the_image_and_written_out() -> None:
    model = _model()
    x = _image()
    layer = next(x for x in cnnviz.probe(model, x).layers if x.name == "features.3")
    found = unit_field(model, x, "features.3", 0, (0, 0), layer.receptive_field)
    top, left, bottom, _ = found.box
    assert (top, left) == (0, 0)
    assert bottom < 20  # part of the field lies in the padding, outside the image
    text = found.describe()
    assert text.startswith("size 20 px, jump 4 px, start ")
    assert "sees rows 0–" in text


@pytest.mark.parametrize(
    ("name", "global_context"),
    [("lenet5", False), ("resnet18", False), ("googlenet", False), ("densenet121", False),
     ("mobilenet_v3_small", True)],
)  # fmt: skip
def test_registry_models_branches_and_skips_stay_inside_the_box(name, global_context) -> None:
    model = cnnviz.load_model(name, weights="random" if name != "lenet5" else "auto")
    image = cnnviz.load_sample("digit_3" if name == "lenet5" else "chelsea")
    layers = [x for x in cnnviz.probe(model, image).layers if x.is_map]
    layer = layers[len(layers) // 2]  # a middle layer: inside a block, after merges
    _, h, w = layer.shape

    found = unit_field(model, image, layer.name, 0, (h // 2, w // 2), layer.receptive_field)

    assert found.gradient.shape == model.input_size[1:]
    if global_context:  # squeeze-and-excitation gates see the whole image
        assert 0.99 < found.inside < 1.0
    else:
        assert found.inside == pytest.approx(1.0, abs=1e-12)


def test_refusals_are_sentences() -> None:
    model = _model()
    x = _image()
    field = cnnviz.probe(model, x).layers[0].receptive_field
    with pytest.raises(cnnviz.InputError, match="not a layer"):
        unit_field(model, x, "nowhere", 0, (0, 0), field)
    with pytest.raises(cnnviz.InputError, match="is not one of them"):
        unit_field(model, x, "features.0", 0, (40, 0), field)
    with pytest.raises(cnnviz.InputError, match="does not output maps"):
        unit_field(model, x, "head.2", 0, (0, 0), field)
