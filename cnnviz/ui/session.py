"""Session state keys, cached loaders and the error boundary shared by every page.

Caching (see DESIGN.md): models are ``st.cache_resource`` (one per name + weights, shared by all
sessions; the :class:`cnnviz.Model` carries the lock that serializes hook work on it). Downloads of
pretrained weights happen before the cached loader runs, in the page's script, so they can show
a progress bar. Probes are
``st.cache_resource`` too, keyed by model key + image digest: a probe holds every layer's output
(tens to hundreds of MB for a big net), and ``st.cache_data`` would pickle and copy all of it on
every rerun; a :class:`cnnviz.Probe` is immutable (read-only arrays), so sharing it is safe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st
from PIL import Image

import cnnviz
from cnnviz.errors import CnnvizError
from cnnviz.models import (
    Labels,
    ProgressCallback,
    auto_plan,
    download_if_online,
    download_size_mb,
    store,
)
from cnnviz.models.own import operator_models
from cnnviz.training import TrainJob
from cnnviz.training.job import warm_up
from cnnviz.training.priority import PAGES

log = logging.getLogger(__name__)


class Keys:
    """Session-state keys of the shared sidebar; also the URL query parameter names."""

    MODEL = "model"
    WEIGHTS = "weights"
    CHECKPOINT = "checkpoint"
    SOURCE = "source"
    SAMPLE = "sample"
    UPLOAD = "upload"
    TRAINED = "trained"
    """Not a widget: the Training page's model, ``{"arch", "checkpoint", "source"}``."""
    DRAWN = "drawn"
    """Not a widget: the sidebar canvas's drawing as a PIL image, or ``None`` when blank."""
    ONNX = "onnx"
    """The uploaded ``.onnx`` file, when the model is :data:`ONNX_CHOICE`."""
    LABELS = "labels"
    """An uploaded labels file for a checkpoint's or an ONNX model's classes."""
    ONNX_NORM = "onnx_norm"
    """How an uploaded ONNX model's pixels are normalized: a key of :data:`ONNX_NORMS`."""


ONNX_NORMS: dict[str, tuple[tuple[float, ...], tuple[float, ...]] | None] = {
    "ImageNet mean/std": None,
    "-1 to 1": ((0.5,), (0.5,)),
    "0 to 1": ((0.0,), (1.0,)),
    "0 to 255": ((0.0,), (1 / 255,)),
}
"""What an ONNX file does not say: how its pixels were scaled in training (torchvision and most
PyTorch models: ImageNet's mean and std; many Keras models: -1 to 1, or 0 to 1, or raw 0-255)."""


ONNX_CHOICE = "onnx"
"""The sidebar's model choice for an uploaded ONNX file."""


def model_choices() -> list[str]:
    """The sidebar's models: the registry, the operator's own (``cnnviz run --model``, the same
    for every session of this server), and :data:`ONNX_CHOICE`."""
    return [*cnnviz.model_names(), *(m.target for m in operator_models()), ONNX_CHOICE]


def is_registry(name: str) -> bool:
    """Whether ``name`` is a registry architecture (with a Weights choice), not a whole model
    of someone's own (an ONNX upload, the operator's)."""
    return name in cnnviz.MODELS


WEIGHT_CHOICES = ("auto", "pretrained", "random", "checkpoint", "trained")


def weight_choices() -> list[str]:
    """:data:`WEIGHT_CHOICES`, and the shared model (``shared-<id>``) the URL or this session
    names, so that a shared link's weights are a valid choice of the sidebar."""
    named = st.query_params.get(Keys.WEIGHTS) or st.session_state.get(Keys.WEIGHTS)
    return [*WEIGHT_CHOICES, *([named] if store.is_shared(named) else [])]


@dataclass(frozen=True, slots=True)
class Selection:
    """What the sidebar chose: the model and the image every page shows."""

    model_name: str
    weights: str
    image: Image.Image
    image_label: str
    image_digest: str
    notes: tuple[str, ...]
    checkpoint: bytes | None = None
    onnx: tuple[str, bytes] | None = None
    """The uploaded ONNX file's name and bytes."""
    labels: tuple[str, bytes] | None = None
    """The uploaded labels file's name and bytes."""


