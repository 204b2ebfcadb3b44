"""Widgets shared by the pages: the sidebar, the layer picker, channel controls, banners."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image, ImageOps
from streamlit.delta_generator import DeltaGenerator

import cnnviz
from cnnviz import figures, limits, steps
from cnnviz.figures import attribution
from cnnviz.ui import presenter
from cnnviz.ui.session import (
    ONNX_CHOICE,
    ONNX_NORMS,
    Keys,
    Selection,
    cached_probe,
    current_model,
    current_selection,
    default_model,
    default_sample,
    error_boundary,
    is_registry,
    model_choices,
    sample_image,
    weight_choices,
)
from cnnviz.ui.shared_views import shared, shared_jpeg

IMAGE_FORMATS = "PNG, JPEG, WebP, BMP, GIF or TIFF"


def _use_upload() -> None:
    st.session_state[Keys.SOURCE] = "upload"


def _use_sample(key: str) -> None:
    st.session_state[Keys.SOURCE] = "sample"
    st.session_state[Keys.SAMPLE] = key


def sidebar() -> None:
    """The shared controls: model, weights and image; kept across pages and in the URL.

    Options are shown by their plain names because a bound widget writes the shown text into
    the URL: ``?model=resnet18&sample=chelsea`` stays short and shareable.
    """
    names = model_choices()
    model = default_model()
    samples = [s.key for s in cnnviz.list_samples()]
    with st.sidebar:
        chosen = st.selectbox(
            "Model", names, index=names.index(model), key=Keys.MODEL,
            bind="query-params", persist_state="session",
            help="The architecture whose layers every page shows.",
        )  # fmt: skip
        if is_registry(chosen):
            _weights_inputs(chosen)
        else:
            _own_model_inputs(chosen)
        st.divider()
        source = st.radio(
            "Image", ["sample", "upload", "draw"], key=Keys.SOURCE, horizontal=True,
            bind="query-params", persist_state="session",
        )  # fmt: skip
        if source == "draw":
            _drawing_canvas()
        # The model's own sample comes first, so it is the default with no `index=`: the gallery
        # sets this widget through the Session State API, and a widget that has both draws
        # Streamlit's "created with a default value" warning (with a stack) in the server log.
        suggested = default_sample(chosen)
        st.selectbox(
            "Sample", [suggested, *(s for s in samples if s != suggested)], key=Keys.SAMPLE,
            bind="query-params", persist_state="session",
        )  # fmt: skip
        # No `type=` filter: the browser would refuse other files with only a red icon, while
        # cnnviz.load_image says in a sentence what the file is and what to do instead.
        st.file_uploader(
            f"Upload an image ({limits.IMAGE.describe()})", key=Keys.UPLOAD,
            on_change=_use_upload, max_upload_size=limits.IMAGE.megabytes,
            help=f"{IMAGE_FORMATS}, {limits.IMAGE.describe()} and 40 megapixels.",
        )  # fmt: skip
        st.caption(f"cnnviz {cnnviz.__version__} · runs on your CPU")


def _weights_inputs(chosen: str) -> None:
    """The Weights choice of a registry architecture (and its checkpoint and labels files)."""
    spec = cnnviz.MODELS[chosen]
    st.caption(f"{spec.label}, {spec.year}")
    weights = st.selectbox(
        "Weights", weight_choices(), key=Keys.WEIGHTS, bind="query-params",
        persist_state="session",
        help="auto: pretrained if on this computer; small files (up to "
        f"{cnnviz.models.AUTO_DOWNLOAD_MAX_MB} MB) download by themselves when online, "
        "larger ones on a button; else random. pretrained: learned on ImageNet (downloaded "
        "once). random: an untrained network. checkpoint: "
        "a state dict file of your own. trained: the model you trained on the Training page.",
    )  # fmt: skip
    if weights == "checkpoint":
        st.file_uploader(
            "Checkpoint: a state dict saved with torch.save or safetensors "
            f"({limits.CHECKPOINT.describe()}); a head fine-tuned to other classes fits",
            type=["pt", "pth", "safetensors"], key=Keys.CHECKPOINT,
            max_upload_size=limits.CHECKPOINT.megabytes,
        )  # fmt: skip
        _labels_input()


def _own_model_inputs(chosen: str) -> None:
    """An uploaded ONNX file, or the operator's own model: its weights come with it."""
    if chosen != ONNX_CHOICE:
        st.caption("This server's own model (cnnviz run --model), with its own weights.")
        return
    st.file_uploader(
        f"ONNX model ({limits.ONNX.describe()}): an image classifier exported from PyTorch, "
        "Keras or TensorFlow; converted to PyTorch, no code runs",
        type=["onnx"], key=Keys.ONNX, max_upload_size=limits.ONNX.megabytes,
    )  # fmt: skip
    st.selectbox(
        "Pixels as it was trained on them", list(ONNX_NORMS), key=Keys.ONNX_NORM,
        persist_state="session",
        help="An ONNX file does not say how its images were scaled: PyTorch models mostly use "
        "ImageNet's mean and std, Keras models often -1 to 1 or 0 to 1.",
    )  # fmt: skip
    _labels_input()


