"""The ``cnnviz`` command: start the app, fetch weights, list models, probe an image.

cnnviz run [streamlit options]       start the app (same as `make run`)
cnnviz run --model pkg.mod:factory [--weights FILE] [--labels FILE]
                                     ... with your own model in every session's sidebar
                                     (or --model timm:convnext_tiny)
cnnviz models                        list the architectures and whether weights are here
cnnviz download-weights resnet18 ... put torchvision's ImageNet weights in the torch cache
cnnviz probe IMAGE --model lenet5    print every layer's shape and the top-5 predictions
                                     (--model: a registry name, timm:<name>, pkg.mod:factory
                                     or a .onnx file; --weights .pt/.safetensors; --labels)
cnnviz train --epochs 3 --out x.pt   train a network (--logdir DIR: TensorBoard logs too)
cnnviz school start --replicas 2 --port 8500
                                     a school: N servers behind HAProxy (`make school`)
cnnviz school stop                   stop exactly what `school start` started
cnnviz school config --servers HOST:PORT,... --bind :8500
                                     print HAProxy's configuration for those servers

``cnnviz train`` exits with status 1 when the loss blows up, with the reason on stderr; with
``--out`` it then saves the weights of the best epoch (by validation accuracy), or nothing if no
epoch finished.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cnnviz
from cnnviz.errors import CnnvizError
from cnnviz.models.own import MODELS_ENV, OperatorModel, from_factory, operator_env
from cnnviz.nets import ACTIVATIONS
from cnnviz.training import (
    DoneEvent,
    EpochEvent,
    StepEvent,
    TrainConfig,
    save_checkpoint,
    train,
    write_tensorboard,
)
from cnnviz.training.augment import AUGMENTATIONS


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _progress_bar(label: str):
    def show(done: int, total: int | None) -> None:
        if total:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done / total:.0%}")
        else:
            sys.stderr.write(f"\r{label} {done / 2**20:.1f} MB")
        sys.stderr.flush()

    return show


def _run(extra: list[str], args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parents[1] / "serve.py"  # app.py, warmed up at start
    if not app.is_file():
        _out("serve.py is not beside the cnnviz package: run from a checkout of the repository.")
        return 2
    env = dict(os.environ)
    if args.model:
        own = OperatorModel(
            args.model,
            str(Path(args.weights).resolve()) if args.weights else None,
            str(Path(args.labels).resolve()) if args.labels else None,
        )
        if own.target.startswith("timm:") and not own.weights:
            _fetch_timm(own.target)
        model = own.build()  # at start-up: a factory that fails says so here, not in a page
        _out(f"{own.target}: {model.spec.label}, input {' x '.join(map(str, model.input_size))}, "
             f"{len(model.labels)} classes, in every session's sidebar")  # fmt: skip
        env[MODELS_ENV] = operator_env([own])
    elif args.weights or args.labels:
        _out("--weights and --labels go with --model.")
        return 2
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), *extra], env=env)


def _models() -> int:
    for name in cnnviz.model_names():
        spec = cnnviz.MODELS[name]
        here = "weights here" if cnnviz.pretrained_available(name) else "random only"
        _out(f"{name:<20} {spec.label:<18} {spec.year}  {here}")
    return 0


def _download(names: list[str]) -> int:
    for name in names:
        path = cnnviz.download_weights(name, progress=_progress_bar(name))
        sys.stderr.write("\n")
        _out(f"{name}: {path}")
    return 0


def _fetch_timm(target: str) -> None:
    """Download a timm model's pretrained weights (timm shows the progress) unless offline."""
    from cnnviz.models.timm_models import load_timm
    from cnnviz.network import offline_by_choice

    if offline_by_choice():
        return
    try:
        load_timm(target, "pretrained")
    except CnnvizError as error:
        _out(f"{error} Starting with random weights.")


def _own_model(name: str, weights: str, labels: str | None) -> cnnviz.Model:
    """A registry name, ``timm:<name>``, ``package.module:factory`` or an ``.onnx`` file."""
    names = cnnviz.read_labels(labels) if labels else None
    if name.endswith(".onnx"):
        return cnnviz.load_onnx(name, labels=names)
    if name in cnnviz.MODELS:
        return cnnviz.load_model(name, weights, labels=names)
    if name.startswith("timm:") and weights in ("auto", "pretrained", "random") and not labels:
        return cnnviz.load_model(name, weights)
    if ":" in name:
        return from_factory(name, None if weights == "auto" else weights, labels)
    return cnnviz.load_model(name, weights)  # says which names exist


