"""The Compare page's views: which models, one column per model, the shared chart and table.

Everything per model is computed once per server and shared: the model (``auto`` weights as
they are on this computer, never a download; the sidebar's own weights for the sidebar's
architecture), its probe of the image (:func:`probe_of`), its
Grad-CAM (the Grad-CAM page's store), the encoded pictures (:func:`shared_jpeg`) and its facts
(counted and timed once per model).
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import compare, figures
from cnnviz.explain.layers import default_cam_layer
from cnnviz.figures import attribution as attribution_figures
from cnnviz.ui.attribution_views import compute
from cnnviz.ui.session import Selection, auto_model, current_model, error_boundary, probe_of
from cnnviz.ui.shared_views import shared, shared_jpeg
from cnnviz.ui.widgets import top_predictions

PAGE = "compare"
DEFAULT = ("lenet5", "tinyvgg", "resnet18")
MAPS_SHOWN = 16
"""Channels per stage (strongest first): a 4 x 4 grid fits a column at 1280 x 720."""


def _to_url() -> None:
    linked = ",".join(st.session_state[f"{PAGE}.models"])
    st.query_params["models"] = st.session_state[f"{PAGE}.models_url"] = linked


def compare_models() -> tuple[str, ...]:
    """The models to compare: a multiselect seeded from ``?models=a,b,c`` (kept in the URL).

    Raises:
        CnnvizError: The URL names an unknown model, or fewer than 2 or more than 4.
    """
    key, seen = f"{PAGE}.models", f"{PAGE}.models_url"
    linked = st.query_params.get("models")
    if key not in st.session_state or (linked and linked != st.session_state.get(seen)):
        st.session_state[seen] = linked  # a new link decides (a lesson step, a pasted URL)
        st.session_state[key] = list(compare.parse_models(linked or ",".join(DEFAULT)))
    st.multiselect(
        "Models (2 to 4)", cnnviz.model_names(), key=key, max_selections=compare.MAX_MODELS,
        format_func=lambda n: f"{cnnviz.MODELS[n].label} ({cnnviz.MODELS[n].year})",
        on_change=_to_url,
    )  # fmt: skip
    return compare.parse_models(",".join(st.session_state[key]))


@st.cache_resource(max_entries=16, show_spinner="Counting and timing the networks…")
def _facts(model_key: str, _model: cnnviz.Model) -> compare.Facts:
    return compare.facts(_model)


def sidebars(name: str, selection: Selection) -> bool:
    """Whether the sidebar shows ``name`` with weights chosen there (trained on the Training
    page, shared by the teacher, a checkpoint, random...): the column then shows that network."""
    return name == selection.model_name and selection.weights != "auto"


def model_of(name: str, selection: Selection) -> cnnviz.Model:
    """The cached model ``name``: the sidebar's own network (see :func:`sidebars`), else
    ``name`` with the weights on this computer (pretrained, else random)."""
    return current_model(selection) if sidebars(name, selection) else auto_model(name)


def compare_column(name: str, selection: Selection) -> cnnviz.Probe | None:
    """One model's column: its input as it sees it, top-5, Grad-CAM and three stages' maps.

    Returns:
        The model's probe of the image (for the shared chart), or ``None`` after an error.
    """
    with error_boundary(cnnviz.MODELS[name].label):
        model = model_of(name, selection)
        probe = probe_of(model, selection.image, selection.image_digest)
        st.subheader(f"{model.spec.label} ({model.spec.year})")
        if sidebars(name, selection):
            st.caption(f":material/tune: With the sidebar's weights: {model.weights}.")
        picture, words = st.columns([2, 3], vertical_alignment="center")
        picture.image(shared_jpeg(lambda: probe.image, probe, "compare.input"), width="stretch")
        words.caption(f"What it sees: {compare.preprocessing(model.spec)}")
        if not model.trained:
            st.caption(f":material/casino: {model.weights_source}")
        top_predictions(probe)
        _gradcam(model, probe, selection)
        for layer in compare.stages(model, probe):
            _maps(probe, layer)
        return probe
    return None


def _gradcam(model: cnnviz.Model, probe: cnnviz.Probe, selection: Selection) -> None:
    layer = default_cam_layer(model)
    top = probe.predictions[0]
    e = compute(model, selection, "gradcam", top.index, layer)
    st.image(
        shared_jpeg(
            lambda: attribution_figures.map_overlay(probe.image, e, "magma", 0.5),
            probe, "compare.gradcam", layer, top.index,
        ),
        caption=f"Grad-CAM at {layer} for “{top.label}”", width="stretch",
    )  # fmt: skip


def _maps(probe: cnnviz.Probe, layer: cnnviz.Layer) -> None:
    order = figures.channel_order(layer, "mean")[:MAPS_SHOWN]
    key = ("compare.maps", layer.name, tuple(order))
    grid = shared(
        lambda: figures.feature_grid(layer.output, order, "viridis", "channel", columns=4),
        probe, *key,
    )  # fmt: skip
    c, h, w = layer.shape
    st.image(
        shared_jpeg(lambda: grid.image, probe, *key), width="stretch",
        caption=f"{layer.name}: {c} x {h} x {w} ({len(order)} strongest of {c} maps)",
    )  # fmt: skip


def compare_shapes(probes: list[cnnviz.Probe]) -> None:
    """Every model's shape progression on one chart (built once per set of probes)."""
    figure = shared(
        lambda: figures.shapes_compare_figure(probes), None, "compare.shapes",
        *(p.key for p in probes),
    )  # fmt: skip
    st.plotly_chart(figure, key=f"{PAGE}.shapes")


def compare_table(names: tuple[str, ...]) -> None:
    """Depth, parameters, multiply-adds, input, year, latency here and published accuracy."""
    rows = [compare.row(_facts(m.key, m)) for m in map(auto_model, names)]
    # A plain table: st.dataframe's grid is a large script a fresh tab waits for.
    st.table(rows, hide_index=True)
    st.caption(
        "Multiply-adds counted by PyTorch's flop counter for one image; latency: the median of "
        "5 forward passes of one image on this server, measured once; ImageNet accuracy as "
        "torchvision publishes it, shown only for its pretrained weights."
    )


@st.cache_resource(show_spinner="Building every architecture (shapes only)…")
def _line() -> tuple[compare.Milestone, ...]:
    return compare.architecture_line()


def architecture_line() -> None:
    """The architecture line from LeNet-5 to EfficientNet, one row per paper (built once)."""
    st.dataframe([compare.milestone_row(m) for m in _line()], hide_index=True, key="compare.line")
    st.caption(
        "Depth counts convolutions and fully connected layers; parameters are exact (each "
        "network built without weights). ImageNet accuracies are torchvision's published ones "
        "for its default weights (some trained with a newer recipe than the paper's)."
    )