def _labels_input() -> None:
    st.file_uploader(
        f"Class names (optional, {limits.LABELS.describe()}): one per line, or JSON",
        type=["txt", "json"], key=Keys.LABELS, max_upload_size=limits.LABELS.megabytes,
    )  # fmt: skip


def _drawing_canvas() -> None:
    """A black square to draw on with a white brush; the drawing becomes the current image."""
    from streamlit_drawable_canvas import st_canvas  # third-party component, loaded when used

    st.caption("Draw a digit (or anything) with the mouse or a finger; the bin icon clears it.")
    result = st_canvas(
        stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=224,
        width=224, key="canvas", return_image_data=True,
    )  # fmt: skip
    pixels = result.image_data if result is not None else None
    st.session_state[Keys.DRAWN] = (
        cnnviz.images.drawing_to_image(pixels) if pixels is not None else None
    )


def model_banner(model: cnnviz.Model, selection: Selection, untrained: str = "") -> None:
    """Say plainly which weights and image the page is showing (``untrained``: more to say
    when the weights are random, in the same warning)."""
    spec = model.spec
    year = f" ({spec.year})" if spec.year else ""
    if presenter.presenting() and model.trained:  # one line on a projector
        st.markdown(f"**{spec.label}**{year} · image: **{selection.image_label}** · "
                    f":material/verified: trained")  # fmt: skip
        return
    line = f"**{spec.label}**{year} — {spec.summary} · image: **{selection.image_label}**"
    st.markdown(line)
    if model.trained:
        st.caption(f":material/verified: {model.weights_source} {model.labels_source}".strip())
    else:
        st.warning(f"{model.weights_source} {untrained}".strip(), icon=":material/casino:")
        if model.labels_source:
            st.caption(model.labels_source)
    for note in selection.notes:
        st.info(note, icon=":material/info:")


def top_predictions(probe: cnnviz.Probe) -> None:
    """The five most probable classes as bars, most probable first.

    Streamlit's own bars, not a chart: a page whose first chart is further down shows its
    pictures before the browser has loaded the chart library (seconds, in a fresh tab).
    """
    note = "" if probe.trained else " (random weights: meaningless)"
    st.markdown(f"**Top-5 predictions**{note}")
    for p in probe.predictions:
        st.progress(p.probability, text=f"{p.label} — {figures.percent(p.probability)}")


def section(label: str, key: str) -> DeltaGenerator | None:
    """A section closed by default whose content is made only when it is open.

    Its state is in the URL (``?<key>=true``), so a teacher's link opens it for the class.

    Returns:
        The open section to draw into, or ``None`` while it is closed.
    """
    box = st.expander(label, key=key, on_change="rerun", bind="query-params")
    return box if box.open else None


def channel_closeup(
    model: cnnviz.Model,
    probe: cnnviz.Probe,
    layer: cnnviz.Layer,
    order: list[int],
    colormap: str,
) -> None:
    """One channel of a layer: its values as a heatmap, stretched over the image, and the
    receptive field of the unit a student clicks (all built once per server, see
    :func:`cnnviz.ui.shared`)."""
    channel = st.selectbox("Channel", order, key="fm.channel", format_func=lambda c: f"#{c}")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.55, 0.05, key="fm.opacity")
    heat_col, overlay_col, field_col = st.columns([5, 4, 4])
    title = f"{layer.name} channel #{channel}"
    event = heat_col.plotly_chart(
        shared(
            lambda: figures.heatmap_figure(
                layer.output[channel], title, colormap, clickable=True
            ),
            probe, "heatmap", layer.name, channel, colormap, "clickable",
        ),
        key=f"fm.heatmap.{layer.name}.{channel}", on_select="rerun", selection_mode="points",
    )  # fmt: skip
    overlay_col.image(
        shared_jpeg(
            lambda: figures.overlay(probe.image, layer.output[channel], colormap, opacity),
            probe, "overlay", layer.name, channel, colormap, opacity,
        ),
        caption=f"Channel #{channel} stretched over the input image", width="stretch",
    )  # fmt: skip
    with field_col:
        _unit_field(model, probe, layer, channel, _clicked(event, layer.output[channel]))


