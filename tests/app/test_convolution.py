"""Convolution page: the worked example, settings, refusals, inputs, exports and real layers."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from cnnviz import load_model, load_sample
from cnnviz.figures import animation
from cnnviz.steps import WORKED_EXAMPLE, kernel


def grid(player: dict, index: int) -> np.ndarray:
    """The numbers of the player's ``index``-th panel (None, a padding cell, as NaN)."""
    values = player["panels"][index]["values"]
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def textbook_output() -> np.ndarray:
    x = torch.tensor(np.array(WORKED_EXAMPLE))[None, None]
    return F.conv2d(x, torch.tensor(kernel("vertical_edge"))[None, None])[0, 0].numpy()


def test_default_is_the_worked_example(open_page, text, players):
    at = open_page("convolution")

    assert not at.exception
    assert text(at.title) == ["Convolution"]
    assert text(at.subheader) == ["Vertical edge (1 0 −1) on the worked example: 5 x 5 → 3 x 3"]
    (formulas,) = [m for m in text(at.markdown) if m.startswith("**Output side**")]
    assert "floor((5 + 2·0 − 1·(3 − 1) − 1) / 1) + 1 = 3" in formulas
    assert "(3·3·1 + 1)·1 = 10" in formulas
    player = players(at)["conv.animation"]
    assert len(player["labels"]) == 9
    np.testing.assert_array_equal(grid(player, 3), textbook_output())
    np.testing.assert_array_equal(grid(player, 0), WORKED_EXAMPLE)
    assert player["boxes"][0] == [0, 0, 3, 3]
    assert player["boxes"][8] == [2, 2, 3, 3]
    assert any(m.startswith("y[0, 0] = 7·1 + 2·0 + 3·(−1)") and m.endswith("= **6**")
               for m in text(at.markdown))  # fmt: skip


def test_inspector_shows_any_position(open_page, text):
    at = open_page("convolution")
    at.number_input(key="conv.row").set_value(2).run()
    at.number_input(key="conv.col").set_value(1).run()

    assert not at.exception
    (line,) = [m for m in text(at.markdown) if m.startswith("y[2, 1] = ")]
    assert line == "y[2, 1] = 3·1 + 2·0 + 8·(−1) + 8·1 + 7·0 + 2·(−1) + 4·1 + 4·0 + 5·(−1) = **0**"


def test_padding_bias_and_relu_change_the_animation(open_page, text, players):
    at = open_page("convolution", **{"conv.export": "true"})
    at.number_input(key="conv.padding").set_value(1).run()
    at.number_input(key="conv.bias").set_value(-2.0).run()
    at.selectbox(key="conv.activation").set_value("relu").run()

    assert not at.exception
    assert text(at.subheader)[0].endswith("5 x 5 → 5 x 5")
    player = players(at)["conv.animation"]
    assert len(player["labels"]) == 25
    x = torch.tensor(np.array(WORKED_EXAMPLE))[None, None]
    expected = F.conv2d(x, torch.tensor(kernel("vertical_edge"))[None, None], padding=1) - 2
    np.testing.assert_allclose(grid(player, 3), expected[0, 0].numpy())
    np.testing.assert_allclose(grid(player, 4), F.relu(expected)[0, 0].numpy())
    equation = player["equations"][0]
    assert "+ bias (−2)" in equation
    assert "ReLU(" in equation
    options = at.selectbox(key="conv.activation").options
    assert options[:3] == ["none", "ReLU", "leaky ReLU"]  # the labels of the nets' table
    assert len(options) == 9
    (code,) = at.code
    assert "a = F.relu(y)" in code.value


def test_settings_with_no_output_are_refused_with_a_sentence(open_page, text, players):
    at = open_page("convolution")
    at.number_input(key="conv.dilation").set_value(3).run()

    assert not at.exception
    (message,) = text(at.error)
    assert message.startswith("A 3x3 window (dilation 3, so it spans 7 pixels) does not fit in 5")
    assert "Traceback" not in message
    assert "conv.animation" not in players(at)


def test_sobel_on_a_digit(open_page, text, players):
    at = open_page("convolution")
    at.radio(key="conv.input").set_value("digit").run()
    at.selectbox(key="conv.kernel").set_value("sobel_x").run()

    assert not at.exception
    assert text(at.subheader) == ["Sobel x on digit 3 at 10 x 10: 10 x 10 → 8 x 8"]
    assert len(players(at)["conv.animation"]["labels"]) == 64


def test_rgb_crop_extends_the_kernel_through_the_channels(open_page, text, players):
    at = open_page("convolution", model="resnet18", sample="chelsea")
    at.radio(key="conv.input").set_value("image").run()
    at.radio(key="conv.crop_mode").set_value("RGB").run()

    assert not at.exception
    (heading,) = text(at.subheader)
    assert heading.endswith("crop of Chelsea the cat (RGB), 3 channels: 12 x 12 → 10 x 10")
    assert any("(3·3·3 + 1)·1 = 28" in m for m in text(at.markdown))
    player = players(at)["conv.animation"]
    assert player["panels"][0]["title"] == "input (channel 0 of 3)"
    assert player["equations"][0].count("<br>") == 1  # channel + total


