"""Widgets and views of the Adversarial examples page: the attack, the flip, Grad-CAM before and
after, and the success rate over the bundled digits."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

import cnnviz
from cnnviz import figures
from cnnviz.explain import attack_success
from cnnviz.figures import attribution as attribution_figures
from cnnviz.figures.function_charts import success_figure
from cnnviz.ui.shared_views import made_once, shared, shared_jpeg

PAGE = "adv"
AWAY = -1  # the target choice "away from the prediction"
EPSILONS = tuple(round(0.025 * k, 3) for k in range(13))  # 0 .. 0.3
METHOD_LABELS = {"fgsm": "FGSM (one step)", "pgd": "PGD (10 small steps)"}


def controls(model: cnnviz.Model) -> tuple[str, float, int | None]:
    """Method, epsilon and target class (``None``: away from the prediction)."""
    a, b, c = st.columns([2, 3, 2])
    method = a.radio(
        "Attack", list(METHOD_LABELS), key=f"{PAGE}.method", format_func=METHOD_LABELS.get,
        horizontal=True,
    )  # fmt: skip
    epsilon = b.slider(
        "Epsilon: the largest change per pixel (0..1)", 0.0, 0.3, 0.1, 0.005,
        key=f"{PAGE}.epsilon", format="%.3f",
    )  # fmt: skip
    choices = [AWAY, *range(len(model.labels))]
    target = c.selectbox(
        "Push towards", choices, key=f"{PAGE}.target",
        format_func=lambda i: "any other class" if i == AWAY else model.labels[i],
    )  # fmt: skip
    return str(method), float(epsilon), None if target == AWAY else int(target)


def compute(
    model: cnnviz.Model, probe: cnnviz.Probe, image: Image.Image, method: str, epsilon: float,
    target: int | None,
) -> cnnviz.Attack:  # fmt: skip
    """The attack, made once per server for this model, image and settings."""
    key = (probe.key, method, epsilon, target)
    return made_once(
        "adv.attack", 64, key, lambda: cnnviz.attack(model, image, method, epsilon, target)
    )


def _triple(a: cnnviz.Attack) -> Image.Image:
    pictures = [a.original, a.magnified(), a.image]
    arrays = np.stack([_chw(np.asarray(p)) for p in pictures])
    side = a.image.size[0]
    cell = max(side, 160)
    scale = f"x{0.5 / a.epsilon:.0f}" if a.epsilon else ""
    captions = [
        f"original: {a.before.label} {a.before.probability:.0%}",
        f"change {scale} (grey = 0)",
        f"adversarial: {a.after.label} {a.after.probability:.0%}",
    ]
    return figures.image_grid(arrays, captions, columns=3, cell=cell)


def _chw(array: np.ndarray) -> np.ndarray:
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def show_attack(probe: cnnviz.Probe, a: cnnviz.Attack) -> None:
    """Original, magnified perturbation and adversarial image, and the flip in numbers."""
    key = ("adv.triple", a.method, a.epsilon, a.target)
    st.image(shared_jpeg(lambda: _triple(a), probe, *key), width="stretch")
    cols = st.columns(3)
    cols[0].metric("Before", f"{a.before.label} ({a.before.probability:.1%})")
    cols[1].metric("After", f"{a.after.label} ({a.after.probability:.1%})")
    cols[2].metric("Pixel values changed", f"{a.changed_pixels:.0%}")
    if a.success:
        st.error(
            f"Flipped: the network now says **{a.after.label}**, though every pixel moved by "
            f"at most {a.epsilon:.3f} ({a.epsilon * 255:.0f} of 255 grey levels).",
            icon=":material/warning:",
        )
    else:
        st.success(f"Still **{a.after.label}**: epsilon {a.epsilon:.3f} is not enough here.")


def gradcam_pair(model: cnnviz.Model, probe: cnnviz.Probe, image: Image.Image, a: cnnviz.Attack):
    """Grad-CAM of the original's prediction and of the adversarial image's, side by side."""
    rows = (
        ("before", image, a.original, a.before.index),
        ("after", a.input, a.image, a.after.index),
    )
    for column, (when, source, shown, target) in zip(st.columns(2), rows, strict=True):
        key = ("adv.cam", when, a.method, a.epsilon, a.target)
        e = made_once(
            "adv.cam", 64, (probe.key, *key),
            lambda source=source, target=target: cnnviz.explain(model, source, "gradcam", target),
        )  # fmt: skip
        picture = shared_jpeg(
            lambda e=e, shown=shown: attribution_figures.map_overlay(shown, e, "magma", 0.5),
            probe, *key,
        )  # fmt: skip
        column.image(picture, caption=f"Grad-CAM {when}: “{e.label}”", width=280)


def digit_samples(model: cnnviz.Model) -> list[Image.Image] | None:
    """The bundled digit samples, when the model reads digits (else ``None``)."""
    if model.labels != tuple("0123456789"):
        return None
    return [cnnviz.load_sample(f"digit_{d}") for d in range(10)]


def success_rates(model: cnnviz.Model, epsilon: float) -> None:
    """Both attacks' success rate over the bundled digits for every epsilon (made once)."""
    images = digit_samples(model)
    if images is None:
        st.info("The success rate is measured on the bundled digit samples: choose LeNet-5.")
        return

    def make() -> dict[str, tuple[float, ...]]:
        bar = st.progress(0.0, text="Attacking the 10 digit samples…")
        rates: dict[str, tuple[float, ...]] = {}
        try:
            for k, method in enumerate(METHOD_LABELS):
                values = []
                for j, eps in enumerate(EPSILONS):
                    values.append(attack_success(model, images, method, eps))
                    done = (k * len(EPSILONS) + j + 1) / (2 * len(EPSILONS))
                    bar.progress(done, text=f"{METHOD_LABELS[method]}, ε = {eps:.3f}")
                rates[METHOD_LABELS[method]] = tuple(values)
        finally:
            bar.empty()
        return rates

    rates = made_once("adv.rates", 8, (model.key,), make)
    figure = shared(
        lambda: success_figure(EPSILONS, rates, epsilon), None, "adv.rates", model.key, epsilon
    )
    st.plotly_chart(figure, key=f"{PAGE}.rates_chart")
    st.caption(
        "Each point: the fraction of the 10 bundled digits whose prediction changed. PGD takes "
        "ten small steps, each time checking where the loss rises, so it needs a smaller "
        "epsilon than FGSM's single jump."
    )
