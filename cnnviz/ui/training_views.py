"""Views of the Training page that are more than a few lines: the data preview, the scrubber."""

from __future__ import annotations

import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

import cnnviz
from cnnviz import figures
from cnnviz.data import load_dataset
from cnnviz.training import EpochEvent, JobSnapshot, epoch_model, to_image


@st.cache_data(max_entries=8, show_spinner="Loading the data set…")
def _preview(name: str, size: int, channels: int) -> tuple[Image.Image, str]:
    data = load_dataset(name, size=size, channels=channels)
    images, labels = data.preview(per_class=3)
    captions = [data.classes[int(k)] for k in labels]
    return figures.image_grid(images, captions, columns=min(15, len(images))), data.source


def dataset_preview(name: str, arch: str) -> None:
    """A few validation images of each class, as the network will see them (or why not)."""
    spec = cnnviz.MODELS[arch]
    try:
        grid, source = _preview(name, spec.input_size, spec.channels)
    except cnnviz.CnnvizError as error:
        st.info(str(error), icon=":material/cloud_off:")
        return
    st.image(
        figures.to_jpeg(grid),
        caption=f"{source} Shown at {spec.input_size} x {spec.input_size}, as {spec.label} sees "
        "them.",
    )


def _sample_maps(snap: JobSnapshot, event: EpochEvent) -> tuple[cnnviz.Probe, cnnviz.Layer]:
    """The fixed validation image through the network as it was after ``event``'s epoch."""
    model = epoch_model(snap.config.arch, snap.classes, event.state_dict, event.epoch)
    seen = cnnviz.probe(model, to_image(snap.sample))
    return seen, next(x for x in seen.layers if x.kind == "conv")


def live_maps(container: DeltaGenerator, snap: JobSnapshot) -> None:
    """The first layer's maps of one validation image after the latest epoch (while training)."""
    if not snap.epochs or snap.sample is None or snap.config is None:
        return
    event = snap.epochs[-1]
    seen, first = _sample_maps(snap, event)
    top = seen.predictions[0]
    container.image(
        figures.to_jpeg(figures.feature_grid(first.output).image), width="stretch",
        caption=f"{first.name} maps of one validation image after epoch {event.epoch}: "
        f"predicted {top.label} ({top.probability:.0%})",
    )  # fmt: skip


def epoch_scrubber(snap: JobSnapshot) -> None:
    """Drag through the epochs: the filters, and one validation image's maps and prediction."""
    if not snap.epochs or snap.sample is None or snap.config is None:
        return
    st.subheader("Watch it learn, epoch by epoch")
    numbers = [e.epoch for e in snap.epochs]
    shown = st.select_slider("Epoch", numbers, value=numbers[-1], key="train.scrub")
    event = snap.epochs[numbers.index(shown)]
    seen, first = _sample_maps(snap, event)
    top = seen.predictions[0]
    a, b, c = st.columns([1, 2, 2])
    a.image(
        seen.image, caption=f"A validation image: predicted {top.label} ({top.probability:.0%})"
    )
    b.image(
        figures.to_jpeg(figures.filters_grid(event.state_dict).image), width="stretch",
        caption=f"First-layer filters after epoch {shown}",
    )  # fmt: skip
    c.image(
        figures.to_jpeg(figures.feature_grid(first.output).image), width="stretch",
        caption=f"What they make of this image ({first.name}) after epoch {shown}",
    )  # fmt: skip
