"""Train a network and watch it learn: :func:`train` yields events as it goes.

The loop is plain PyTorch (no Streamlit), so a notebook, the ``cnnviz train`` command and the
Training page all run the same code::

    for event in cnnviz.train(arch="lenet5", dataset="digits", epochs=3):
        if isinstance(event, cnnviz.EpochEvent):
            print(event.epoch, event.val_accuracy)

``loop`` holds :func:`train`, ``events`` what it yields, ``divergence`` when a run has blown up,
``job`` runs it in the background for the page, in a child process (``worker``: the run and
the plain messages it sends back) or a thread (``priority``: a run that gives way to the pages;
``views``: what the page shows of each epoch, made once), ``tensorboard`` writes a
run's events as TensorBoard logs, ``evaluation`` looks at the result (confusion matrix,
mistakes, any epoch's network), ``experiments`` pairs runs that differ in one setting
(overfitting and its remedies, vanishing gradients and their cures).
"""

from cnnviz.training.divergence import DivergenceWatch
from cnnviz.training.evaluation import (
    Mistake,
    checkpoint_bytes,
    confusion,
    epoch_model,
    misclassified,
    predict,
    to_image,
)
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent, TrainEvent
from cnnviz.training.experiments import Experiment, overfitting, vanishing
from cnnviz.training.job import JOB_SLOTS, MAX_JOBS, MAX_POINTS, JobSnapshot, RunResult, TrainJob
from cnnviz.training.loop import TrainConfig, lr_schedule, save_checkpoint, train
from cnnviz.training.priority import CpuShare, share_cpu
from cnnviz.training.tensorboard import logs_root, new_logdir, write_tensorboard, zip_logs
from cnnviz.training.views import EpochView, EpochViews

__all__ = [
    "JOB_SLOTS",
    "MAX_JOBS",
    "MAX_POINTS",
    "CpuShare",
    "DivergenceWatch",
    "DoneEvent",
    "EpochEvent",
    "EpochView",
    "EpochViews",
    "Experiment",
    "JobSnapshot",
    "Mistake",
    "RunResult",
    "StepEvent",
    "TrainConfig",
    "TrainEvent",
    "TrainJob",
    "checkpoint_bytes",
    "confusion",
    "epoch_model",
    "logs_root",
    "lr_schedule",
    "misclassified",
    "new_logdir",
    "overfitting",
    "predict",
    "save_checkpoint",
    "share_cpu",
    "to_image",
    "train",
    "vanishing",
    "write_tensorboard",
    "zip_logs",
]
