"""Benchmark: cnnviz.train against a bare PyTorch loop, and time for LeNet-5 to learn the digits.

1. Throughput: samples/s of ``cnnviz.train`` vs a bare loop (same model, data, batch size,
   optimizer, threads; no events, no metrics). Target (issue 3): ratio >= 0.90.
2. Time to 97%: the shipped recipe (lenet5, digits, Adam + one-cycle 3e-3, batch 32) until the
   validation accuracy first reaches 97%, with and without loading the data. Target: <= 30 s.
3. TensorBoard: samples/s of ``cnnviz.train`` with its events written as TensorBoard logs
   (``write_tensorboard``: 3 scalars a step, 4 scalars and the filter image an epoch) vs without.
   Target (issue 9): ratio >= 0.95.

Run: .venv/bin/python benchmarks/bench_training.py
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch
import torch.nn.functional as F  # noqa: N812

import cnnviz
from cnnviz.data import load_dataset
from cnnviz.models import MODELS, build_module
from cnnviz.training import EpochEvent, StepEvent, train, write_tensorboard

EPOCHS = 3
BATCH = 64


def bare_loop(data) -> float:
    """Samples per second of a plain loop over the same tensors."""
    spec = MODELS["lenet5"]
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    x = (data.train_x.float() / 255.0 - mean) / std
    y = data.train_y
    module = build_module("lenet5", num_classes=10)
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    seen, start = 0, time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for first in range(0, len(order), BATCH):
            index = order[first : first + BATCH]
            loss = F.cross_entropy(module(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(index)
    return seen / (time.perf_counter() - start)


def cnnviz_loop(data, tensorboard: bool = False) -> float:
    """Samples per second of cnnviz.train, from its own step events (wall time since the start,
    so time spent by the consumer, e.g. writing TensorBoard logs, counts)."""
    last = None
    with tempfile.TemporaryDirectory() as logdir:
        events = train(arch="lenet5", data=data, epochs=EPOCHS, batch_size=BATCH)
        if tensorboard:
            events = write_tensorboard(events, logdir)
        for event in events:
            if isinstance(event, StepEvent):
                last = event
    assert last is not None
    return last.samples_per_s


def time_to_97() -> tuple[float, float, int, float]:
    start = time.perf_counter()
    data = load_dataset("digits", size=32, channels=1)
    loaded = time.perf_counter()
    recipe = {"epochs": 20, "batch_size": 32, "lr": 3e-3, "schedule": "onecycle"}
    for event in train(arch="lenet5", data=data, **recipe):
        if isinstance(event, EpochEvent) and event.val_accuracy >= 0.97:
            now = time.perf_counter()
            return now - start, now - loaded, event.epoch, event.val_accuracy
    return float("nan"), float("nan"), -1, 0.0


def main() -> None:
    print(
        f"cnnviz {cnnviz.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    data = load_dataset("digits", size=32, channels=1)
    bare, ours = [], []
    for _ in range(3):  # interleaved, so that load drift hits both alike
        bare.append(bare_loop(data))
        ours.append(cnnviz_loop(data))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"\nthroughput, lenet5 on digits 32x32, batch {BATCH}, {EPOCHS} epochs, median of 3")
    print(f"{'loop':<14} {'samples/s':>10} {'ratio':>7}")
    print(f"{'bare PyTorch':<14} {b:>10,.0f} {1.0:>7.2f}")
    print(f"{'cnnviz.train':<14} {o:>10,.0f} {o / b:>7.2f}   (target >= 0.90)")
    plain, logged = [], []
    for _ in range(3):
        plain.append(cnnviz_loop(data))
        logged.append(cnnviz_loop(data, tensorboard=True))
    p, q = statistics.median(plain), statistics.median(logged)
    print("\nTensorBoard logging, same run, median of 3")
    print(f"{'cnnviz.train':<26} {p:>10,.0f} {1.0:>7.2f}")
    print(f"{'+ write_tensorboard':<26} {q:>10,.0f} {q / p:>7.2f}   (target >= 0.95)")
    total, training, epoch, accuracy = time_to_97()
    print("\ntime to >= 97% validation accuracy (shipped recipe)")
    print(
        f"  epoch {epoch}, {accuracy:.1%}: {training:.1f} s training, "
        f"{total:.1f} s with data loading"
    )
    print("  target <= 30 s")


if __name__ == "__main__":
    main()
