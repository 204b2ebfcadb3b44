"""ONNX uploads: built here with onnx.helper, converted by onnx2torch, checked against ONNX's own
reference evaluator and against the same network written in PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

import cnnviz
from cnnviz.errors import ModelError
from cnnviz.models.labels import read_labels
from cnnviz.models.onnx_models import load_onnx


def small_cnn(classes: int = 3, channels: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(6, classes),
    ).eval()  # fmt: skip


def to_onnx(net: nn.Sequential, side: int = 16, input_dims=None, extra_nodes=()) -> bytes:
    """The same network as an ONNX graph, written node by node."""
    conv1, conv2, fc = net[0], net[3], net[7]
    init = [
        numpy_helper.from_array(t.detach().numpy(), name)
        for name, t in [
            ("w1", conv1.weight), ("b1", conv1.bias), ("w2", conv2.weight),
            ("b2", conv2.bias), ("wf", fc.weight), ("bf", fc.bias),
        ]
    ]  # fmt: skip
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
        *extra_nodes,
    ]
    channels = net[0].in_channels
    dims = input_dims or ["N", channels, side, side]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(extra_nodes[-1].output[0] if extra_nodes else "y",
                                       TensorProto.FLOAT, ["N", "K"])],
        init,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_converted_outputs_match_onnx_and_pytorch_within_1e_5() -> None:
    net = small_cnn()
    data = to_onnx(net)
    model = load_onnx(data, file_name="small.onnx")
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        converted = model.module(x)
        original = net(x)
    reference = ReferenceEvaluator(onnx.load_model_from_string(data)).run(None, {"x": x.numpy()})
    torch.testing.assert_close(converted, original, atol=1e-5, rtol=0)
    np.testing.assert_allclose(converted.numpy(), reference[0], atol=1e-5, rtol=0)
    assert model.input_size == (3, 16, 16)
    assert model.spec.label == "ONNX model small.onnx"
    assert model.labels == ("class 0", "class 1", "class 2")


def test_an_onnx_model_has_feature_maps_and_grad_cam() -> None:
    labels = read_labels(b"cat\ndog\nbird\n", origin="labels.txt")
    model = load_onnx(to_onnx(small_cnn(), side=32), labels=labels)
    image = cnnviz.load_sample("chelsea")
    p = cnnviz.probe(model, image)
    convs = [layer for layer in p.layers if layer.type_name == "Conv2d"]
    assert len(convs) == 2
    assert convs[0].shape == (4, 32, 32)
    assert p.predictions[0].label in {"cat", "dog", "bird"}
    e = cnnviz.explain(model, image)
    assert e.heatmap.shape == (32, 32)
    assert np.isfinite(e.heatmap).all()
    assert model.labels_source == "Class names from labels.txt."


def test_a_dynamic_size_is_taken_as_224_and_grayscale_works() -> None:
    model = load_onnx(to_onnx(small_cnn(channels=1), input_dims=["N", 1, "H", "W"]))
    assert model.input_size == (1, 224, 224)
    assert model.spec.mean == (0.5,)


def test_an_unsupported_operator_is_named() -> None:
    extra = (helper.make_node("Hardmax", ["y"], ["h"]),)
    with pytest.raises(ModelError, match="uses the operator Hardmax that cnnviz cannot convert"):
        load_onnx(to_onnx(small_cnn(), extra_nodes=extra))


def test_a_huge_initializer_is_refused_before_anything_is_allocated() -> None:
    model = onnx.load_model_from_string(to_onnx(small_cnn()))
    huge = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[100_000, 100_000])
    model.graph.initializer.append(huge)
    with pytest.raises(ModelError, match="declares more than 200,000,000 weights"):
        load_onnx(model.SerializeToString())


def test_an_initializer_that_lies_about_its_size_is_refused() -> None:
    model = onnx.load_model_from_string(to_onnx(small_cnn()))
    model.graph.initializer[0].dims[0] = 400
    with pytest.raises(ModelError, match="'w1' declares 10,800 values but holds 108"):
        load_onnx(model.SerializeToString())


def test_weights_in_external_files_are_refused() -> None:
    model = onnx.load_model_from_string(to_onnx(small_cnn()))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    with pytest.raises(ModelError, match="keeps its weights in separate files"):
        load_onnx(model.SerializeToString())


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x00\x01garbage that is no protobuf" * 10, "not an ONNX model"),
        (b"", "not an ONNX model"),
        (to_onnx(small_cnn(), input_dims=["N", 16]), r"input is \? x 16, not an image batch"),
        (to_onnx(small_cnn(), input_dims=["N", 16, 16, 5]), "not an image batch"),
    ],
)
def test_corrupt_and_non_image_files_get_one_sentence(data: bytes, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        load_onnx(data)


def test_too_many_operators_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cnnviz.models.onnx_models.MAX_NODES", 5)
    with pytest.raises(ModelError, match="has 8 operators; cnnviz shows graphs of up to 5"):
        load_onnx(to_onnx(small_cnn()))


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch) -> None:
    path = tmp_path / "big.onnx"
    path.write_bytes(to_onnx(small_cnn()))
    monkeypatch.setattr("cnnviz.limits.ONNX.__class__.max_bytes", property(lambda self: 100))
    with pytest.raises(ModelError, match="larger than 300 MB"):
        load_onnx(path)


def test_weights_shared_through_identity_nodes_are_read() -> None:
    """PyTorch's exporter shares equal weights through Identity nodes (onnx2torch reads a
    convolution's bias only from an initializer)."""
    net = small_cnn()
    model = onnx.load_model_from_string(to_onnx(net))
    conv = model.graph.node[0]
    model.graph.node.insert(0, helper.make_node("Identity", [conv.input[2]], ["b1_shared"]))
    conv.input[2] = "b1_shared"
    converted = load_onnx(model.SerializeToString())
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(converted.module(x), net(x), atol=1e-5, rtol=0)