@contextlib.contextmanager
def error_boundary(what: str = "this") -> Iterator[None]:
    """Show a :class:`cnnviz.CnnvizError` as its message, anything else as a short notice.

    Streamlit's own control flow (rerun, stop) passes through untouched; unexpected errors are
    logged with their traceback, never shown as one.
    """
    try:
        yield
    except CnnvizError as error:
        st.error(str(error), icon=":material/error:")
    except Exception as error:
        log.exception("unexpected error while computing %s", what)
        st.error(
            f"Something went wrong while computing {what} ({type(error).__name__}). "
            "Try another image or model; the details are in the server log.",
            icon=":material/error:",
        )


def default_model() -> str:
    """ResNet-18 when its ImageNet weights are on this computer, else LeNet-5 (offline)."""
    return "resnet18" if cnnviz.pretrained_available("resnet18") else "lenet5"


@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def _model(name: str, weights: str, here: bool | None) -> cnnviz.Model:
    # ``here`` (for "auto": whether pretrained weights are on this computer) is part of the key:
    # once they arrive, "auto" is another network than the random one cached before.
    return cnnviz.load_model(name, weights)


@st.cache_resource(max_entries=2, show_spinner="Loading the checkpoint…")
def _checkpoint_model(
    name: str, digest: str, _data: bytes, labels_key: str = "", _labels: Labels | None = None
) -> cnnviz.Model:
    return cnnviz.load_model(name, _data, labels=_labels)


@st.cache_resource(max_entries=2, show_spinner="Converting the ONNX model…")
def _onnx_model(
    digest: str, labels_key: str, file_name: str, norm: str, _data: bytes, _labels: Labels | None
) -> cnnviz.Model:
    mean, std = ONNX_NORMS.get(norm) or (None, None)
    return cnnviz.load_onnx(_data, labels=_labels, mean=mean, std=std, file_name=file_name)


@st.cache_resource(max_entries=4, show_spinner="Building the model…")
def _operator_model(target: str) -> cnnviz.Model:
    for entry in operator_models():
        if entry.target == target:
            return entry.build()
    raise cnnviz.ModelError(f"This server has no model called {target}.")


def _uploaded_labels(selection: Selection) -> tuple[str, Labels | None]:
    """The uploaded labels file, read, and a cache key part for it (``""`` when none)."""
    if selection.labels is None:
        return "", None
    name, data = selection.labels
    return hashlib.sha256(data).hexdigest(), cnnviz.read_labels(data, origin=name)


def auto_model(name: str) -> cnnviz.Model:
    """``name`` with "auto" weights as they are on this computer now (nothing downloaded)."""
    return _model(name, "auto", cnnviz.pretrained_available(name))


def current_model(selection: Selection) -> cnnviz.Model:
    """The cached model for the selection; downloads pretrained weights with a progress bar.

    With ``"auto"``, small weights download by themselves (when the server answers; offline the
    model is random at once, and the network is not asked again for a few minutes), and large
    ones wait for a button press (see :func:`cnnviz.models.auto_plan`).

    Raises:
        CnnvizError: The weights cannot be had (shown by :func:`error_boundary`).
    """
    name, weights = selection.model_name, selection.weights
    if name == ONNX_CHOICE:
        if selection.onnx is None:
            raise cnnviz.ModelError("Upload an ONNX model file (.onnx) in the sidebar first.")
        labels_key, labels = _uploaded_labels(selection)
        file_name, data = selection.onnx
        digest = hashlib.sha256(data).hexdigest()
        norm = st.session_state.get(Keys.ONNX_NORM) or next(iter(ONNX_NORMS))
        return _onnx_model(digest, labels_key, file_name, norm, data, labels)
    if not is_registry(name):
        return _operator_model(name)
    if weights == "trained":
        return _trained_model(name)
    if weights == "checkpoint":
        if selection.checkpoint is None:
            raise cnnviz.ModelError(
                "Upload a checkpoint file (.pt, .pth or .safetensors) in the sidebar first."
            )
        labels_key, labels = _uploaded_labels(selection)
        digest = hashlib.sha256(selection.checkpoint).hexdigest()
        return _checkpoint_model(name, digest, selection.checkpoint, labels_key, labels)
    if store.is_shared(weights):
        store.default_store().path(weights)  # removed since it was cached: say so
    if weights == "auto":
        _auto_download(name)
        return auto_model(name)
    if (
        weights == "pretrained"
        and cnnviz.MODELS[name].is_torchvision
        and not cnnviz.pretrained_available(name)
    ):
        with _download_bar(name) as show:
            cnnviz.download_weights(name, progress=show)
    return _model(name, weights, None)