def _probe(image: str, model_name: str, weights: str, labels: str | None = None) -> int:
    model = _own_model(model_name, weights, labels)
    result = cnnviz.probe(model, cnnviz.load_image(image))
    _out(model.weights_source)
    for layer in result.layers:
        if layer.is_main:
            shape = " x ".join(map(str, layer.shape))
            _out(f"{layer.index:>4} {layer.name:<40} {layer.type_name:<18} {shape}")
    for p in result.predictions:
        _out(f"{p.probability:7.2%}  {p.label}")
    return 0


def _train(args: argparse.Namespace) -> int:
    config = TrainConfig(
        arch=args.arch, dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
        weight_decay=args.weight_decay, seed=args.seed, activation=args.activation,
        batch_norm=args.batch_norm, dropout=args.dropout, augment=tuple(args.augment),
        transfer=args.transfer, residual=args.residual or None, train_subset=args.train_subset,
    )  # fmt: skip
    data = None
    if args.folder is not None:  # your own images: one subfolder per class
        from cnnviz.data import load_dataset

        spec = cnnviz.MODELS[config.arch]
        config = replace(config, dataset="folder")
        data = load_dataset(
            "folder", folder=args.folder, size=spec.input_size, channels=spec.channels,
            val_fraction=config.val_fraction, seed=config.seed,
        )  # fmt: skip
    events = train(config, data=data)
    if args.logdir:
        events = write_tensorboard(events, args.logdir, config)
    for event in events:
        if isinstance(event, StepEvent):
            filled = int(30 * event.progress)
            sys.stderr.write(
                f"\repoch {event.epoch}/{config.epochs} [{'#' * filled}{'.' * (30 - filled)}] "
                f"loss {event.loss:.3f} {event.samples_per_s:,.0f} img/s"
            )
        elif isinstance(event, EpochEvent):
            sys.stderr.write("\n")
            _out(
                f"epoch {event.epoch}: train loss {event.train_loss:.3f}, "
                f"val loss {event.val_loss:.3f}, val accuracy {event.val_accuracy:.1%}"
            )
        elif isinstance(event, DoneEvent):
            return _finish_training(event, config, args)
    return 1


def _finish_training(done: DoneEvent, config: TrainConfig, args: argparse.Namespace) -> int:
    """Say how the run ended and save its model; a run that blew up raises TrainingDiverged."""
    if done.status != "diverged":
        _out(done.message)
    if args.logdir:
        _out(f"TensorBoard logs in {args.logdir} (to see them: tensorboard --logdir {args.logdir})")
    if args.out and done.status == "diverged" and done.best is None:
        sys.stderr.write(f"\nnothing saved to {args.out}: no epoch finished before the blow-up")
    elif args.out:
        save_checkpoint(done.model, args.out, config, done.kept_history)
        best = done.best if done.status == "diverged" else None
        _out(f"saved {args.out}" + (f" (epoch {best.epoch}, before the blow-up)" if best else ""))
    done.raise_for_status()
    return 0