def test_a_resnet18_exported_by_pytorch_converts_and_matches() -> None:
    import io
    import warnings

    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=3).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), buffer, dynamo=False)
    model = load_onnx(buffer.getvalue(), file_name="resnet18.onnx")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), net(x), atol=1e-5, rtol=0)
    assert model.input_size == (3, 224, 224)
    assert cnnviz.explain(model, cnnviz.load_sample("chelsea")).heatmap.shape == (224, 224)


def test_a_channels_last_graph_as_keras_exports_it_takes_the_image() -> None:
    """tf2onnx keeps Keras' N x H x W x C input and transposes inside the graph."""
    net = small_cnn()
    model = onnx.load_model_from_string(to_onnx(net, input_dims=["N", 16, 16, 3]))
    model.graph.input[0].name = "x_nhwc"
    model.graph.node.insert(0, helper.make_node("Transpose", ["x_nhwc"], ["x"], perm=[0, 3, 1, 2]))
    converted = load_onnx(model.SerializeToString())
    assert converted.input_size == (3, 16, 16)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(converted.module(x), net(x), atol=1e-5, rtol=0)
    assert cnnviz.explain(converted, cnnviz.load_sample("chelsea")).heatmap.shape == (16, 16)


def test_one_mean_and_std_serve_every_channel() -> None:
    model = load_onnx(to_onnx(small_cnn()), mean=(0.5,), std=(0.5,))
    assert model.spec.mean == (0.5, 0.5, 0.5)
    assert model.spec.std == (0.5, 0.5, 0.5)
    assert "mean 0.5, std 0.5" in model.spec.summary
    white = cnnviz.load_image(_white_png())
    torch.testing.assert_close(model.preprocess(white), torch.ones(1, 3, 16, 16))


def _white_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (255, 255, 255)).save(buffer, format="PNG")
    return buffer.getvalue()
