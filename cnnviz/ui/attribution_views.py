"""Widgets of the Grad-CAM & saliency page: method, class and layer pickers, cached maps, views."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

import cnnviz
from cnnviz.explain import (
    METHODS,
    Explanation,
    SanityCheck,
    cam_layers,
    default_cam_layer,
    explain,
    explain_classes,
    map_layers,
    method_names,
    sanity_check,
)
from cnnviz.figures import COLORMAPS
from cnnviz.figures import attribution as fig
from cnnviz.ui.session import Selection, current_selection
from cnnviz.ui.shared_views import MadeOnce, shared, shared_jpeg
from cnnviz.ui.widgets import png_download

PAGE = "attr"
OTHER = -1  # the target radio's "another class" choice
# The tabs under the main map, in order; a label is also its value in a link (?attr.tab=...).
TABS = ("Two methods side by side", "Top-5 classes", "Sanity check")
# A widget inside a tab is not drawn while another tab is open; "page" keeps its value meanwhile.
KEEP = "page"


def selection() -> Selection:
    """The sidebar's image (``page_start`` has already checked that it loads)."""
    chosen = current_selection()
    if chosen is None:
        st.stop()
    return chosen


def method_select(key: str, label: str = "Method", default: str = "gradcam") -> str:
    """A method picker that lists the methods by their human names."""
    names = list(method_names())
    return st.selectbox(
        label, names, index=names.index(default), key=f"{PAGE}.{key}",
        format_func=lambda m: METHODS[m].label, persist_state=KEEP,
    )  # fmt: skip


def method_help(method: str) -> None:
    """The method's paragraph and formula."""
    info = METHODS[method]
    st.markdown(info.summary)
    st.latex(info.formula)


def method_options(method: str, key: str = "main") -> dict[str, Any]:
    """Sliders for the slow methods' options; returns them as ``explain`` keyword arguments."""
    k = f"{PAGE}.{key}"
    if method == "smoothgrad":
        a, b = st.columns(2)
        return {
            "samples": a.slider("Noisy copies", 4, 64, 16, 4, key=f"{k}.samples",
                                persist_state=KEEP),
            "noise": b.slider("Noise level σ (fraction of the range)", 0.05, 0.5, 0.15, 0.05,
                              key=f"{k}.noise", persist_state=KEEP),
        }  # fmt: skip
    if method == "integrated_gradients":
        a, b = st.columns(2)
        return {
            "steps": a.slider("Steps along the path", 8, 128, 32, 8, key=f"{k}.steps",
                              persist_state=KEEP),
            "baseline": b.radio("Baseline", ["black", "blurred", "noise"], horizontal=True,
                                key=f"{k}.baseline", persist_state=KEEP),
        }  # fmt: skip
    if method == "occlusion":
        a, b = st.columns(2)
        window = a.select_slider("Grey square (pixels)", [2, 4, 8, 16, 24, 32, 48, 64], 8,
                                 key=f"{k}.window", persist_state=KEEP)  # fmt: skip
        return {"window": window, "stride": b.select_slider(
            "Stride (pixels)", [1, 2, 4, 8, 16, 32], 4, key=f"{k}.stride",
            persist_state=KEEP)}  # fmt: skip
    return {}


