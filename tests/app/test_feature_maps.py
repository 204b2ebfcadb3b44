"""Feature maps page: layers and their shapes, stepping, deep links, uploads and checkpoints."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from cnnviz import load_model, load_sample
from cnnviz.nets import LeNet5, TinyVGG

_UNPICKLED: list[str] = []


def _mark_unpickled() -> str:
    _UNPICKLED.append("ran")
    return "ran"


class _Gadget:
    """Unpickling this calls a function: a file that must run code to load."""

    def __reduce__(self):
        return (_mark_unpickled, ())


def torch_file(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def state_dict_bytes(module: torch.nn.Module) -> bytes:
    return torch_file(module.state_dict())


def upload_checkpoint(at, name: str, data: bytes):
    at.selectbox(key="weights").set_value("checkpoint").run()
    return (
        at.file_uploader(key="checkpoint").set_value((name, data, "application/octet-stream")).run()
    )


def test_default_shows_the_first_convolution(open_page, text, charts):
    at = open_page("feature_maps")

    assert not at.exception
    assert text(at.title) == ["Feature maps"]
    assert text(at.subheader)[0] == "Output of features.c1 (Conv2d): 6 x 28 x 28 (C x H x W)"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == "156"  # 6 filters of 5x5x1 + 6 biases
    assert metrics["Channels"] == "6"
    assert any("6 of 6 channels of features.c1 (28 x 28 each)" in c for c in _captions(at))
    assert charts(at) == {}  # the charts wait in closed sections: no plotly.js for a first look


def test_open_sections_show_the_channel_closeup_and_the_shapes(open_page, charts):
    # The sections' state is in the URL: a teacher's link opens them for everyone.
    at = open_page("feature_maps", **{"fm.closeup": "true", "fm.shape": "true"})

    assert not at.exception
    figures = charts(at)
    assert figures["fm.heatmap.features.c1.0"]["layout"]["title"]["text"] == (
        "features.c1 channel #0"
    )
    assert any(c == "Channel #0 stretched over the input image" for c in _captions(at))
    shapes = figures["fm.shapes"]["data"][0]
    assert list(shapes["x"]) == [
        "input",
        "features.c1",
        "features.s2",
        "features.c3",
        "features.s4",
    ]


def _captions(at) -> list[str]:
    return [c for image in at.get("image") for c in image.captions]


def test_next_and_previous_step_through_the_layers(open_page, text):
    at = open_page("feature_maps")

    at.button(key="fm.next").click().run()
    assert not at.exception
    assert at.selectbox(key="fm.layer").value == "features.s2"
    assert text(at.subheader)[0] == "Output of features.s2 (MaxPool2d): 6 x 14 x 14 (C x H x W)"
    assert {m.label: m.value for m in at.metric}["Parameters"] == "0"

    at.button(key="fm.next").click().run()
    assert text(at.subheader)[0] == "Output of features.c3 (Conv2d): 16 x 10 x 10 (C x H x W)"

    at.button(key="fm.prev").click().run()
    assert not at.exception
    assert text(at.subheader)[0].startswith("Output of features.s2 (MaxPool2d)")


def test_deep_link_resnet18_on_the_cat(open_page, text, charts, array):
    at = open_page("feature_maps", model="resnet18", sample="chelsea")

    assert not at.exception
    assert any("**ResNet-18**" in m and "**Chelsea the cat**" in m for m in text(at.markdown))
    assert text(at.subheader)[0] == "Output of conv1 (Conv2d): 64 x 112 x 112 (C x H x W)"
    assert {m.label: m.value for m in at.metric}["Parameters"] == "9,408"  # 64 * 3 * 7 * 7
    assert "Pretrained weights are not on this computer" in text(at.warning)[0]
    assert len(at.get("progress")) == 5  # the top-5 predictions
    assert at.select_slider(key="fm.limit").value == 64


def test_upload_switches_the_image(open_page, png, text):
    at = open_page("feature_maps")
    at.file_uploader(key="upload").set_value(("my_photo.png", png(), "image/png")).run()

    assert not at.exception
    assert not at.error
    assert at.radio(key="source").value == "upload"
    banner = next(m for m in text(at.markdown) if m.startswith("**LeNet-5**"))
    assert banner.endswith("image: **my_photo.png**")
    assert text(at.subheader)[0] == "Output of features.c1 (Conv2d): 6 x 28 x 28 (C x H x W)"


def test_corrupt_upload_shows_a_sentence_not_a_traceback(open_page, text):
    at = open_page("feature_maps")
    at.file_uploader(key="upload").set_value(("x.png", b"not an image", "image/png")).run()

    assert not at.exception
    (message,) = text(at.error)
    assert message.startswith("This file is not an image cnnviz can read")
    assert "Try another file." in message
    assert "Traceback" not in message
    assert not at.subheader  # the page stops instead of showing stale maps


def test_transparent_upload_explains_the_white_background(open_page, png, text):
    at = open_page("feature_maps")
    data = png("RGBA", transparent=True)
    at.file_uploader(key="upload").set_value(("alpha.png", data, "image/png")).run()

    assert not at.exception
    assert text(at.info) == ["Transparent areas were placed on a white background."]
    assert any(m.endswith("image: **alpha.png**") for m in text(at.markdown))


def test_every_module_toggle_lists_activations(open_page, text):
    at = open_page("feature_maps")
    main = at.selectbox(key="fm.layer").options
    assert not any("ReLU" in o for o in main)

    at.toggle(key="fm.every_module").set_value(True).run()

    assert not at.exception
    every = at.selectbox(key="fm.layer").options
    assert len(every) > len(main)
    assert "2. features.act1 — ReLU 6 x 28 x 28" in every
    assert "10. classifier.act5 — ReLU 120" in every
    assert set(main) <= set(every)
    assert text(at.subheader)[0].startswith("Output of features.c1 ")  # the choice is kept


def test_linear_layer_shows_a_vector_chart(open_page, text, charts, array):
    at = open_page("feature_maps")
    at.selectbox(key="fm.layer").set_value("classifier.c5").run()

    assert not at.exception
    assert text(at.subheader) == ["Output of classifier.c5 (Linear): 120 (values)"]
    figures = charts(at)
    assert "fm.heatmap" not in figures
    vector = figures["fm.vector"]
    assert vector["layout"]["title"]["text"] == "classifier.c5: 120 values"
    assert array(vector["data"][0]["y"]).shape == (120,)
    assert not any("channels of" in c for c in _captions(at))  # no map grid


def test_tinyvgg_shapes(open_page, text):
    at = open_page("feature_maps", model="tinyvgg")

    assert not at.exception
    assert text(at.subheader)[0] == "Output of features.conv1_1 (Conv2d): 10 x 62 x 62 (C x H x W)"
    assert {m.label: m.value for m in at.metric}["Parameters"] == "280"  # 10 * 3 * 3 * 3 + 10


def test_checkpoint_without_a_file_asks_for_one(open_page, text):
    at = open_page("feature_maps")
    at.selectbox(key="weights").set_value("checkpoint").run()

    assert not at.exception
    assert text(at.error) == [
        "Upload a checkpoint file (.pt, .pth or .safetensors) in the sidebar first."
    ]
    assert not at.subheader


def test_checkpoint_upload_loads_those_weights(open_page, text):
    torch.manual_seed(1)
    net = LeNet5()
    at = upload_checkpoint(open_page("feature_maps"), "lenet.pt", state_dict_bytes(net))

    assert not at.exception
    assert not at.error
    assert not at.warning  # no "random weights" warning
    assert any("checkpoint" in c for c in text(at.caption) if "verified" in c)
    assert text(at.subheader)[0] == "Output of features.c1 (Conv2d): 6 x 28 x 28 (C x H x W)"
    x = load_model("lenet5", "random").preprocess(load_sample("digit_3"))
    with torch.no_grad():
        expected_min = float(net.features.c1(x).min())  # this net's own first layer, not seed 0's
    assert {m.label: m.value for m in at.metric}["Min"] == f"{expected_min:.3g}"


def test_checkpoint_caption_is_a_sentence(open_page, text):
    at = upload_checkpoint(open_page("feature_maps"), "lenet.pt", state_dict_bytes(LeNet5()))

    assert not at.exception
    (caption,) = [c for c in text(at.caption) if "checkpoint" in c]
    assert "Weights from an uploaded checkpoint file." in caption


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(torch_file({"w": _Gadget()}), id="pickle-that-runs-code"),
        pytest.param(pickle.dumps({"w": _Gadget()}, protocol=2), id="plain-pickle"),
        pytest.param(b"garbage, not a torch file", id="garbage"),
    ],
)
def test_unsafe_or_broken_checkpoint_is_refused_with_a_sentence(open_page, text, data):
    at = upload_checkpoint(open_page("feature_maps"), "bad.pt", data)

    assert not at.exception
    (message,) = text(at.error)
    assert message.startswith("This file is not a plain PyTorch weights file")
    assert "torch.save(model.state_dict(), path)" in message
    assert not _UNPICKLED  # the code in the pickle never ran
    assert not at.subheader


def test_checkpoint_of_another_architecture_is_refused(open_page, text):
    at = upload_checkpoint(open_page("feature_maps"), "tiny.pt", state_dict_bytes(TinyVGG()))

    assert not at.exception
    (message,) = text(at.error)
    assert message.startswith("This checkpoint does not fit LeNet-5")
    assert "another architecture" in message


def test_pretrained_offline_says_how_to_get_the_weights(open_page, text, monkeypatch):
    import cnnviz

    def offline(name: str, progress=None):
        progress(1024, 4096)  # the page's progress bar must accept updates
        raise cnnviz.ModelError(f"No network: run `cnnviz download-weights {name}`.")

    monkeypatch.setattr(cnnviz, "download_weights", offline)
    at = open_page("feature_maps", model="resnet18", weights="pretrained")

    assert not at.exception
    assert text(at.error) == ["No network: run `cnnviz download-weights resnet18`."]
    assert not [s for s in text(at.subheader) if s.startswith("Output of")]


def test_pretrained_small_net_without_bundled_weights_says_so(open_page, text):
    at = open_page("feature_maps", model="resnet_small", weights="pretrained")

    assert not at.exception
    (error,) = text(at.error)
    assert error.startswith("No trained weights for Small ResNet ship with this version of cnnviz.")


def test_closeup_shows_the_strongest_units_receptive_field(open_page, text):
    at = open_page("feature_maps", **{"fm.closeup": "true"})

    assert not at.exception
    model = load_model("lenet5")
    with torch.no_grad():
        c1 = model.module.features.c1(model.preprocess(load_sample("digit_3")))[0, 0]
    row, col = divmod(int(c1.argmax()), c1.shape[1])  # before a click: the strongest unit
    captions = [c for image in at.get("image") for c in image.captions]
    assert f"Receptive field of unit ({row}, {col}): the box it can see" in " ".join(captions)
    (numbers,) = [c for c in text(at.caption) if c.startswith("size 5 px, jump 1 px, start 2 px")]
    assert f"sees rows {row}–{row + 4}, columns {col}–{col + 4}" in numbers
    assert "100% of its gradient falls inside the box" in numbers
