"""The current settings as PyTorch code a student can paste into a notebook."""

from __future__ import annotations

import numpy as np

from cnnviz.nets import ACTIVATIONS
from cnnviz.steps.activation import activation_label
from cnnviz.steps.convolution import ConvSteps

__all__ = ["pytorch_code"]

MAX_LITERAL = 400  # numbers written out; beyond that the input is random of the same shape


def _literal(array: np.ndarray) -> str:
    def number(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else f"{v:.4g}"

    def nest(a: np.ndarray) -> str:
        if a.ndim == 1:
            return "[" + ", ".join(number(v) for v in a) + "]"
        return "[" + ", ".join(nest(row) for row in a) + "]"

    return nest(np.asarray(array))


def pytorch_code(steps: ConvSteps, activation: str = "none") -> str:
    """``nn.Conv2d`` and ``F.conv2d`` code that computes ``steps.output`` (and the activation).

    The input and kernels are written out when small (else the input is ``torch.rand`` of the
    same shape); the last lines check that both spellings agree.

    Args:
        steps: A :class:`ConvSteps` from :func:`conv_steps`.
        activation: ``"none"`` or a name of :data:`cnnviz.nets.ACTIVATIONS`.

    Returns:
        Python source code, runnable as it is.

    Raises:
        InputError: Unknown activation name.
    """
    p = steps.padding
    hp, wp = steps.padded.shape[1:]
    x = steps.padded[:, p : hp - p, p : wp - p]
    c_out, per_group, k, _ = steps.weight.shape
    c_in = per_group * steps.groups
    x_code = (
        f"torch.tensor({_literal(x)}, dtype=torch.float64)[None]  # (1, C, H, W)"
        if x.size <= MAX_LITERAL
        else f"torch.rand(1, {c_in}, {x.shape[1]}, {x.shape[2]}, dtype=torch.float64)"
    )
    weight_code = (
        f"torch.tensor({_literal(steps.weight)}, dtype=torch.float64)"
        if steps.weight.size <= MAX_LITERAL
        else f"torch.randn({c_out}, {per_group}, {k}, {k}, dtype=torch.float64)"
    )
    settings = (
        f"stride={steps.stride}, padding={steps.padding}, dilation={steps.dilation}, "
        f"groups={steps.groups}"
    )
    lines = [
        "import torch",
        "import torch.nn as nn",
        "import torch.nn.functional as F",
        "",
        f"x = {x_code}",
        f"weight = {weight_code}  # (C_out, C_in / groups, K, K)",
        f"bias = torch.tensor({_literal(steps.bias)}, dtype=torch.float64)",
        "",
        "# The layer, as it appears in a model:",
        f"conv = nn.Conv2d({c_in}, {c_out}, kernel_size={k}, {settings}).double()",
        "with torch.no_grad():",
        "    conv.weight.copy_(weight)",
        "    conv.bias.copy_(bias)",
        "y = conv(x)",
        "",
        "# The same computation as a function call:",
        f"y2 = F.conv2d(x, weight, bias, {settings})",
        "assert torch.equal(y, y2)",
    ]
    activation_label(activation)  # refuses an unknown name
    if activation in ACTIVATIONS:
        lines.append(f"a = {ACTIVATIONS[activation].code.format('y')}  # the activation after it")
    lines.append(
        f"print(y.shape)  # torch.Size([1, {c_out}, {steps.out_shape[0]}, {steps.out_shape[1]}])"
    )
    return "\n".join(lines) + "\n"