def fit_options(model: cnnviz.Model, options: dict[str, Any]) -> dict[str, Any]:
    """Occlusion sizes clipped to the input (a 32-pixel digit takes no 48-pixel square)."""
    if "window" not in options:
        return options
    side = model.spec.input_size
    window = min(int(options["window"]), max(2, side // 2))
    return {"window": window, "stride": min(int(options["stride"]), window)}


def target_select(probe: cnnviz.Probe, model: cnnviz.Model) -> int:
    """Pick the class to explain: one of the top 5 (with probabilities) or any class by name."""
    top = {p.index: p for p in probe.predictions}
    choice = st.radio(
        "Class to explain", [*top, OTHER], key=f"{PAGE}.target", horizontal=True,
        format_func=lambda i: "another class…" if i == OTHER
        else f"{top[i].label} · {top[i].probability:.1%}",
    )  # fmt: skip
    if choice != OTHER:
        return int(choice)
    return st.selectbox(
        "Any class (type to search)", range(len(model.labels)), key=f"{PAGE}.any_class",
        format_func=lambda i: f"{model.labels[i]} (#{i})",
    )  # fmt: skip


def layer_select(model: cnnviz.Model, key: str = "layer") -> str:
    """The layer of a CAM, early (sharp) to late (semantic); every layer with maps on request."""
    every = st.toggle("Offer every layer with maps", key=f"{PAGE}.{key}.every")
    layers = map_layers(model) if every else cam_layers(model)
    names = [x.name for x in layers]
    by_name = {x.name: x for x in layers}
    state = f"{PAGE}.{key}"
    if st.session_state.get(state) not in names:
        st.session_state[state] = default_cam_layer(model)
    return st.select_slider(
        "Layer (early: sharp and local → late: coarse and about the class)", names, key=state,
        format_func=lambda n: f"{n} ({by_name[n].shape[1]}x{by_name[n].shape[2]})",
    )  # fmt: skip


_Maps = MadeOnce  # the maps' store (tests watch it)


@st.cache_resource(show_spinner=False)  # one store for the server; cleared with the caches
def _maps() -> MadeOnce[Explanation]:
    return _Maps(48)


def compute(
    model: cnnviz.Model, sel: Selection, method: str, target: int, layer: str | None,
    options: dict[str, Any] | None = None,
) -> Explanation:  # fmt: skip
    """A map computed once for all sessions; slow ones show progress while they run."""
    layer = layer if METHODS[method].uses_layer else None
    opts = tuple(sorted(fit_options(model, options or {}).items()))

    def make() -> Explanation:
        bar = st.empty()
        report = None
        if METHODS[method].slow:
            label = METHODS[method].label

            def report(done: float) -> None:
                bar.progress(done, text=f"{label}: {done:.0%}")

        try:
            return explain(model, sel.image, method, target, layer, progress=report, **dict(opts))
        finally:
            bar.empty()

    return _maps().get_or_make((model.key, sel.image_digest, method, target, layer, opts), make)


def view_controls(key: str = "view") -> tuple[str, float]:
    """Colormap and overlay opacity."""
    a, b = st.columns(2)
    colormap = a.selectbox("Colormap", COLORMAPS, index=1, key=f"{PAGE}.{key}.colormap")
    opacity = b.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key=f"{PAGE}.{key}.opacity")
    return colormap, opacity


def caption(e: Explanation) -> str:
    """What a map shows, in one line."""
    where = f" at {e.layer}" if e.layer else ""
    return (
        f"{METHODS[e.method].label}{where} for “{e.label}” ({e.probability:.1%}), "
        f"{e.elapsed_ms:.0f} ms"
    )


def _map_digest(e: Explanation) -> str:
    """An id of a map's values (a cache key that cannot go stale)."""
    digest = hashlib.sha1(np.ascontiguousarray(e.heatmap).tobytes(), usedforsecurity=False)
    digest.update(np.ascontiguousarray(e.raw).tobytes())
    return digest.hexdigest()


def show(probe: cnnviz.Probe, e: Explanation, colormap: str, opacity: float, key: str) -> None:
    """Overlay, heatmap and signed raw map of one explanation, each with a PNG download."""
    st.caption(caption(e))
    if e.note:
        st.info(e.note, icon=":material/info:")
    makers = (
        ("Overlay", lambda: fig.map_overlay(probe.image, e, colormap, opacity)),
        ("Heatmap (0 to 1)", lambda: fig.heatmap_image(e, colormap)),
        ("Signed map (blue < 0 < red)", lambda: fig.signed_image(e)),
    )
    # The same map is the same three pictures for every session: drawn and encoded once.
    which = (_map_digest(e), e.method, e.target, e.layer, e.options, colormap, opacity)
    for column, (title, make) in zip(st.columns(3), makers, strict=True):
        picture = shared(make, probe, "attr.picture", title, *which)
        with column:
            st.image(
                shared_jpeg(lambda picture=picture: picture, probe, "attr.picture", title, *which),
                caption=title, width="stretch",
            )  # fmt: skip
            png_download(picture, f"{e.method}_{e.label}_{title.split()[0].lower()}.png",
                         f"{PAGE}.{key}.png.{title.split()[0].lower()}")  # fmt: skip


def compare_view(
    model: cnnviz.Model, probe: cnnviz.Probe, sel: Selection, target: int, layer: str,
    colormap: str, opacity: float,
) -> None:  # fmt: skip
    """Two methods' maps of the same class and layer, side by side, each with a PNG download."""
    st.caption("The same class and layer, two methods: do they point at the same evidence?")
    a, b = st.columns(2)
    with a:
        first = method_select("compare.a", "Left", "gradcam")
        options_a = method_options(first, "compare.a")
    with b:
        second = method_select("compare.b", "Right", "saliency")
        options_b = method_options(second, "compare.b")
    maps = (
        compute(model, sel, first, target, layer, options_a),
        compute(model, sel, second, target, layer, options_b),
    )
    for column, e, key in zip((a, b), maps, ("a", "b"), strict=True):
        with column:
            picture = fig.map_overlay(probe.image, e, colormap, opacity)
            st.image(picture, caption=caption(e), width=360)
            if e.note:
                st.info(e.note, icon=":material/info:")
            png_download(picture, f"{e.method}_{e.label}.png", f"{PAGE}.compare.png.{key}")


def top_classes_row(
    model: cnnviz.Model, probe: cnnviz.Probe, sel: Selection, layer: str, colormap: str
) -> None:
    """Grad-CAM for each of the top-5 classes: one forward pass, five short backward passes."""
    targets = tuple(p.index for p in probe.predictions)
    maps = _top_maps(model.key, sel.image_digest, targets, layer, model, sel)
    pictures = [fig.map_overlay(probe.image, e, colormap, 0.5) for e in maps]
    captions = [f"{e.label}\n{e.probability:.1%}" for e in maps]
    row = fig.map_row(pictures, captions)
    st.image(row, caption=f"Grad-CAM at {layer} for each of the top-5 classes", width="stretch")
    png_download(row, "gradcam_top5.png", f"{PAGE}.top5.png")


@st.cache_resource(max_entries=16, show_spinner=False)
def _top_maps(model_key: str, digest: str, targets: tuple[int, ...], layer: str,
              _model: cnnviz.Model, _sel: Selection) -> tuple[Explanation, ...]:  # fmt: skip
    return explain_classes(_model, _sel.image, targets, "gradcam", layer)


def _rank(value: float) -> str:
    return "flat map" if value != value else f"rank {value:.2f}"  # nan: a flat map has no ranks


def sanity_view(
    model: cnnviz.Model, probe: cnnviz.Probe, sel: Selection, method: str, target: int,
    layer: str | None, options: dict[str, Any], colormap: str,
) -> None:  # fmt: skip
    """The cascading-randomization sanity check, run on a click and kept for this view."""
    layer = layer if METHODS[method].uses_layer else None
    opts = tuple(sorted(fit_options(model, options).items()))
    request = (model.key, sel.image_digest, method, target, layer, opts)
    if st.button("Run the sanity check", key=f"{PAGE}.sanity.run", icon=":material/science:"):
        bar = st.progress(0.0, text="Randomizing layers from the top down…")
        check = sanity_check(model, sel.image, method, target, layer,
                                progress=lambda f: bar.progress(f, text=f"Randomized {f:.0%}"),
                                **dict(opts))  # fmt: skip
        bar.empty()
        st.session_state[f"{PAGE}.sanity.result"] = (request, check)
    stored = st.session_state.get(f"{PAGE}.sanity.result")
    if stored is None or stored[0] != request:
        st.caption("The check recomputes this map for the same class after each step.")
        return
    check: SanityCheck = stored[1]
    maps = [check.original, *(s.explanation for s in check.steps)]
    pictures = [fig.map_overlay(probe.image, e, colormap, 0.6) for e in maps]
    captions = ["original\nrank 1.00 · SSIM 1.00"] + [
        f"+ {s.randomized}\n{_rank(s.spearman)} · SSIM {s.ssim:.2f}" for s in check.steps
    ]
    row = fig.map_row(pictures, captions, side=150)
    st.image(row, caption=f"{METHODS[method].label} for “{check.original.label}” as the "
             f"layers are randomized, output first ({check.elapsed_ms / 1000:.1f} s)",
             width="stretch")  # fmt: skip
    if any(s.spearman != s.spearman for s in check.steps):
        st.caption(
            "A **flat map** is the same everywhere: the randomized network points nowhere, so "
            "there is no ranking to correlate (the chart leaves a gap). It has lost all that the "
            "original showed, which is what an honest map should do here."
        )
    png_download(row, f"sanity_{method}.png", f"{PAGE}.sanity.png")
    st.plotly_chart(fig.similarity_figure(check), key=f"{PAGE}.sanity.chart")
