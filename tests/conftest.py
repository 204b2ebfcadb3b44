"""Shared fixtures: an isolated torch hub cache, cached random models, a hand-set tiny model."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnviz.data import Dataset, load_dataset
from cnnviz.models import Model, ModelSpec, load_model

# Tests never reach the internet: with this, weights="auto" never probes or downloads (the
# tests of the download path unset it and serve files from a local server). Set at import, so
# the browser tests' streamlit server inherits it too.
os.environ["CNNVIZ_OFFLINE"] = "1"


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME, so no real weights cache leaks in; returns its hub checkpoints dir."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    assert Path(torch.hub.get_dir()) == home / "hub"
    return home / "hub" / "checkpoints"


@pytest.fixture(scope="session")
def digits() -> Dataset:
    """scikit-learn's digits at LeNet-5's input (32 x 32 grey, seeded split); read-only."""
    return load_dataset("digits", size=32, channels=1, seed=0)


@pytest.fixture(scope="session")
def random_model() -> Callable[[str], Model]:
    """``random_model(name)``: a registry model with random weights, built once per session.

    Shared between tests: use it read-only (a test that changes modes or weights loads its own).
    """
    cache: dict[str, Model] = {}

    def get(name: str) -> Model:
        if name not in cache:
            cache[name] = load_model(name, "random")
        return cache[name]

    return get


TINY_SPEC = ModelSpec(
    name="tiny", label="Tiny", year=2024, summary="", input_size=4, channels=1,
    mean=(0.0,), std=(1.0,), resize=None,
)  # fmt: skip


def tiny_module() -> nn.Sequential:
    """conv 2@2x2 -> ReLU -> max pool 2x2 stride 1 -> flatten -> linear 8 -> 3, hand-set weights.

    Input (1, 4, 4) -> conv (2, 3, 3) -> pool (2, 2, 2) -> 8 -> 3 logits.
    Filter 0 is ``[[1, 0], [0, -1]]`` (bias 0): top-left minus bottom-right.
    Filter 1 is ``0.5`` everywhere (bias -1): half the window sum minus one.
    Output row 0 sums all 8 features; row 1 is feature 2 minus feature 7 plus 0.5; row 2 is -1.
    """
    conv = nn.Conv2d(1, 2, kernel_size=2)
    fc = nn.Linear(8, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, -1.0]]], [[[0.5, 0.5], [0.5, 0.5]]]]))
        conv.bias.copy_(torch.tensor([0.0, -1.0]))
        fc.weight.zero_()
        fc.weight[0] = 1.0
        fc.weight[1, 2] = 1.0
        fc.weight[1, 7] = -1.0
        fc.bias.copy_(torch.tensor([0.0, 0.5, -1.0]))
    return nn.Sequential(
        OrderedDict(
            conv=conv,
            relu=nn.ReLU(inplace=True),
            pool=nn.MaxPool2d(2, stride=1),
            flatten=nn.Flatten(),
            fc=fc,
        )
    ).eval()


@pytest.fixture
def tiny_model() -> Model:
    """:func:`tiny_module` as a cnnviz Model: 1x4x4 grayscale input, x = pixel / 255."""
    return Model(tiny_module(), TINY_SPEC, ("a", "b", "c"), "random", "test", "tiny:test")
