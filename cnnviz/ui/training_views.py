"""Views of the Training page that are more than a few lines: the data preview, the scrubber."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

import cnnviz
from cnnviz import figures, limits
from cnnviz.data import Dataset, dataset_from_zip, load_dataset
from cnnviz.figures import plural
from cnnviz.nets import ACTIVATIONS
from cnnviz.training import (
    EpochView,
    JobSnapshot,
    StepEvent,
    TrainConfig,
    TrainJob,
    logs_root,
    lr_schedule,
    overfitting,
    to_image,
    vanishing,
)
from cnnviz.training.augment import AUGMENTATIONS
from cnnviz.training.experiments import CURES, REMEDIES, fading_text, gap_text
from cnnviz.ui.session import error_boundary
from cnnviz.ui.widgets import section as ui_section

OURS = {
    "lenet5": "LeNet-5 (32 x 32 grey)",
    "tinyvgg": "TinyVGG (64 x 64 colour)",
    "resnet_small": "Small ResNet (32 x 32 grey)",
    "mobilenet_small": "Small MobileNet (32 x 32 grey)",
    "deepnet": "Deep plain CNN, 20 layers (32 x 32 grey)",
}
"""Our nets, trained from scratch on the Training page."""


def _activation_label(name: str) -> str:
    if name == "default":
        return "as designed"
    activation = ACTIVATIONS[name]
    return f"{activation.label}: {activation.formula}"


def architectures() -> dict[str, str]:
    """Every architecture the page can train: ours from scratch, the ImageNet ones by transfer."""
    transfer = {
        name: f"{spec.label} (transfer learning, {spec.input_size} px)"
        for name, spec in cnnviz.MODELS.items()
        if spec.is_torchvision
    }
    return OURS | transfer


def network_options(arch: str, disabled: bool) -> dict[str, object]:
    """Transfer learning, activation, batch norm, dropout, augmentation, weight decay, the
    training subset and residual connections (TrainConfig fields)."""
    spec = cnnviz.MODELS[arch]
    label = (
        "More options: transfer learning, activation, batch norm, dropout, augmentation, "
        "weight decay, fewer images"
    )
    with st.expander(label, icon=":material/tune:"):
        transfer = st.toggle(
            "Transfer learning: keep the trained layers, train only a new last layer",
            key="train.transfer", disabled=disabled or spec.is_torchvision,
            help="Starts from weights that already learned to see (ImageNet's, or our bundled "
            "digit LeNet-5), freezes them, and learns just the last layer for the new classes. "
            "Always on for the big ImageNet networks: training them from scratch on a laptop "
            "would take days.",
        ) or spec.is_torchvision  # fmt: skip
        if spec.is_torchvision:
            st.caption(
                f"{spec.label} sees {spec.input_size} x {spec.input_size} images: an epoch takes "
                "from seconds (MobileNet) to minutes (VGG, ResNet-50) on a laptop. Without "
                "cached ImageNet weights its frozen layers are random and it learns little."
            )
        a, b, c = st.columns(3)
        own = not transfer
        # Plain strings as options: a ``None`` option reads as "nothing chosen" after a rerun.
        activation = a.selectbox(
            "Activation", ["default", *ACTIVATIONS], key="train.activation",
            disabled=disabled or not own,
            format_func=_activation_label,
            help="The function after every convolution and hidden layer. ReLU keeps positive "
            "values and zeroes the rest; leaky ReLU and ELU let a little through below 0; GELU "
            "and SiLU (swish) are smooth ReLUs used by transformers and EfficientNet; tanh and "
            "sigmoid squash everything and make deep nets learn slowly.",
        )  # fmt: skip
        norm = b.selectbox(
            "Batch norm", ["default", "on", "off"], key="train.batch_norm",
            disabled=disabled or not own,
            format_func=lambda k: "as designed" if k == "default" else k,
            help="Normalizes each channel over the batch after a convolution: usually trains "
            "faster and tolerates larger learning rates. LeNet-5 and TinyVGG have none; the "
            "small ResNet and MobileNet have it.",
        )  # fmt: skip
        dropout = c.slider(
            "Dropout", 0.0, 0.7, 0.0, 0.1, key="train.dropout", disabled=disabled or not own,
            help="While training, zero this share of the inputs of the fully connected layers "
            "at random, so the network cannot rely on any single one (less overfitting).",
        )  # fmt: skip
        augment = st.multiselect(
            "Augmentation", list(AUGMENTATIONS), key="train.augment", disabled=disabled,
            help=" ".join(f"**{k}**: {v}" for k, v in AUGMENTATIONS.items()),
            placeholder="none: every epoch sees the same images",
        )  # fmt: skip
        d, e, f = st.columns(3)
        decay = d.select_slider(
            "Weight decay", [0.0, 1e-4, 1e-3, 1e-2, 1e-1], 0.0, key="train.weight_decay",
            disabled=disabled, format_func=lambda v: "none" if v == 0 else f"{v:g}",
            help="Pulls every weight a little towards 0 at each step, so the network prefers "
            "small weights and simple answers (less overfitting). Decoupled from the gradient "
            "with AdamW.",
        )  # fmt: skip
        subset = e.select_slider(
            "Training images", [0, 30, 60, 100, 300, 1000], 0, key="train.subset",
            disabled=disabled, format_func=lambda n: "all" if n == 0 else f"first {n}",
            help="Learn from only a few of the training images (validation keeps all of them): "
            "with few images and many epochs a network learns them by heart — overfitting.",
        )  # fmt: skip
        residual = f.toggle(
            "Residual connections", key="train.residual", disabled=disabled or arch != "deepnet",
            help="Only for the deep plain CNN: adds ResNet's shortcut around every pair of "
            "convolutions (it becomes ResNet-20), which carries the gradient back to the first "
            "layers.",
        )  # fmt: skip
    return {
        "transfer": transfer,
        "activation": activation if own and activation != "default" else None,
        "batch_norm": {"on": True, "off": False}.get(norm) if own else None,
        "dropout": float(dropout) if own else 0.0,
        "augment": tuple(augment),
        "weight_decay": float(decay),
        "train_subset": int(subset),
        "residual": True if residual and own and arch == "deepnet" else None,
    }


SCHEDULE_STEPS = 20
"""Steps per epoch of the planned schedule drawn before a run (its shape needs no more)."""
MAX_SCHEDULE_STEPS = 400
"""At most this many points in all: a smooth curve at any width, computed in tens of ms."""


@st.cache_data(max_entries=64, show_spinner=False)
def _planned(optimizer: str, lr: float, schedule: str, epochs: int) -> np.ndarray:
    config = TrainConfig(optimizer=optimizer, lr=lr, schedule=schedule, epochs=epochs)  # type: ignore[arg-type]
    return lr_schedule(config, min(MAX_SCHEDULE_STEPS, SCHEDULE_STEPS * epochs))


def schedule_chart(config: TrainConfig, steps: tuple[StepEvent, ...] = (), key: str = "") -> None:
    """The learning rate over a run: as planned by ``config``, and ``steps``' rates so far."""
    planned = _planned(config.optimizer, config.lr, config.schedule, config.epochs)
    st.plotly_chart(
        figures.lr_figure(planned, config.epochs, steps), key=key or "train.schedule_chart"
    )
    st.caption(SCHEDULE_TEXT[config.schedule])


