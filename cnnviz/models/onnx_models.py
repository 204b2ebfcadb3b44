"""ONNX files as :class:`Model` s: a graph from Keras, TensorFlow, PyTorch or anything else,
converted to an ``nn.Module`` by ``onnx2torch``.

Reading an ONNX file runs no code: it is a protobuf of operators and tensors. What could still
hurt a shared server is checked before the conversion: the file size
(:data:`cnnviz.limits.ONNX`), the number of operators (:data:`MAX_NODES`), tensors kept in
other files (refused: their paths would read the server's disk), and initializers that declare
more values than they hold or more than :data:`MAX_VALUES` in all.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path

import torch
from torch import nn

from cnnviz.errors import ModelError
from cnnviz.limits import ONNX
from cnnviz.models.labels import Labels
from cnnviz.models.model import Model
from cnnviz.models.own import from_module

log = logging.getLogger(__name__)

MAX_NODES = 20_000
"""Operators in one graph: ResNet-50 has about 180, EfficientNet-B7 about 1,500."""
MAX_VALUES = 200_000_000
"""Weights in all initializers: 800 MB of float32, beyond any network the pages can show."""
DEFAULT_SIDE = 224
"""Input side assumed when the graph leaves height and width open (a dynamic size)."""


def _parse(data: bytes):
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # DecodeError and friends: not a protobuf of a model
        raise ModelError(
            "This file is not an ONNX model (or it is corrupt): export the network with "
            "torch.onnx.export, tf2onnx or Keras' model.export(format='onnx')."
        ) from error
    if not model.graph.node:
        raise ModelError("This file is not an ONNX model (or it is corrupt): its graph is empty.")
    return model


def _check_limits(model) -> None:
    from onnx import TensorProto, helper

    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise ModelError(
            f"This ONNX model has {len(graph.node):,} operators; cnnviz shows graphs of up to "
            f"{MAX_NODES:,}."
        )
    total = 0
    for tensor in graph.initializer:
        if tensor.data_location == TensorProto.EXTERNAL or tensor.external_data:
            raise ModelError(
                "This ONNX model keeps its weights in separate files: export it as one file "
                "(save_as_external_data=False)."
            )
        count = math.prod(tensor.dims)
        total += count
        if total > MAX_VALUES:
            raise ModelError(
                f"This ONNX model declares more than {MAX_VALUES:,} weights (the initializer "
                f"'{tensor.name}' alone {count:,}): too large to show."
            )
        if tensor.raw_data:
            itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
            if len(tensor.raw_data) != count * itemsize:
                raise ModelError(
                    f"This ONNX model is corrupt: the initializer '{tensor.name}' declares "
                    f"{count:,} values but holds {len(tensor.raw_data) // itemsize:,}."
                )


def _image_input(model) -> tuple[tuple[int, int, int], bool]:
    """(C, H, W) of the graph's one image input, and whether it is channels-last (N, H, W, C),
    as Keras and TensorFlow exports (tf2onnx) take it."""
    graph = model.graph
    known = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in known]
    if len(inputs) != 1:
        raise ModelError(
            f"This ONNX model takes {len(inputs)} inputs; cnnviz shows networks that take one "
            "image."
        )
    dims = inputs[0].type.tensor_type.shape.dim
    sizes = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    last = len(sizes) == 4 and sizes[1] not in (1, 3) and sizes[3] in (1, 3)
    if len(sizes) != 4 or (sizes[1] not in (1, 3) and not last):
        shape = " x ".join("?" if s is None else str(s) for s in sizes) or "no shape"
        raise ModelError(
            f"This ONNX model's input is {shape}, not an image batch (N x C x H x W, or "
            "N x H x W x C) with 1 or 3 channels."
        )
    channels, height, width = (sizes[3], sizes[1], sizes[2]) if last else sizes[1:]
    height = height or width or DEFAULT_SIDE
    width = width or height
    return (int(channels), int(height), int(width)), last


class ChannelsLast(nn.Module):
    """Feeds a channels-last graph (a Keras or TensorFlow export) PyTorch's N x C x H x W."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.permute(0, 2, 3, 1))


