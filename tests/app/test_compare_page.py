"""Compare page: three models side by side from a link, the table, and bad links."""

from __future__ import annotations


def test_three_models_from_the_link_side_by_side(open_page, text, charts):
    at = open_page("compare", models="lenet5,tinyvgg,resnet18")
    assert charts(at) == {}  # the shape chart waits in a closed section (no plotly.js at first)
    at = open_page("compare", models="lenet5,tinyvgg,resnet18", **{"compare.shape": "true"})

    assert not at.exception
    assert not at.error
    assert text(at.subheader) == ["LeNet-5 (1998)", "TinyVGG (2020)", "ResNet-18 (2015)"]
    assert len(at.get("progress")) == 15  # top-5 per model
    captions = [c for image in at.get("image") for c in image.captions]
    assert sum(c.startswith("What it sees:") for c in text(at.caption)) == 3
    assert sum(c.startswith("Grad-CAM at ") for c in captions) == 3
    assert "layer4: 512 x 7 x 7 (16 strongest of 512 maps)" in captions
    shapes = charts(at)["compare.shapes"]
    assert [t["name"] for t in shapes["data"][::2]] == ["LeNet-5", "TinyVGG", "ResNet-18"]
    table = at.table[0].value
    assert list(table["Model"]) == ["LeNet-5", "TinyVGG", "ResNet-18"]
    assert list(table["Input"]) == ["1 x 32 x 32", "3 x 64 x 64", "3 x 224 x 224"]
    assert table["Multiply-adds"].iloc[0] == "0.42 M"
    assert table["Multiply-adds"].iloc[2] == "1.81 G"  # torchvision publishes 1.814
    assert (table["Latency (ms)"].astype(float) > 0).all()


def test_choosing_models_updates_the_link(open_page, text):
    at = open_page("compare", models="lenet5,tinyvgg")
    assert text(at.subheader) == ["LeNet-5 (1998)", "TinyVGG (2020)"]

    at.multiselect(key="compare.models").select("resnet_small").run()

    assert not at.exception
    assert at.query_params["models"] == "lenet5,tinyvgg,resnet_small"
    assert text(at.subheader)[-1] == "Small ResNet (2015)"


def test_one_model_or_an_unknown_one_gets_a_sentence(open_page, text):
    at = open_page("compare", models="lenet5")
    assert not at.exception
    assert text(at.error) == [
        "Compare 2 to 4 models (you chose 1): for example models=lenet5,tinyvgg,resnet18."
    ]
    at = open_page("compare", models="lenet5,nosuchnet")
    assert not at.exception
    assert text(at.error)[0].startswith("There is no model called 'nosuchnet'.")


def test_the_architecture_line_opens_from_its_section(open_page):
    at = open_page("compare", models="lenet5,tinyvgg", **{"compare.history": "true"})

    assert not at.exception
    table = next(d.value for d in at.dataframe if "Headline result" in d.value.columns)
    assert table["Model"].iloc[0] == "LeNet-5"
    assert "99.2% on MNIST" in table["Headline result"].iloc[0]
    assert list(table["Year"]) == sorted(table["Year"])
    zfnet = table[table["Model"] == "ZFNet"].iloc[0]
    assert zfnet["Depth (weight layers)"] == 8


def test_the_sidebars_model_keeps_its_weights_in_its_column(open_page, text):
    at = open_page("compare", models="lenet5,tinyvgg", model="lenet5")
    assert not any("sidebar's weights" in c for c in text(at.caption))
    bundled = at.get("progress")[0].proto.text  # the bundled, trained LeNet-5's top answer

    at = open_page("compare", models="lenet5,tinyvgg", model="lenet5", weights="random")
    assert not at.exception
    captions = text(at.caption)
    assert "With the sidebar's weights: random." in " ".join(captions)
    assert sum("sidebar's weights" in c for c in captions) == 1  # TinyVGG keeps its own
    assert at.get("progress")[0].proto.text != bundled
