"""The training loop: settings, :func:`train`, and checkpoints (its events: ``events``).

Each training step: ``loss = cross_entropy(model(x), y)``, gradients by backpropagation, one
optimizer step. A loss that blows up (see :mod:`cnnviz.training.divergence`) stops the run
(status ``"diverged"``) and the model keeps the weights of its best epoch; a set ``stop`` event
ends the run after the current batch (status ``"stopped"``) and keeps the model as it is.
"""

from __future__ import annotations

import copy
import hashlib
import io
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from torch import nn

from cnnviz.data import Dataset, load_dataset
from cnnviz.errors import InputError
from cnnviz.figures.labels import plural
from cnnviz.models import MODELS, Model, ModelSpec, build_module, load_model
from cnnviz.models.checkpoints import head_layer
from cnnviz.nets import ACTIVATIONS, Variant
from cnnviz.training.augment import AUGMENTATIONS, augment
from cnnviz.training.divergence import DivergenceWatch, diverged_message
from cnnviz.training.events import DoneEvent, EpochEvent, StepEvent, TrainEvent, best_epoch


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What to train and how.

    Attributes:
        arch: Registry name of the architecture (trained from scratch).
        dataset: Data set name (see :data:`cnnviz.data.DATASETS`).
        epochs: Passes over the training images.
        batch_size: Images per optimizer step.
        optimizer: ``"sgd"`` (with momentum 0.9), ``"adam"`` or ``"adamw"``.
        lr: Learning rate (peak rate for one-cycle).
        schedule: ``"constant"``, ``"step"`` (x0.1 at 2/3 of the run), ``"cosine"`` or
            ``"onecycle"``.
        weight_decay: L2 penalty (decoupled for AdamW).
        seed: Seed of the initial weights, the split and the shuffling.
        val_fraction: Share of the images kept for validation.
        activation: Another activation for every layer (a name in
            :data:`cnnviz.nets.ACTIVATIONS`; ``None`` keeps the architecture's).
        batch_norm: Add (``True``) or remove (``False``) batch norm after the convolutions;
            ``None`` keeps the architecture's choice.
        dropout: Dropout probability before the fully connected layers (0: none).
        augment: Random changes to each training image (names in
            :data:`cnnviz.training.augment.AUGMENTATIONS`).
        transfer: Transfer learning: start from the architecture's trained weights (cached
            ImageNet weights, or our bundled ones), freeze them, and train only a new last layer.
        residual: Add ResNet's shortcuts to the deep plain net (``deepnet``); ``None`` keeps
            the architecture's choice.
        train_subset: Train on only this many of the training images (0: all of them); the
            validation images stay all. A small subset is how to overfit on purpose.
    """

    arch: str = "lenet5"
    dataset: str = "digits"
    epochs: int = 5
    batch_size: int = 64
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = 1e-3
    schedule: Literal["constant", "step", "cosine", "onecycle"] = "constant"
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.2
    activation: str | None = None
    batch_norm: bool | None = None
    dropout: float = 0.0
    augment: tuple[str, ...] = ()
    transfer: bool = False
    residual: bool | None = None
    train_subset: int = 0

    @property
    def variant(self) -> Variant:
        """The changes to the architecture's layers these settings ask for."""
        return Variant(self.activation, self.batch_norm, self.dropout, self.residual)


def _normalize(x: torch.Tensor, model_name: str | ModelSpec) -> torch.Tensor:
    """0..255 pixels (uint8 or float) -> the architecture's normalized input."""
    spec = MODELS[model_name] if isinstance(model_name, str) else model_name
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x.float() / 255.0 - mean) / std


