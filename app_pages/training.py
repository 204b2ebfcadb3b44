"""Training: train a small CNN in the background and watch its loss, accuracy and filters."""

import streamlit as st

import cnnviz
import cnnviz.ui as ui
from cnnviz import figures
from cnnviz.data import DATASET_INFO
from cnnviz.training import TrainConfig, new_logdir

ARCHS = ui.architectures()
DATASETS = ("digits", "shapes", "mnist", "fashion_mnist", "cifar10", "folder")
ENDINGS = {"done": st.success, "stopped": st.warning, "diverged": st.error, "failed": st.error}

st.title("Training")
ui.intro(
    "Train a network and watch it learn: the loss falls, the accuracy rises, and the first "
    "layer's filters turn from noise into edge and blob detectors. Our small nets learn from "
    "scratch; the big ImageNet ones by transfer learning. Training goes on while you look at "
    "other pages."
)
job = ui.training_job()
running = job.snapshot().running

left, middle, right = st.columns(3)
arch = left.selectbox(
    "Architecture", list(ARCHS), format_func=ARCHS.get, key="train.arch", disabled=running,
    help="Our small nets train from random weights; the ImageNet ones by transfer learning.",
)  # fmt: skip
dataset = middle.selectbox(
    "Data set", DATASETS, key="train.dataset", disabled=running,
    help="The labelled images it learns from; a fifth is kept aside for validation.",
)  # fmt: skip
middle.caption(DATASET_INFO[dataset])
if dataset != "folder" and middle.toggle("Show some of its images", key="train.preview"):
    ui.dataset_preview(dataset, arch)
epochs = right.number_input(
    "Epochs", 1, 50, 3, key="train.epochs", disabled=running,
    help="Passes over all the training images.",
)  # fmt: skip
a, b, c, d, e = st.columns(5)
batch = a.select_slider(
    "Batch size", [8, 16, 32, 64, 128, 256], 64, key="train.batch", disabled=running,
    help="Images per weight update: smaller is noisier, larger is smoother but slower to learn.",
)  # fmt: skip
optimizer = b.selectbox(
    "Optimizer", ["adam", "sgd", "adamw"], key="train.optimizer", disabled=running,
    help="How gradients become weight changes: Adam adapts the step per weight; SGD uses "
    "momentum 0.9.",
)  # fmt: skip
lr = c.select_slider(
    "Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0], 1e-3, key="train.lr",
    disabled=running, help="Size of each step downhill; too large and the loss blows up.",
)  # fmt: skip
schedule = d.selectbox(
    "Schedule", ["constant", "step", "cosine", "onecycle"], key="train.schedule",
    disabled=running,
    help="How the learning rate changes over the run: constant, x0.1 at 2/3, cosine decay, "
    "or one-cycle (warm up, then anneal).",
)  # fmt: skip
seed = e.number_input(
    "Seed", 0, 9999, 0, key="train.seed", disabled=running,
    help="Fixes the initial weights and the shuffling: the same seed trains the same network.",
)  # fmt: skip

options = ui.network_options(arch, running)
own_data = ui.zip_dataset(arch, int(seed), running) if dataset == "folder" else None
planned = TrainConfig(
    arch=arch, dataset=dataset, epochs=int(epochs), batch_size=int(batch), optimizer=optimizer,
    lr=float(lr), schedule=schedule, seed=int(seed), **options,
)  # fmt: skip

go_col, stop_col, board_col = st.columns([1, 1, 4])
tensorboard = ui.tensorboard_option(board_col, running)
if go_col.button("Train", key="train.start", type="primary", disabled=running,
                 icon=":material/play_arrow:"):  # fmt: skip
    with ui.error_boundary("the training run"):
        if dataset == "folder" and own_data is None:
            raise cnnviz.InputError("Upload a zip of your images first (one folder per class).")
        job.start(planned, own_data, logdir=new_logdir(planned) if tensorboard else None)
        st.session_state["train.series"] = None
        st.rerun()  # disable the settings and turn on the live panel's timer
stop_col.button(
    "Stop", key="train.stop", disabled=not running, on_click=job.stop, icon=":material/stop:",
    help="End the run after the current batch; the model learned so far is kept.",
)  # fmt: skip
ui.experiment_setup(job, running)


@st.fragment(run_every=1.0 if running else None)
def live_panel() -> None:
    snap = job.snapshot()
    if snap.status == "idle":
        st.info("Choose the settings and press Train.", icon=":material/model_training:")
        ui.schedule_chart(planned)  # the schedule as planned, before any run
        return
    if snap.series_text:
        st.markdown(f"**{snap.series_text}**")
    st.progress(snap.progress, text=snap.progress_text)
    curves, filters = st.columns([2, 1])
    curves.plotly_chart(figures.training_curves(snap.steps, snap.epochs), key="train.curves")
    with curves:
        ui.schedule_chart(snap.config, snap.steps, key="train.lr_chart")
    ui.live_maps(filters, snap)  # drawn from what the training thread made per epoch
    if snap.earlier or snap.queued:
        ui.experiment_results(snap)
    ui.gradient_section(snap)
    if running and not snap.running:
        st.rerun()  # the run ended: a full rerun shows the results and stops the timer


live_panel()

snap = job.snapshot()
if not snap.running and snap.status != "idle":
    ENDINGS[snap.status](snap.message)
if snap.has_model and snap.confusion is not None:
    config = snap.config
    st.plotly_chart(figures.confusion_figure(snap.confusion, snap.classes), key="train.confusion")
    name = f"{config.arch}_{config.dataset}_seed{config.seed}.pt"
    dl_col, use_col, share_col = st.columns([1, 1, 2])
    dl_col.download_button(
        "Download checkpoint", snap.checkpoint, file_name=name, key="train.download",
        mime="application/octet-stream", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    use_col.button(
        "Use this model on every page", key="train.use", on_click=ui.use_trained,
        args=(config.arch, snap.checkpoint, snap.done.model.weights_source),
        icon=":material/publish:",
        help="Every page then shows this network; 'trained' appears as its weights.",
    )  # fmt: skip
    with share_col:
        ui.share_with_class(config.arch, snap.checkpoint)

ui.tensorboard_logs(snap)
ui.epoch_scrubber(snap)
if snap.mistakes:
    st.subheader("What it gets wrong")
    st.image(
        [image for image, _, _ in snap.mistakes], width=80,
        caption=[f"{true} seen as {guess}" for _, true, guess in snap.mistakes],
    )  # fmt: skip