def _clicked(event: object, values) -> tuple[int, int]:
    """The clicked cell (row, col), or the map's strongest unit before any click."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    if points:
        return int(points[0]["y"]), int(points[0]["x"])
    row, col = divmod(int(values.argmax()), values.shape[1])
    return row, col


def _unit_field(
    model: cnnviz.Model, probe: cnnviz.Probe, layer: cnnviz.Layer, channel: int, unit: tuple
) -> None:
    """A unit's theoretical box and effective field on the input, with its numbers."""
    selection = current_selection()
    if selection is None:
        return
    with error_boundary("the receptive field"):
        found = shared(
            lambda: cnnviz.unit_field(
                model, selection.image, layer.name, channel, unit, layer.receptive_field
            ),
            probe, "field", layer.name, channel, unit,
        )  # fmt: skip
        st.image(
            shared_jpeg(
                lambda: attribution.field_picture(probe.image, found),
                probe, "field picture", layer.name, channel, unit,
            ),
            caption=f"Receptive field of unit ({unit[0]}, {unit[1]}): the box it can see, "
            "the glow how much each pixel moves it",
            width="stretch",
        )  # fmt: skip
        st.caption(
            f"{found.describe()}. {found.inside:.0%} of its gradient falls inside the box. "
            "Click a cell of the map to see another unit."
        )


def _step(key: str, names: list[str], delta: int) -> None:
    index = names.index(st.session_state[key]) if st.session_state.get(key) in names else 0
    st.session_state[key] = names[max(0, min(len(names) - 1, index + delta))]


def layer_picker(
    probe: cnnviz.Probe,
    page: str,
    layers: list[cnnviz.Layer] | None = None,
    model: cnnviz.Model | None = None,
    options: DeltaGenerator | None = None,
) -> cnnviz.Layer:
    """Pick a layer, with previous/next buttons; lists the main layers unless asked for all.

    Starts on ``model``'s first convolution (:func:`cnnviz.steps.first_conv_name`, the one
    definition of it) when it is listed, else on the first layer listed. ``options``: where
    the "every module" switch goes (default: above the picker).
    """
    if layers is None:
        every = (options or st).toggle(
            "List every module (norms, activations, dropout…)", key=f"{page}.every_module"
        )
        layers = [x for x in probe.layers if every or x.is_main]
    names = [x.name for x in layers]
    by_name = {x.name: x for x in layers}
    key = f"{page}.layer"
    if st.session_state.get(key) not in names:
        first = steps.first_conv_name(model.module) if model is not None else None
        st.session_state[key] = first if first in names else names[0]
    left, middle, right = st.columns([1, 10, 1], vertical_alignment="bottom")
    left.button("◀", key=f"{page}.prev", on_click=_step, args=(key, names, -1), help="Previous")
    middle.selectbox(
        "Layer", names, key=key,
        format_func=lambda n: f"{by_name[n].index}. {n} — {by_name[n].type_name} "
        f"{' x '.join(map(str, by_name[n].shape))}",
    )  # fmt: skip
    right.button("▶", key=f"{page}.next", on_click=_step, args=(key, names, 1), help="Next")
    return by_name[st.session_state[key]]


@dataclass(frozen=True, slots=True)
class ChannelView:
    """How to draw a stack of maps."""

    colormap: str
    scale: str
    order: str
    limit: int


