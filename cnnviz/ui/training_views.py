"""Views of the Training page that are more than a few lines: the data preview, the scrubber."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

import cnnviz
from cnnviz import figures, limits
from cnnviz.data import Dataset, dataset_from_zip, load_dataset
from cnnviz.nets import ACTIVATIONS
from cnnviz.training import EpochView, JobSnapshot, logs_root, to_image
from cnnviz.training.augment import AUGMENTATIONS

OURS = {
    "lenet5": "LeNet-5 (32 x 32 grey)",
    "tinyvgg": "TinyVGG (64 x 64 colour)",
    "resnet_small": "Small ResNet (32 x 32 grey)",
    "mobilenet_small": "Small MobileNet (32 x 32 grey)",
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
    """Transfer learning, activation, batch norm, dropout and augmentation (TrainConfig fields)."""
    spec = cnnviz.MODELS[arch]
    with st.expander("More options: transfer learning, activation, batch norm, dropout, "
                     "augmentation", icon=":material/tune:"):  # fmt: skip
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
    return {
        "transfer": transfer,
        "activation": activation if own and activation != "default" else None,
        "batch_norm": {"on": True, "off": False}.get(norm) if own else None,
        "dropout": float(dropout) if own else 0.0,
        "augment": tuple(augment),
    }


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