def _optimizer(config: TrainConfig, params: Any) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def _scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    sched = torch.optim.lr_scheduler
    if config.schedule == "step":
        return sched.StepLR(optimizer, step_size=max(1, 2 * steps // 3), gamma=0.1)
    if config.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    if config.schedule == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(1, steps))
    return sched.ConstantLR(optimizer, factor=1.0, total_iters=0)


def lr_schedule(config: TrainConfig, steps: int) -> np.ndarray:
    """The learning rate of each of ``steps`` optimizer steps of a run, as :func:`train` sets it.

    The same optimizer and scheduler as the run's, stepped on a dummy parameter: what the
    Training page draws before a run starts (and what :attr:`StepEvent.lr` then reports).

    Args:
        config: The run's settings (optimizer, ``lr``, ``schedule``).
        steps: Optimizer steps in the whole run (steps per epoch times epochs). The shape of
            every schedule depends only on the share of the run done, so fewer steps draw the
            same curve more coarsely.

    Returns:
        float64 (steps,): the rate of step 1, 2, ...
    """
    weight = nn.Parameter(torch.zeros(1))
    optimizer = _optimizer(config, [weight])
    scheduler = _scheduler(config, optimizer, steps)
    rates = np.empty(max(0, steps), dtype=np.float64)
    for index in range(len(rates)):
        rates[index] = optimizer.param_groups[0]["lr"]
        optimizer.step()  # no gradient: nothing moves, but the scheduler sees a step was taken
        scheduler.step()
    return rates


def _tracked(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The layers whose gradient norm a run reports: every trained convolution and linear weight."""
    return [
        (name.removesuffix(".weight"), param)
        for name, param in module.named_parameters()
        if param.requires_grad and param.dim() > 1 and name.endswith(".weight")
    ]


def _grad_norms(tracked: list[tuple[str, nn.Parameter]]) -> torch.Tensor:
    """The L2 norm of each tracked weight's gradient (0 where it got none), float64."""
    zero = torch.zeros(())
    norms = [zero if p.grad is None else torch.linalg.vector_norm(p.grad) for _, p in tracked]
    return torch.stack(norms).double() if norms else torch.zeros(0, dtype=torch.float64)


def _evaluate(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, arch: str | ModelSpec
) -> tuple[float, float]:
    module.eval()
    loss, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            logits = module(_normalize(x[start : start + batch], arch))
            target = y[start : start + batch]
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += int((logits.argmax(1) == target).sum())
    return loss / max(1, len(x)), correct / max(1, len(x))


def _snapshot(module: nn.Module, frozen: frozenset[str] = frozenset()) -> dict[str, torch.Tensor]:
    """A copy of the weights; ``frozen`` ones never change, so they are shared, not copied."""
    return {
        k: v.detach() if k in frozen else v.detach().clone() for k, v in module.state_dict().items()
    }


def _check(config: TrainConfig, base: Model | None = None) -> None:
    if base is not None:
        if not config.transfer or not config.variant.is_default:
            raise InputError(
                "Your own model trains by transfer learning only (transfer=True, its own layers)."
            )
    elif config.arch not in MODELS:
        raise InputError(f"There is no architecture called '{config.arch}'.")
    if config.epochs < 1 or config.batch_size < 1 or not config.lr > 0:
        raise InputError("Epochs, batch size and learning rate must be positive.")
    if config.activation is not None and config.activation not in ACTIVATIONS:
        raise InputError(
            f"There is no activation called '{config.activation}'; choose from "
            f"{', '.join(ACTIVATIONS)}."
        )
    if not 0 <= config.dropout < 1:
        raise InputError("Dropout is a probability: at least 0 and below 1.")
    if config.weight_decay < 0 or config.train_subset < 0:
        raise InputError("Weight decay and the training subset cannot be negative.")
    if config.residual is not None and config.arch != "deepnet":
        raise InputError(
            "Residual connections can be switched only on the deep plain net (deepnet); the "
            "other nets keep their own design."
        )
    unknown = sorted(set(config.augment) - set(AUGMENTATIONS))
    if unknown:
        raise InputError(
            f"There is no augmentation called '{unknown[0]}'; choose from "
            f"{', '.join(AUGMENTATIONS)}."
        )
    if base is not None:
        return
    if not config.variant.is_default and (config.transfer or MODELS[config.arch].is_torchvision):
        raise InputError(
            "Activation, batch norm and dropout can be changed only when training one of our "
            "own nets from scratch: a pretrained or torchvision network keeps its layers."
        )
    if MODELS[config.arch].is_torchvision and not config.transfer:
        raise InputError(
            f"{MODELS[config.arch].label} is far too large to train from scratch on a laptop: "
            "turn on transfer learning (train only its last layer)."
        )


def _transfer_module(
    config: TrainConfig, num_classes: int, base: Model | None = None
) -> tuple[nn.Module, str, str]:
    """The architecture (or your own ``base`` model, copied) with its trained weights frozen and
    a new last layer (a ``Linear``, or a 1x1 convolution where that is the head).

    Returns:
        The module, the name of its new last layer, and where the frozen weights came from.
    """
    if base is None:
        base = load_model(config.arch, weights="auto")
        module = base.module
    else:
        module = copy.deepcopy(base.module)  # the shared model stays as it is
    head_name = head_layer(module)
    if head_name is None:
        raise InputError(f"{base.spec.label} has no last Linear or 1x1 convolution to replace.")
    old = module.get_submodule(head_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = (
            nn.Linear(old.in_features, num_classes)
            if isinstance(old, nn.Linear)
            else nn.Conv2d(old.in_channels, num_classes, 1)
        )
    module.set_submodule(head_name, head)
    for name, param in module.named_parameters():
        param.requires_grad_(name.startswith(head_name + "."))
    source = (
        "random weights (no trained weights are on this machine, so the frozen layers detect "
        "nothing useful)"
        if base.weights == "random"
        else f"{base.weights} weights"
    )
    return module, head_name, source


def _train_mode(module: nn.Module, head: str | None) -> None:
    """Training mode; with transfer learning only the new head trains (frozen batch norm stats)."""
    if head is None:
        module.train()
    else:
        module.eval()
        module.get_submodule(head).train()


def train(
    config: TrainConfig | None = None,
    *,
    data: Dataset | None = None,
    stop: threading.Event | None = None,
    base: Model | None = None,
    **options: Any,
) -> Iterator[TrainEvent]:
    """Train ``config.arch`` on ``config.dataset``, yielding events as it goes.

    Args:
        config: What and how to train (default :class:`TrainConfig`); ``options`` override
            its fields, so ``train(arch="lenet5", epochs=3)`` works.
        data: An already loaded :class:`cnnviz.data.Dataset` at the model's input size
            (default: load ``config.dataset``).
        stop: Set it (from another thread) to end the run after the current batch.
        base: Your own model (:func:`cnnviz.Model.from_module`, an ONNX file, timm) to train by
            transfer instead of ``config.arch``: a copy with a new head, the rest frozen.

    Yields:
        :class:`StepEvent` after each batch, :class:`EpochEvent` after each epoch, and one
        :class:`DoneEvent` last. A run whose loss blows up (see
        :mod:`cnnviz.training.divergence`) ends early with a ``"diverged"`` DoneEvent whose
        model holds the weights of the epoch with the best validation accuracy (the initial
        weights if no epoch finished); call its :meth:`DoneEvent.raise_for_status` to get a
        :class:`~cnnviz.errors.TrainingDiverged` instead.

    Raises:
        InputError: Bad settings or a data set that cannot be had. Divergence is not raised
            here: the caller gets the kept model and the history in the DoneEvent.
    """
    config = replace(config or TrainConfig(), **options)
    _check(config, base)
    spec = base.spec if base is not None else MODELS[config.arch]
    if data is None:
        data = load_dataset(
            config.dataset, size=spec.input_size, channels=spec.channels,
            val_fraction=config.val_fraction, seed=config.seed,
        )  # fmt: skip
    train_x, train_y, val_x = data.train_x, data.train_y, data.val_x
    if config.train_subset:
        train_x, train_y = train_x[: config.train_subset], train_y[: config.train_subset]
    head, origin = None, ""
    if config.transfer:
        module, head, origin = _transfer_module(config, len(data.classes), base)
    else:
        module = build_module(
            config.arch, num_classes=len(data.classes), seed=config.seed, variant=config.variant
        )
    # With transfer learning nothing outside the new head changes (frozen weights, and batch
    # norm statistics kept in eval mode): epoch snapshots share those tensors instead of copying.
    frozen = frozenset(
        k for k in module.state_dict() if head is not None and not k.startswith(head + ".")
    )
    trainable = [p for p in module.parameters() if p.requires_grad]
    tracked = _tracked(module)
    optimizer = _optimizer(config, trainable)
    per_epoch = math.ceil(len(train_x) / config.batch_size)
    scheduler = _scheduler(config, optimizer, per_epoch * config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[EpochEvent] = []
    initial = _snapshot(module, frozen)
    watch = DivergenceWatch(len(data.classes))
    step, start, seen = 0, time.perf_counter(), 0
    status, message = "done", ""
    for epoch in range(1, config.epochs + 1):
        _train_mode(module, head)
        order = torch.randperm(len(train_x), generator=generator)
        loss_sum, correct = 0.0, 0
        grad_sum = torch.zeros(len(tracked), dtype=torch.float64)
        for first in range(0, len(order), config.batch_size):
            index = order[first : first + config.batch_size]
            x, y = train_x[index], train_y[index]
            if config.augment:
                x = augment(x, config.augment, generator)
            logits = module(_normalize(x, spec))
            loss = F.cross_entropy(logits, y)
            loss_value = float(loss.detach())
            if watch.update(loss_value):
                status = "diverged"
                break
            lr = optimizer.param_groups[0]["lr"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                grad_sum += _grad_norms(tracked)
            optimizer.step()
            scheduler.step()
            step += 1
            seen += len(index)
            loss_sum += loss_value * len(index)
            hits = int((logits.argmax(1) == y).sum())
            correct += hits
            elapsed = time.perf_counter() - start
            yield StepEvent(
                epoch, step, per_epoch * config.epochs, loss_value,
                hits / len(index), seen / max(elapsed, 1e-9), elapsed, lr,
            )  # fmt: skip
            if stop is not None and stop.is_set():
                status = "stopped"
                message = f"Stopped by you at epoch {epoch}, step {step}; the model is kept."
                break
        if status != "done":
            break
        val_loss, val_accuracy = _evaluate(module, val_x, data.val_y, 256, spec)
        mean_norms = (grad_sum / max(1, per_epoch)).tolist()
        event = EpochEvent(
            epoch, config.epochs, loss_sum / max(1, len(order)), correct / max(1, len(order)),
            val_loss, val_accuracy, _snapshot(module, frozen),
            dict(zip((name for name, _ in tracked), mean_norms, strict=True)),
        )  # fmt: skip
        history.append(event)
        yield event
    if status == "diverged":
        best = best_epoch(history)
        module.load_state_dict(initial if best is None else best.state_dict)
        message = diverged_message(watch, config.lr, f"epoch {epoch}, step {step + 1}", best)
    elif status == "done":
        final = history[-1]
        message = (
            f"Trained {plural(config.epochs, 'epoch')}: {final.val_accuracy:.1%} validation "
            f"accuracy (loss {final.val_loss:.3f})."
        )
    if head is not None:
        message += f" Only the new last layer ({head}) learned; the rest kept its {origin}."
        module.requires_grad_(True)
    model = _as_model(module, config, data, message, spec)
    yield DoneEvent(status, message, model, tuple(history))


def _as_model(
    module: nn.Module, config: TrainConfig, data: Dataset, message: str, spec: ModelSpec
) -> Model:
    digest = hashlib.sha256(
        b"".join(t.detach().reshape(-1).view(torch.uint8).numpy().tobytes()
                 for t in module.state_dict().values())
    ).hexdigest()[:12]  # fmt: skip
    source = f"Trained in cnnviz on {data.name}. {message}"
    return Model(
        module.eval(), spec, data.classes, "trained", source, f"{spec.name}:trained:{digest}",
    )  # fmt: skip


def save_checkpoint(
    model: Model,
    target: str | os.PathLike[str] | io.BufferedIOBase,
    config: TrainConfig | None = None,
    history: tuple[EpochEvent, ...] = (),
) -> None:
    """Save a model as a state dict with metadata, loadable by ``cnnviz.load_model``.

    The file holds only tensors and plain values (``{"state_dict": ..., "meta": ...}``), so it
    loads with ``torch.load(..., weights_only=True)``: architecture, classes, preprocessing
    (input size, channels, mean, std), the training settings and the per-epoch history.
    """
    spec = model.spec
    meta = {
        "arch": spec.name,
        "classes": list(model.labels),
        "input_size": spec.input_size,
        "channels": spec.channels,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "config": asdict(config) if config is not None else {},
        "variant": asdict(config.variant) if config is not None else {},
        "history": [{k: v for k, v in asdict(e).items() if k != "state_dict"} for e in history],
    }
    state = {k: v.detach().cpu().clone() for k, v in model.module.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, target)