def channel_controls(page: str, channels: int, shown: int = 64) -> ChannelView:
    """Colormap, shared or per-channel scale, order and how many channels to show (default
    ``shown``)."""
    a, b, c, d = st.columns(4)
    colormap = a.selectbox("Colormap", figures.COLORMAPS, key=f"{page}.colormap")
    scale = b.radio(
        "Colour scale", ["shared", "channel"], key=f"{page}.scale", horizontal=True,
        format_func={"shared": "shared", "channel": "per channel"}.get,
        help="Shared: one range for all maps, so brightness compares across channels. "
        "Per channel: each map stretched to its own range.",
    )  # fmt: skip
    order = c.radio(
        "Order", ["index", "mean"], key=f"{page}.order", horizontal=True,
        format_func={"index": "channel number", "mean": "strongest first"}.get,
    )  # fmt: skip
    options = sorted({n for n in (16, 32, 64, 128, channels) if n <= channels})
    if len(options) == 1:
        d.metric("Channels", channels)
        return ChannelView(colormap, scale, order, channels)
    limit = d.select_slider(
        "Channels shown", options, value=min(shown, channels), key=f"{page}.limit"
    )
    return ChannelView(colormap, scale, order, int(limit))


def png_download(image: Image.Image, file_name: str, key: str) -> None:
    """A button that downloads ``image`` as a PNG."""
    st.download_button(
        "Download PNG", lambda: figures.to_png(image), file_name=file_name, mime="image/png",
        key=key, on_click="ignore", icon=":material/download:",
    )  # fmt: skip


GALLERY_ROWS = {
    "photo": "**Photos**, for the ImageNet networks (ResNet, VGG, MobileNet…)",
    "digit": "**Handwritten digits**, for LeNet-5 and the small ResNet and MobileNet",
    "shape": "**Shapes**, for TinyVGG",
}


GALLERY_SIDE = 76
"""Pixels of a gallery thumbnail on the page (made at 176, sharp on a high-density screen):
ten digits fit in a row at 1280 x 720."""


def _short_title(sample: cnnviz.images.Sample) -> str:
    """A photo keeps its title; a digit or shape, whose row already says what it is, its last
    word ("3", "circle"): a long word in a narrow column would be cut mid-word."""
    return sample.title if sample.kind == "photo" else sample.title.split()[-1]


def gallery_thumbnail(key: str) -> bytes:
    """The gallery's JPEG thumbnail of sample ``key``, made once per server."""

    def make() -> Image.Image:  # a white margin: the pictures of a row do not touch
        return ImageOps.expand(figures.thumbnail(sample_image(key)), border=8, fill="white")

    return shared_jpeg(make, None, "thumbnail", key)


def _pick_sample(key: str) -> None:
    picked = st.session_state.get(key)
    if picked is not None:  # a click on the chosen one unselects it: keep the sample
        _use_sample(picked)


def sample_gallery() -> None:
    """Thumbnails of the bundled samples, one row per kind, and under each row the samples'
    names to click: the one clicked becomes the current image.

    One picture element and one pill row per kind, not a column, picture and button per
    sample: a fresh tab draws 6 elements instead of some 70, which the server and the browser
    each pay for on every student's first visit.
    """
    state = st.session_state
    current = state.get(Keys.SAMPLE) if state.get(Keys.SOURCE, "sample") == "sample" else None
    for kind in cnnviz.images.SAMPLE_KINDS:
        samples = cnnviz.list_samples(kind)
        keys = [sample.key for sample in samples]
        st.markdown(GALLERY_ROWS.get(kind, kind))
        st.image(
            [gallery_thumbnail(k) for k in keys], caption=[_short_title(x) for x in samples],
            width=GALLERY_SIDE,
        )  # fmt: skip
        pick = f"home.pick.{kind}"
        state[pick] = current if current in keys else None
        titles = {sample.key: _short_title(sample) for sample in samples}
        st.pills(
            "Use on every page:", keys, key=pick, format_func=titles.get,
            on_change=_pick_sample, args=(pick,),
        )  # fmt: skip


def page_start(title: str, intro: str, untrained: str = "") -> tuple[cnnviz.Model, cnnviz.Probe]:
    """Title, intro, the sidebar's model run on the sidebar's image, and the banner.

    Stops the page (after showing why) when the image or the model cannot be had. ``untrained``
    is what this page adds to the banner's warning when the weights are random.

    Returns:
        The model and its probe of the current image.
    """
    st.title(title)
    presenter.intro(intro)
    selection = current_selection()
    if selection is None:
        st.stop()
    loaded = None
    with error_boundary("the model"):
        model = current_model(selection)
        model_banner(model, selection, untrained)
        loaded = (model, cached_probe(model, selection))
    if loaded is None:
        st.stop()
    return loaded