SCHEDULE_TEXT = {
    "constant": "A constant rate: the same step size from the first batch to the last.",
    "step": "Step decay: the full rate for two thirds of the run, then a tenth of it, so the "
    "last epochs settle into the valley instead of bouncing across it.",
    "cosine": "Cosine decay: the rate glides from its full value down to 0 along half a "
    "cosine wave: big steps early, fine steps at the end.",
    "onecycle": "One-cycle: warm up from a small rate to the peak over the first 30% of the "
    "run, then anneal to nearly 0: the warm-up keeps the first, random steps from blowing up.",
}
"""What each schedule does, one or two sentences for the page."""


EXPERIMENT_TEXT = {
    "overfitting": (
        "**Overfitting** is learning the training images by heart instead of what makes a "
        "digit a digit. LeNet-5 trains on only 60 images for 60 epochs: its training accuracy "
        "reaches 100% while the validation accuracy stalls far below, and the validation loss "
        "turns back up. Then the same run again with a remedy. The **gap** between the dotted "
        "(training) and the solid (validation) line of a run is its overfitting."
    ),
    "vanishing": (
        "**Vanishing gradients**: on its way back from the loss, each layer multiplies the "
        "gradient by its weights. With PyTorch's default initial weights and no "
        "normalization that shrinks it by about half per layer, so after 20 layers almost "
        "nothing is left for the first ones and they do not learn. A 20-layer plain CNN "
        "trains for 2 epochs, then the same depth with ResNet's shortcuts (the gradient flows "
        "back along them untouched), with batch norm (every layer's output rescaled), or with "
        "both, as ResNet-20 has. The chart shows each layer's gradient norm on a log scale: a "
        "line falling steeply to the left is a gradient that vanishes. The gradients differ "
        "from the first steps; the accuracy takes longer (shortcuts alone learn slowly at "
        "first: train the deep plain CNN for more epochs with 'Residual connections' on)."
    ),
}