def _school(args: argparse.Namespace) -> int:
    from cnnviz import school

    run_dir = Path(args.run_dir).resolve()
    if args.action == "stop":
        pids = school.stop(run_dir)
        _out(f"stopped {len(pids)} processes ({', '.join(map(str, pids))})" if pids
             else f"no school was running from {run_dir}")  # fmt: skip
        return 0
    if args.action == "config":
        servers = [s.rpartition(":") for s in args.servers.split(",") if s]
        replicas = [school.Replica(f"r{i}", host, int(port))
                    for i, (host, _, port) in enumerate(servers, 1)]  # fmt: skip
        text = school.render_config(replicas, args.bind)
        if args.out:
            Path(args.out).write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    options = school.SchoolOptions(args.replicas, args.port, args.host, run_dir)
    try:
        started = school.start(options)
    except CnnvizError:
        school.stop(run_dir)  # what did start, by its recorded pids
        raise
    pids = ", ".join(f"{p.name} {p.pid}" for p in started.processes)
    _out(f"{started.url}: {len(started.replicas)} replicas behind HAProxy (pids {pids}); "
         f"shared models in {started.shared}; logs in {run_dir / 'logs'}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cnnviz`` console script."""
    parser = argparse.ArgumentParser(prog="cnnviz", description="See how a CNN sees.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the app (extra options go to streamlit)")
    run.add_argument(
        "--model",
        help="your own model for every session: package.module:factory "
        "(installed code returning an nn.Module or cnnviz.Model) or timm:<name>",
    )
    run.add_argument("--weights", help="a .pt or .safetensors state dict for --model")
    run.add_argument("--labels", help="class names for --model: one per line, or JSON")
    sub.add_parser("models", help="list the architectures")
    download = sub.add_parser("download-weights", help="fetch pretrained ImageNet weights")
    download.add_argument("names", nargs="+", choices=[n for n, s in cnnviz.MODELS.items()
                                                       if s.is_torchvision])  # fmt: skip
    probe = sub.add_parser("probe", help="print every layer's output shape for an image")
    probe.add_argument("image")
    probe.add_argument(
        "--model",
        default="lenet5",
        help="a registry name, timm:<name>, package.module:factory or a .onnx file",
    )
    probe.add_argument(
        "--weights",
        default="auto",
        help="auto, pretrained, random or a .pt/.safetensors state dict",
    )
    probe.add_argument("--labels", help="class names: one per line, or JSON")
    fit = sub.add_parser("train", help="train a network and save a checkpoint")
    fit.add_argument("--arch", default="lenet5", choices=cnnviz.model_names())
    fit.add_argument("--dataset", default="digits")
    fit.add_argument("--folder", help="train on your images: a folder with one subfolder per class")
    fit.add_argument("--epochs", type=int, default=5)
    fit.add_argument("--batch-size", type=int, default=64)
    fit.add_argument("--optimizer", default="adam", choices=["sgd", "adam", "adamw"])
    fit.add_argument("--lr", type=float, default=1e-3)
    fit.add_argument("--schedule", default="constant",
                     choices=["constant", "step", "cosine", "onecycle"])  # fmt: skip
    fit.add_argument("--weight-decay", type=float, default=0.0)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--activation", choices=list(ACTIVATIONS), help="replace every activation")
    fit.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                     help="add (or with --no-batch-norm remove) batch norm")  # fmt: skip
    fit.add_argument("--dropout", type=float, default=0.0)
    fit.add_argument("--augment", nargs="*", default=[], choices=list(AUGMENTATIONS))
    fit.add_argument("--transfer", action="store_true",
                     help="freeze the trained weights and train only a new last layer")  # fmt: skip
    fit.add_argument("--residual", action="store_true",
                     help="deepnet only: add ResNet's shortcuts (ResNet-20's layout)")  # fmt: skip
    fit.add_argument("--train-subset", type=int, default=0, metavar="N",
                     help="learn from only the first N training images (0: all)")  # fmt: skip
    fit.add_argument("--out", help="checkpoint file to write (.pt)")
    fit.add_argument("--logdir", help="also write TensorBoard logs (loss, accuracy, learning "
                     "rate, first-layer filters) into this folder")  # fmt: skip
    school = sub.add_parser("school", help="N servers behind HAProxy, for a whole school")
    school.add_argument("action", choices=["start", "stop", "config"])
    school.add_argument("--replicas", type=int, default=2)
    school.add_argument("--port", type=int, default=8500, help="HAProxy's port (students')")
    school.add_argument("--host", default="0.0.0.0",
                        help="HAProxy's address (0.0.0.0: every interface)")  # fmt: skip
    school.add_argument("--run-dir", default=".school", help="pids, configuration and logs")
    school.add_argument("--servers", default="",
                        help="config: the replicas' HOST:PORT, comma-separated")  # fmt: skip
    school.add_argument("--bind", default=":8500", help="config: HAProxy's front address")
    school.add_argument("--out", help="config: write it to this file")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return _run(extra, args)
        if args.command == "models":
            return _models()
        if args.command == "download-weights":
            return _download(args.names)
        if args.command == "train":
            return _train(args)
        if args.command == "school":
            return _school(args)
        return _probe(args.image, args.model, args.weights, args.labels)
    except CnnvizError as error:
        sys.stderr.write(f"\ncnnviz: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