def _inline_constants(model) -> None:
    """Turn ``Identity`` nodes over initializers into initializers of their own.

    PyTorch's exporter shares equal weights (the zero biases of convolutions whose batch norm
    it folded) through ``Identity`` nodes; onnx2torch reads a convolution's weights only from
    initializers.
    """
    graph = model.graph
    tensors = {t.name: t for t in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input and node.input[0] in tensors:
            copy = graph.initializer.add()
            copy.CopyFrom(tensors[node.input[0]])
            copy.name = node.output[0]
            tensors[copy.name] = copy
        else:
            kept.append(node)
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)


def _convert(model):
    from onnx2torch import convert

    try:
        return convert(model)
    except NotImplementedError as error:
        op = getattr(getattr(error, "args", [None])[0], "operation_type", None)
        text = str(error)
        if op is None and "operation_type='" in text:
            op = text.split("operation_type='", 1)[1].split("'", 1)[0]
        raise ModelError(
            f"This ONNX model uses the operator {op or 'one'} that cnnviz cannot convert to "
            "PyTorch (onnx2torch does not support it)."
        ) from error
    except Exception as error:  # a graph that checks out but cannot be built
        log.info("onnx2torch failed: %r", error)
        raise ModelError(
            f"This ONNX model could not be converted to PyTorch ({type(error).__name__})."
        ) from error


def load_onnx(
    source: str | os.PathLike[str] | bytes,
    labels: Labels | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    file_name: str | None = None,
) -> Model:
    """An ONNX image classifier as a :class:`Model`, converted with ``onnx2torch``.

    Args:
        source: The ``.onnx`` file or its bytes (weights inside the file).
        labels: Class names (default: ImageNet's for 1000 outputs, else numbered).
        mean: Normalization mean per channel, or one value for all (default: ImageNet's for
            colour, 0.5 for grey: an ONNX file does not say how its images were normalized).
        std: Normalization standard deviation per channel (same defaults).
        file_name: The file's name for the page.

    Raises:
        ModelError: Too large, corrupt, weights in external files, too many operators or
            weights, an operator onnx2torch cannot convert, or an input that is not an image.
    """
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ModelError(f"The ONNX file {source} does not exist.")
        if path.stat().st_size > ONNX.max_bytes:
            raise _too_large()
        data = path.read_bytes()
        file_name = file_name or path.name
    if len(data) > ONNX.max_bytes:
        raise _too_large()
    model = _parse(data)
    _check_limits(model)
    (channels, height, width), channels_last = _image_input(model)
    import onnx

    try:
        onnx.checker.check_model(model)
    except Exception as error:  # ValidationError: a graph that breaks ONNX's own rules
        raise ModelError(f"This ONNX model is not valid ONNX ({str(error)[:120]}).") from error
    _inline_constants(model)
    module = _convert(model)
    if channels_last:
        module = ChannelsLast(module)
    digest = hashlib.sha256(data).hexdigest()[:12]
    name = file_name or "model.onnx"
    if mean is not None and len(mean) == 1:
        mean = tuple(mean) * channels
    if std is not None and len(std) == 1:
        std = tuple(std) * channels
    norm = (
        f"mean {mean[0]:g}, std {std[0]:g}"
        if mean and std and len(set(mean)) == 1 and len(set(std)) == 1
        else "normalized with the mean and std given"
        if mean
        else "ImageNet's normalization assumed"
        if channels == 3
        else "pixels normalized with mean 0.5, std 0.5 (assumed)"
    )
    return from_module(
        module, (channels, height, width), mean, std, labels, name=f"onnx:{digest}",
        label=f"ONNX model {name}", summary=f"Your ONNX file, converted by onnx2torch ({norm}).",
        source=f"Weights from the ONNX file {name}.",
    )  # fmt: skip


def _too_large() -> ModelError:
    return ModelError(f"This ONNX file is larger than {ONNX.megabytes} MB: too large to show.")