@contextlib.contextmanager
def _download_bar(name: str) -> Iterator[ProgressCallback]:
    """A progress bar for a download of ``name``'s weights: yields the progress callback."""
    bar = st.progress(0.0, text=f"Downloading {cnnviz.MODELS[name].label} weights…")

    def show(done: int, total: int | None) -> None:
        fraction = done / total if total else 0.0
        bar.progress(min(1.0, fraction), text=f"Downloading… {done / 2**20:.1f} MB")

    try:
        yield show
    finally:
        bar.empty()


def _auto_download(name: str) -> None:
    """What "auto" fetches: small weights at once, large ones when the button is pressed."""
    plan = auto_plan(name)
    if plan == "download":
        with _download_bar(name) as show:
            download_if_online(name, progress=show)
    elif plan == "ask":
        size = download_size_mb(name)
        amount = f"{size:.0f} MB of " if size is not None else ""
        if st.button(
            f"Download {amount}pretrained weights", key=f"weights.download.{name}",
            icon=":material/download:",
            help="They stay on this computer: the next time, the model loads them at once.",
        ):  # fmt: skip
            with error_boundary("the download"), _download_bar(name) as show:
                cnnviz.download_weights(name, progress=show)
            if cnnviz.pretrained_available(name):
                st.rerun()  # draw the page again: pretrained, and without the button


def _trained_model(name: str) -> cnnviz.Model:
    trained = st.session_state.get(Keys.TRAINED)
    if trained is None:
        raise cnnviz.ModelError(
            "No trained model yet: train one on the Training page and press "
            "'Use this model on every page'."
        )
    if trained["arch"] != name:
        raise cnnviz.ModelError(
            f"The trained model is a {cnnviz.MODELS[trained['arch']].label}: choose it as the "
            "model in the sidebar."
        )
    data = trained["checkpoint"]
    model = _checkpoint_model(name, hashlib.sha256(data).hexdigest(), data)
    # Same module, lock and cache key; only the caption says where the weights came from.
    return dataclasses.replace(model, weights="trained", weights_source=trained["source"])


def use_trained(arch: str, checkpoint: bytes, source: str) -> None:
    """Make a model trained in this session the sidebar's model (a button's ``on_click``)."""
    st.session_state[Keys.TRAINED] = {"arch": arch, "checkpoint": checkpoint, "source": source}
    st.session_state[Keys.MODEL] = arch
    st.session_state[Keys.WEIGHTS] = "trained"


def page_run() -> contextlib.AbstractContextManager[None]:
    """Wrap a page's run: training threads step aside while a person waits for a page (see
    :class:`cnnviz.training.priority.PageRuns`)."""
    return PAGES.running()


RECONNECT_CHECK_S = 3600.0


@st.fragment(run_every=RECONNECT_CHECK_S)
def _reconnect_marker() -> None:
    """Nothing to draw: see :func:`rerun_on_reconnect`."""


def rerun_on_reconnect() -> None:
    """Make a tab whose server went away draw its view again once it reconnects.

    Streamlit's frontend reruns the script after a reconnect only when it thinks its session
    could not have survived: a run was going, or a ``run_every`` fragment is on the page.
    Otherwise it keeps the old elements, as it should when the same server resumes the session.
    A replica that died (a school behind HAProxy, :mod:`cnnviz.school`) or a restarted server
    resumes nothing: the tab's pictures are gone (their files lived in the old process) and it
    would stay broken until the next click. This hourly fragment, which draws nothing, makes the
    frontend ask for a run whenever it reconnects; the run reads the page and its query string
    from the URL, so the tab comes back on the same view. Call it before the page, so a page's
    own polling fragment stays the last one registered.
    """
    _reconnect_marker()


@st.cache_resource(scope="session", on_release=lambda job: job.stop(), show_spinner=False)
def training_job() -> TrainJob:
    """This browser tab's training job: it runs on across pages and stops when the tab closes.

    The first call of a server also starts the forkserver that runs train from (see
    :func:`cnnviz.training.job.warm_up`), so the first Train press does not wait for it.
    """
    warm_up()
    return TrainJob()


