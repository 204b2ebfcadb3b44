"""The attribution methods cnnviz offers: names, what the page says about each, options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["METHODS", "Method", "MethodInfo", "method_names"]

Method = Literal[
    "gradcam", "guided_gradcam", "saliency", "smoothgrad", "integrated_gradients",
    "guided_backprop", "deconvnet", "occlusion",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What the page says about a method.

    Attributes:
        label: Human name.
        summary: One paragraph: what the map shows and how it is made.
        formula: The method's formula in LaTeX.
        uses_layer: Whether the method needs a layer (the CAMs).
        slow: Whether it runs the network many times (the page shows progress).
        options: Option names and defaults (see :func:`explain`).
    """

    label: str
    summary: str
    formula: str
    uses_layer: bool = False
    slow: bool = False
    options: tuple[tuple[str, Any], ...] = ()


METHODS: dict[str, MethodInfo] = {
    "gradcam": MethodInfo(
        "Grad-CAM",
        "Takes the maps of one convolutional layer, weighs each channel by how much the class "
        "score grows when that channel grows (its gradient, averaged over the map), adds them up "
        "and keeps the positive part. Coarse (one value per cell of the layer's grid), but it "
        "points at the object the class is about. Early layers give sharper, less semantic maps.",
        r"\begin{gathered}\alpha_k^c = \frac{1}{Z}\sum_{i,j}"
        r"\frac{\partial y^c}{\partial A^k_{ij}} \\ "
        r"L^c_{\mathrm{Grad\text{-}CAM}} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)"
        r"\end{gathered}",
        uses_layer=True,
    ),
    "guided_gradcam": MethodInfo(
        "Guided Grad-CAM",
        "Grad-CAM multiplied pixel by pixel with guided backpropagation: the fine edges of "
        "guided backprop, kept only where Grad-CAM says the class is.",
        r"L = L^c_{\mathrm{Grad\text{-}CAM}}\!\uparrow \odot\ \mathrm{GuidedBackprop}^c",
        uses_layer=True,
    ),
    "saliency": MethodInfo(
        "Saliency (gradient)",
        "The gradient of the class score with respect to each input pixel: how much the score "
        "would change if that pixel changed a little. Fast and exact, but noisy. The map shows "
        "the largest absolute value over the colour channels.",
        r"M_{ij} = \max_c \left|\frac{\partial y^c}{\partial x_{c,ij}}\right|",
    ),
    "smoothgrad": MethodInfo(
        "SmoothGrad",
        "The average gradient over many copies of the image with a little random noise added: "
        "the noise that makes plain gradients speckled averages out.",
        r"\hat M(x) = \frac{1}{n}\sum_{s=1}^{n} \nabla_x y^c\big(x + \mathcal N(0, \sigma^2)\big)",
        slow=True,
        options=(("samples", 16), ("noise", 0.15)),
    ),
    "integrated_gradients": MethodInfo(
        "Integrated Gradients",
        "Adds up the gradients along a straight path from a baseline image (black, blurred or "
        "noise) to the image. The attributions sum to the score difference between image and "
        "baseline, so each pixel gets its share of the decision; the result depends on the "
        "baseline.",
        r"\mathrm{IG}_i(x) = (x_i - x'_i)\int_0^1 "
        r"\frac{\partial y^c(x' + t(x - x'))}{\partial x_i}\,dt",
        slow=True,
        options=(("steps", 32), ("baseline", "black"), ("batch", 16)),
    ),
    "guided_backprop": MethodInfo(
        "Guided backpropagation",
        "A gradient where every ReLU also blocks negative gradients on the way back: crisp, "
        "edge-like pictures. Beware: it barely depends on what the model learned (see the "
        "sanity check) and looks much the same for every class.",
        r"R^{(l)} = \mathbb{1}[f^{(l)} > 0]\cdot\mathbb{1}[R^{(l+1)} > 0]\cdot R^{(l+1)}",
    ),
    "deconvnet": MethodInfo(
        "Deconvnet (Zeiler & Fergus)",
        "The deconvolutional network of ZFNet's paper (2013): the class score is sent back "
        "through the network, each convolution by its transposed filters and each ReLU applied "
        "to the signal coming back (not gated by where the forward pass was positive). It "
        "shows the patterns in the image that the network's filters answer to, crisp but, like "
        "guided backpropagation, much the same for every class.",
        r"R^{(l)} = \mathbb{1}[R^{(l+1)} > 0]\cdot R^{(l+1)}",
    ),
    "occlusion": MethodInfo(
        "Occlusion",
        "Covers the image with a grey square, one position at a time, and records how much the "
        "class score drops. No gradients: it asks the model directly, at the price of one "
        "forward pass per position.",
        r"M_{ij} = \operatorname{mean}_{w \ni (i,j)}\big(y^c(x) - y^c(x_{\setminus w})\big)",
        slow=True,
        options=(("window", None), ("stride", None)),
    ),
}


def method_names() -> tuple[str, ...]:
    """The methods, in the order the page lists them."""
    return tuple(get_args(Method))
