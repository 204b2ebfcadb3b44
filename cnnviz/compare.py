"""Architectures side by side: the facts of a model, and what to show of each one.

The Compare page shows 2 to 4 networks on the same image. Each network sees the image its own
way (its input size, channels and normalization: :meth:`cnnviz.Model.view`), so the facts say
how; the table puts beside each other what the networks cost and what they achieved:

* **weight layers**: convolutions and fully connected layers (the count in "ResNet-18" is
  these, without the 1x1 shortcut projections, which are counted here);
* **parameters**: every learned number;
* **multiply-adds** for one image, counted by PyTorch's ``torch.utils.flop_counter`` on a real
  forward pass (it counts 2 FLOPs per multiply-add of a convolution or matrix product);
* **latency**: the median of a few forward passes on this machine, now;
* **ImageNet accuracy**: as torchvision publishes it for the pretrained weights (the weights
  enum's ``meta``, offline), and only for those weights.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnviz.errors import InputError
from cnnviz.explain.layers import cam_layers
from cnnviz.models import MODELS, Model, ModelSpec
from cnnviz.models.registry import build, spec_of, tv_weights
from cnnviz.probe import Layer, Probe
from cnnviz.steps import first_conv_name

MIN_MODELS = 2
MAX_MODELS = 4


@dataclass(frozen=True, slots=True)
class Facts:
    """What one network is and costs (one row of the Compare page's table).

    Attributes:
        name: Registry name.
        label: Human name.
        year: Year of the paper.
        weight_layers: Convolutions and fully connected layers.
        params: Learned parameters.
        macs: Multiply-adds for one image (``torch.utils.flop_counter``'s FLOPs / 2).
        input_size: (C, H, W) of the network's input.
        latency_ms: Median time of one forward pass of one image on this machine.
        top1: Published ImageNet top-1 accuracy of the pretrained weights in percent, when the
            model has them (``None`` for our nets, or other weights).
        top5: The same for top-5.
        preprocessing: How the image is prepared for this network, in a sentence.
    """

    name: str
    label: str
    year: int
    weight_layers: int
    params: int
    macs: int
    input_size: tuple[int, int, int]
    latency_ms: float
    top1: float | None
    top5: float | None
    preprocessing: str


def parse_models(text: str) -> tuple[str, ...]:
    """The registry names of a ``models=`` parameter (``"lenet5,tinyvgg,resnet18"``).

    Repeated names count once; spaces around names are ignored.

    Raises:
        ModelError: An unknown name (the message lists the known ones).
        InputError: Fewer than 2 or more than 4 models.
    """
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for name in names:
        spec_of(name)
    if not MIN_MODELS <= len(names) <= MAX_MODELS:
        raise InputError(
            f"Compare {MIN_MODELS} to {MAX_MODELS} models (you chose {len(names)}): for example "
            "models=lenet5,tinyvgg,resnet18."
        )
    return names


def preprocessing(spec: ModelSpec) -> str:
    """How :meth:`cnnviz.Model.view` and :meth:`~cnnviz.Model.preprocess` prepare an image."""
    size = spec.input_size
    colour = "grey" if spec.channels == 1 else "colour"
    if spec.resize is None:
        how = f"the whole image squeezed to {size} x {size} {colour}"
    else:
        how = f"shorter side to {spec.resize}, centre {size} x {size} crop, {colour}"
    if spec.mean == MODELS["resnet18"].mean and spec.std == MODELS["resnet18"].std:
        norm = "ImageNet mean and std"
    else:
        norm = "mean " + "/".join(f"{m:g}" for m in spec.mean)
        norm += ", std " + "/".join(f"{s:g}" for s in spec.std)
    return f"{how}; normalized with {norm}."


def count_macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward pass, counted by ``torch.utils.flop_counter``.

    Only convolutions, matrix products and their kin are counted (PyTorch's registry of
    FLOP formulas); additions of biases, activations and pooling are not, as is the custom.
    """
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(x)
    return counter.get_total_flops() // 2


def weight_layers(module: nn.Module) -> int:
    """Convolutions and fully connected layers of ``module``."""
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    return sum(isinstance(m, kinds) for m in module.modules())


def latency_ms(module: nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    """Median milliseconds of ``repeats`` forward passes (after one warm-up pass)."""
    times = []
    with torch.inference_mode():
        module(x)
        for _ in range(repeats):
            start = time.perf_counter()
            module(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def published_accuracy(model: Model) -> tuple[float, float] | None:
    """ImageNet (top-1, top-5) in percent as torchvision publishes it for these weights.

    ``None`` unless the model carries torchvision's pretrained weights (random, trained or
    checkpoint weights have not earned the published numbers).
    """
    if not model.spec.is_torchvision or model.weights != "pretrained":
        return None
    metrics = tv_weights(model.spec).meta.get("_metrics", {}).get("ImageNet-1K", {})
    if "acc@1" not in metrics:
        return None
    return float(metrics["acc@1"]), float(metrics["acc@5"])


def facts(model: Model, repeats: int = 5) -> Facts:
    """The table row of ``model``: counts, a timed forward pass, the published accuracy.

    Holds the model's lock (the counter's module tracking uses hooks; the timing wants the
    model to itself). The input is a zero image of the model's input size.
    """
    x = torch.zeros(1, *model.input_size)
    with model.lock:
        macs = count_macs(model.module, x)
        latency = latency_ms(model.module, x, repeats)
    accuracy = published_accuracy(model)
    spec = model.spec
    return Facts(
        spec.name, spec.label, spec.year, weight_layers(model.module),
        sum(p.numel() for p in model.module.parameters()), macs, model.input_size, latency,
        accuracy[0] if accuracy else None, accuracy[1] if accuracy else None,
        preprocessing(spec),
    )  # fmt: skip


def stages(model: Model, probe: Probe) -> tuple[Layer, ...]:
    """The layers whose maps the Compare page shows: the first convolution, a middle stage and
    the last stage (Grad-CAM's per-stage picks, :func:`cnnviz.cam_layers`), without repeats.

    Raises:
        InputError: The model has no convolution.
    """
    first = first_conv_name(model.module)
    if first is None:
        raise InputError(f"{model.spec.label} has no convolution to show.")
    picks = [x.name for x in cam_layers(model)]
    names = dict.fromkeys([first, picks[(len(picks) - 1) // 2], picks[-1]])
    return tuple(probe.layer(n) for n in names)


def row(f: Facts) -> dict[str, object]:
    """One row of the comparison table, with readable units."""
    c, h, w = f.input_size
    return {
        "Model": f.label,
        "Year": f.year,
        "Weight layers": f.weight_layers,
        "Parameters": f"{f.params / 1e6:.2f} M" if f.params >= 1e5 else f"{f.params:,}",
        "Multiply-adds": f"{f.macs / 1e9:.2f} G" if f.macs >= 1e8 else f"{f.macs / 1e6:.2f} M",
        "Input": f"{c} x {h} x {w}",
        "Latency (ms)": f"{f.latency_ms:.1f}",
        "ImageNet top-1": f"{f.top1:.1f} %" if f.top1 is not None else "—",
        "ImageNet top-5": f"{f.top5:.1f} %" if f.top5 is not None else "—",
    }


PAPER_RESULTS = {
    "lenet5": "99.2% on MNIST (LeCun et al., 1998: 0.8% test error, trained with distortions)",
}
"""Headline results from the papers, for the architectures torchvision publishes no weights of."""
LINE = ("lenet5", "zfnet")
"""Our nets that belong on the architecture line (the others are small teaching variants)."""


@dataclass(frozen=True, slots=True)
class Milestone:
    """One architecture on the line from LeNet-5 to EfficientNet.

    Attributes:
        name: Registry name.
        label: Human name.
        year: Year of the paper.
        weight_layers: Convolutions and fully connected layers (the depth).
        params: Learned parameters.
        idea: The key idea, in a sentence.
        result: The headline result and where it comes from.
    """

    name: str
    label: str
    year: int
    weight_layers: int
    params: int
    idea: str
    result: str


def _result(spec: ModelSpec) -> str:
    if spec.name in PAPER_RESULTS:
        return PAPER_RESULTS[spec.name]
    if not spec.is_torchvision:
        return "— (no published weights; cnnviz builds the layout)"
    weights = tv_weights(spec)
    metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    if "acc@1" not in metrics:
        return "—"
    return f"{metrics['acc@1']:.1f}% ImageNet top-1 (torchvision's {weights.name} weights)"


def architecture_line() -> tuple[Milestone, ...]:
    """The classic architectures in order of their papers: depth, size, idea, headline result.

    Each network is built on PyTorch's ``meta`` device (shapes only, no memory, no weights), so
    the counts are exact and the whole line takes a few seconds; ImageNet accuracies are
    torchvision's published ones for its default weights (the weights enum's ``meta``, offline).
    """
    rows = []
    for spec in MODELS.values():
        if not (spec.is_torchvision or spec.name in LINE):
            continue
        with torch.device("meta"):
            module = build(spec)
        params = sum(p.numel() for p in module.parameters())
        rows.append(
            Milestone(spec.name, spec.label, spec.year, weight_layers(module), params,
                      spec.summary, _result(spec))
        )  # fmt: skip
    return tuple(sorted(rows, key=lambda m: m.year))


def milestone_row(m: Milestone) -> dict[str, object]:
    """One row of the architecture line's table, with readable units."""
    return {
        "Year": m.year,
        "Model": m.label,
        "Depth (weight layers)": m.weight_layers,
        "Parameters": f"{m.params / 1e6:.1f} M" if m.params >= 1e5 else f"{m.params:,}",
        "Key idea": m.idea,
        "Headline result": m.result,
    }