def experiment_setup(job: TrainJob, disabled: bool) -> None:
    """The Experiments section: overfitting or vanishing gradients, two runs on one chart."""
    box = ui_section("Experiments: overfit on purpose · vanishing gradients", "train.experiments")
    if box is None:
        return
    with box:
        kind = st.radio(
            "Experiment", list(EXPERIMENT_TEXT), key="train.experiment", horizontal=True,
            format_func={"overfitting": "Overfitting and its remedies",
                         "vanishing": "Vanishing gradients"}.get,
            disabled=disabled,
        )  # fmt: skip
        st.markdown(EXPERIMENT_TEXT[kind])
        if kind == "overfitting":
            remedy = st.selectbox(
                "Remedy for the second run", list(REMEDIES), key="train.remedy",
                format_func=lambda k: REMEDIES[k][0], disabled=disabled,
            )  # fmt: skip
            experiment = overfitting(remedy)
        else:
            cure = st.selectbox(
                "Cure for the second run", list(CURES), key="train.cure",
                format_func=lambda k: CURES[k][0], disabled=disabled,
            )  # fmt: skip
            experiment = vanishing(cure)
        st.caption(" · then · ".join(f"**{label}**: {describe(config)}"
                                     for label, config in experiment.runs))  # fmt: skip
        if st.button("Run the experiment", key="train.experiment_start", type="primary",
                     disabled=disabled, icon=":material/science:"):  # fmt: skip
            label, config = experiment.first
            with error_boundary("the experiment"):
                job.start(config, label=label, then=experiment.rest)
                st.session_state["train.series"] = experiment.name
                st.rerun()


def describe(config: TrainConfig) -> str:
    """``"LeNet-5 on 60 of the digits images, 60 epochs, batch 32, adam 0.001"`` and the
    variant."""
    images = f"{config.train_subset} of the" if config.train_subset else "the"
    parts = [
        f"{cnnviz.MODELS[config.arch].label} on {images} {config.dataset} images",
        plural(config.epochs, "epoch"), f"batch {config.batch_size}",
        f"{config.optimizer} {config.lr:g}",
    ]  # fmt: skip
    extra = config.variant.describe()
    if config.augment:
        extra = ", ".join(filter(None, [extra, "augmentation " + "+".join(config.augment)]))
    if config.weight_decay:
        extra = ", ".join(filter(None, [extra, f"weight decay {config.weight_decay:g}"]))
    return ", ".join([*parts, extra] if extra else parts)


def experiment_results(snap: JobSnapshot) -> None:
    """A series' runs on one chart (and, for vanishing gradients, each layer's gradient).

    Which experiment the series is comes from :func:`experiment_setup`, which started it.
    """
    runs = [(r.label, r.epochs) for r in snap.runs if r.epochs]
    if not runs:
        return
    if st.session_state.get("train.series") == "vanishing":
        st.plotly_chart(figures.gradient_figure(runs), key="train.series_gradients")
        lines = [fading_text(label, epochs[-1]) for label, epochs in runs]
    else:
        lines = [gap_text(label, epochs) for label, epochs in runs]
    st.plotly_chart(figures.runs_figure(runs), key="train.series_runs")
    st.markdown("\n".join(f"- {line}" for line in lines if line))
    if snap.queued:
        st.caption("Next: " + ", ".join(label for label, _ in snap.queued))


def gradient_section(snap: JobSnapshot) -> None:
    """Each layer's gradient norm per epoch of the current run, in a section closed by default."""
    if not snap.epochs or not snap.epochs[-1].grad_norms:
        return
    box = ui_section("Gradient of each layer, epoch by epoch", "train.gradients")
    if box is None:
        return
    with box:
        label = snap.label or "this run"
        st.plotly_chart(figures.gradient_figure([(label, snap.epochs)]), key="train.gradient_chart")
        st.caption(
            "How strongly each layer's weights are pushed at each step (the norm of their "
            "gradient, averaged over the epoch), from the input's end to the output's. "
            + fading_text(label, snap.epochs[-1])
        )


@st.cache_resource(max_entries=2, show_spinner="Reading the images in the zip…")
def _zip_dataset(data: bytes, size: int, channels: int, seed: int) -> Dataset:
    return dataset_from_zip(data, size=size, channels=channels, seed=seed)