@st.cache_resource(max_entries=6, show_spinner="Running the network on the image…")
def _probe(model_key: str, image_digest: str, _model: cnnviz.Model, _image: Image.Image):
    return cnnviz.probe(_model, _image)


def probe_of(model: cnnviz.Model, image: Image.Image, digest: str) -> cnnviz.Probe:
    """One probe per (model weights, image), shared by every page and session: thirty students
    opening the same sample at once wait for one forward pass (Streamlit computes a key once,
    under its lock), not thirty."""
    return _probe(model.key, digest, model, image)


def cached_probe(model: cnnviz.Model, selection: Selection) -> cnnviz.Probe:
    """The probe of the selection's image (see :func:`probe_of`)."""
    return probe_of(model, selection.image, selection.image_digest)


# Images are cache_resource, not cache_data: the same PIL object for every session (nothing
# changes it), instead of a pickled copy per rerun; the digest is computed once with it.
@st.cache_resource(max_entries=16, show_spinner=False)
def _uploaded(data: bytes) -> tuple[Image.Image, str]:
    image = cnnviz.load_image(data)
    return image, cnnviz.image_digest(image)


@st.cache_resource(max_entries=32, show_spinner=False)
def sample(key: str) -> tuple[Image.Image, str]:
    """A bundled sample and its digest, loaded once per server."""
    image = cnnviz.load_sample(key)
    return image, cnnviz.image_digest(image)


def sample_image(key: str) -> Image.Image:
    return sample(key)[0]


def current_selection() -> Selection | None:
    """Read the sidebar's widgets (see :func:`cnnviz.ui.sidebar`) into a :class:`Selection`.

    Returns ``None`` (after showing why) when the chosen image cannot be used.
    """
    state = st.session_state
    name = state.get(Keys.MODEL) or default_model()
    weights = state.get(Keys.WEIGHTS) or "auto"
    upload = state.get(Keys.UPLOAD)
    checkpoint = state.get(Keys.CHECKPOINT)
    checkpoint_bytes = checkpoint.getvalue() if checkpoint is not None else None
    own = {key: state.get(key) for key in (Keys.ONNX, Keys.LABELS)}
    files = {key: (f.name, f.getvalue()) if f is not None else None for key, f in own.items()}
    try:
        if state.get(Keys.SOURCE) == "upload" and upload is not None:
            image, digest = _uploaded(upload.getvalue())
            label = upload.name
        elif state.get(Keys.SOURCE) == "draw" and state.get(Keys.DRAWN) is not None:
            image, label = state[Keys.DRAWN], "your drawing"
            digest = cnnviz.image_digest(image)
        else:
            key = state.get(Keys.SAMPLE) or default_sample(name)
            image, digest = sample(key)
            label = next(s.title for s in cnnviz.list_samples() if s.key == key)
    except CnnvizError as error:
        st.error(str(error), icon=":material/broken_image:")
        return None
    notes = tuple(image.info.get("cnnviz_notes", ()))
    if state.get(Keys.SOURCE) == "draw" and state.get(Keys.DRAWN) is None:
        notes += ("Nothing drawn yet: draw in the sidebar's black square; until then the "
                  f"sample ({label}) is shown.",)  # fmt: skip
    return Selection(
        name, weights, image, label, digest, notes, checkpoint_bytes, files[Keys.ONNX],
        files[Keys.LABELS],
    )  # fmt: skip


def default_sample(model_name: str) -> str:
    """A sample like the network's training data: a digit for the digit nets, a shape for
    TinyVGG (trained on shapes), the cat for the ImageNet networks (and for your own)."""
    if not is_registry(model_name):
        return "chelsea"
    labels = set(cnnviz.models.registry.default_labels(cnnviz.MODELS[model_name]))
    if labels == {str(d) for d in range(10)}:
        return "digit_3"
    if labels == set(cnnviz.data.SHAPES):
        return "shape_ring"
    return "chelsea"


@st.cache_resource
def configure_runtime() -> bool:
    """Once per process: logging for the server log (errors are logged, never shown raw), and
    an allocator that keeps freed memory for the next probe (see
    :func:`cnnviz.retain_freed_memory`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cnnviz.retain_freed_memory()
    # Import pandas before any training thread exists: plotly imports it lazily, and a first
    # import racing between a page's thread and a training thread failed with "partially
    # initialized module 'pandas'" (seen in the server log).
    import pandas  # noqa: F401

    return True