def test_learned_filter_of_lenet5(open_page, text, players):
    at = open_page("convolution")
    at.selectbox(key="conv.kernel").set_value("learned").run()
    at.number_input(key="conv.filter").set_value(2).run()

    assert not at.exception
    assert text(at.subheader) == [
        "Filter 2 of LeNet-5's features.c1 on the worked example: 5 x 5 → 1 x 1"
    ]
    player = players(at)["conv.animation"]
    assert len(player["labels"]) == 1
    weights = load_model("lenet5").module.features.c1.weight.detach().double()[2, 0].numpy()
    assert player["panels"][1]["role"] == "kernel"
    np.testing.assert_allclose(grid(player, 1), weights, atol=1e-4)


def test_export_has_code_and_a_gif_button(open_page, monkeypatch):
    drawn = []
    monkeypatch.setattr(animation, "conv_gif", lambda *args: drawn.append(args) or b"GIF89a")
    at = open_page("convolution")

    assert not at.exception
    (export,) = [e for e in at.main.expander if e.label.startswith("Export")]
    assert export.label == "Export: GIF for slides, PyTorch code for a notebook"
    assert not export.proto.expanded  # closed, and nothing drawn inside: a code block makes
    assert not at.code  # the browser load a 1.5 MB syntax highlighter

    at = open_page("convolution", **{"conv.export": "true"})  # opened (the state is in the URL)
    assert not at.exception
    assert drawn == []  # the GIF waits for its button (a deferred download)
    (code,) = at.code
    assert "nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=0, dilation=1, groups=1)" in code.value
    assert "[[[7, 2, 3, 3, 8], [4, 5, 3, 8, 4]" in code.value
    assert at.get("download_button")[0].proto.label == "Download the animation (GIF)"


def test_whole_image_view(open_page, text):
    at = open_page("convolution")
    at.radio(key="conv.view").set_value("whole").run()

    assert not at.exception
    assert text(at.subheader) == ["Vertical edge (1 0 −1) beside a filter LeNet-5 learned"]
    captions = [c for image in at.get("image") for c in image.captions]
    assert captions == [
        "vertical edge (1 0 −1) on Handwritten 3",
        "filter 0 of features.c1 (mean over its input channels)",
        "filter 0 of LeNet-5 on the same image",
    ]


def test_real_layer_lenet5_c3(open_page, text, players):
    at = open_page("convolution")
    at.radio(key="conv.view").set_value("layer").run()
    at.selectbox(key="conv.layer").set_value("features.c3").run()
    at.number_input(key="conv.out").set_value(4).run()

    assert not at.exception
    (summary,) = [m for m in text(at.markdown) if m.startswith("**Standard convolution**")]
    assert "output channel 4 reads input channels 0–5; kernel 5 x 5, stride 1" in summary
    assert "of the 10 x 10 output map" in summary
    (check,) = [c for c in text(at.caption) if c.startswith("Checked against")]
    difference = float(check.split("largest difference ")[1].split(" ")[0])
    assert difference < 1e-5
    player = players(at)["conv.layer_animation"]
    assert len(player["labels"]) == 25  # a 5 x 5 block
    model = load_model("lenet5")
    with torch.no_grad():
        x = model.preprocess(load_sample("digit_3"))
        real = model.module.features[:4](x)[0, 4, :5, :5].double().numpy()
    np.testing.assert_allclose(grid(player, 3), real, atol=1e-4)


def test_real_layer_mobilenet_depthwise(open_page, text):
    at = open_page("convolution", model="mobilenet_v2", sample="chelsea")
    at.radio(key="conv.view").set_value("layer").run()
    at.selectbox(key="conv.layer").set_value("features.2.conv.1.0").run()
    at.number_input(key="conv.out").set_value(7).run()

    assert not at.exception
    (summary,) = [m for m in text(at.markdown) if "convolution**:" in m]
    assert summary.startswith("**Depthwise convolution**: output channel 7 reads input channel 7;")
    assert "groups 96" in summary


def test_editable_grid_and_custom_kernel_start_from_the_worked_example(open_page, text, players):
    at = open_page("convolution")
    at.radio(key="conv.input").set_value("grid").run()
    at.selectbox(key="conv.kernel").set_value("custom").run()

    assert not at.exception
    assert text(at.subheader) == ["Your kernel on your grid: 5 x 5 → 3 x 3"]
    player = players(at)["conv.animation"]
    assert player["equations"][0].endswith("= <b>6</b>")