def zip_dataset(arch: str, seed: int, disabled: bool) -> Dataset | None:
    """An uploaded zip of class folders as a data set at ``arch``'s input size (or ``None``)."""
    upload = st.file_uploader(
        f"A zip of your images, one folder per class ({limits.ZIP.describe()})", type=["zip"],
        key="train.zip", disabled=disabled, max_upload_size=limits.ZIP.megabytes,
        help="For example cats/1.jpg, cats/2.png, dogs/1.jpg ... At least two classes; "
        f"at most {limits.ZIP.megabytes} MB and 20,000 files.",
    )  # fmt: skip
    if upload is None:
        return None
    spec = cnnviz.MODELS[arch]
    try:
        data = _zip_dataset(upload.getvalue(), spec.input_size, spec.channels, seed)
    except cnnviz.CnnvizError as error:
        st.error(str(error), icon=":material/folder_off:")
        return None
    st.caption(data.source)
    images, labels = data.preview(per_class=4)
    captions = [data.classes[int(k)] for k in labels]
    st.image(figures.to_jpeg(figures.image_grid(images, captions, columns=min(16, len(images)))))
    return data


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


def _predicted(view: EpochView) -> str:
    return f"predicted {view.prediction.label} ({figures.percent(view.prediction.probability)})"


def live_maps(container: DeltaGenerator, snap: JobSnapshot) -> None:
    """The latest epoch's first-layer filters, and their maps of one validation image.

    Only draws: the training thread made the pictures once, when the epoch ended (see
    :class:`cnnviz.training.EpochView`), so a poll every second costs no forward pass.
    """
    if not snap.views:
        return
    view = snap.views[-1]
    container.image(
        view.filters, width="stretch",
        caption=f"First-layer filters after epoch {view.epoch} (averaged over input channels; "
        "blue negative, red positive)",
    )  # fmt: skip
    container.image(
        view.maps, width="stretch",
        caption=f"{view.layer} maps of one validation image after epoch {view.epoch}: "
        f"{_predicted(view)}",
    )  # fmt: skip


def epoch_scrubber(snap: JobSnapshot) -> None:
    """Drag through the epochs: the filters, and one validation image's maps and prediction."""
    if not snap.views or snap.sample is None:
        return
    st.subheader("Watch it learn, epoch by epoch")
    numbers = [v.epoch for v in snap.views]
    shown = st.select_slider("Epoch", numbers, value=numbers[-1], key="train.scrub")
    view = snap.view(shown)
    a, b, c, d = st.columns([1, 2, 2, 1])
    a.image(to_image(snap.sample), caption=f"A validation image: {_predicted(view)}")
    b.image(view.filters, width="stretch", caption=f"First-layer filters after epoch {shown}")
    c.image(
        view.maps, width="stretch",
        caption=f"What they make of this image ({view.layer}) after epoch {shown}",
    )  # fmt: skip
    if view.cam is None:
        d.error(view.cam_text, icon=":material/error:")
    else:
        d.image(
            view.cam, width="stretch",
            caption=f"{view.cam_text} after epoch {shown}: where it looked",
        )  # fmt: skip


def tensorboard_option(container: DeltaGenerator, disabled: bool) -> bool:
    """A checkbox: also write the run as TensorBoard logs; its help says what and where."""
    return container.checkbox(
        "Also write TensorBoard logs", key="train.tensorboard", disabled=disabled,
        help="TensorBoard is the training dashboard that comes with TensorFlow; it reads "
        "PyTorch's logs too. The run's loss, accuracy and learning rate (per step and per "
        "epoch) and the first-layer filters after each epoch go into a new folder under "
        f"{logs_root()} on the server; after the run you can download them as a zip.",
    )  # fmt: skip


def tensorboard_logs(snap: JobSnapshot) -> None:
    """Where the run's TensorBoard logs are, how to open them, and (once done) a zip of them."""
    if snap.logdir is None:
        return
    folder = Path(snap.logdir)
    st.caption(
        f"TensorBoard logs of this run: `{folder}` on the server. To see them, install "
        "TensorBoard (`pip install tensorboard`), unzip the download and run "
        f"`tensorboard --logdir {folder.name}` beside it, then open http://localhost:6006."
    )
    if snap.logs is not None:
        st.download_button(
            "Download the TensorBoard logs (zip)", snap.logs, file_name=f"{folder.name}.zip",
            key="train.tb_download", mime="application/zip", on_click="ignore",
            icon=":material/download:",
        )  # fmt: skip
