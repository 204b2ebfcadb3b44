"""Benchmark: cost of cnnviz.probe vs a bare forward, and of drawing each layer's grid.

For resnet18 and vgg16 (random weights, 224 x 224, CPU) prints medians of:
  * bare      model(x) under torch.inference_mode (the floor),
  * probe     cnnviz.probe(model, image): preprocessing + one recorded forward + the top-5,
  * fx peer   torchvision's create_feature_extractor returning every leaf module's output,
and, for every main layer with maps, the time to build its on-screen grid (up to 64 channels,
as the Feature maps page shows it) including the JPEG encoding the browser receives.
Targets (issue 2): probe <= 1.15x bare; a layer's grid <= 150 ms.
Each model is measured twice: with glibc's default allocator, then after
cnnviz.retain_freed_memory() (what the app does at start; see its docstring).

Run: .venv/bin/python benchmarks/bench_probe.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from timing import median_ms
from torchvision.models.feature_extraction import create_feature_extractor

import cnnviz
from cnnviz import figures


def bench_model(name: str, repeats: int) -> dict[str, object]:
    model = cnnviz.load_model(name, "random")
    image = cnnviz.load_sample("chelsea")
    x = model.preprocess(image)
    module = model.module

    def bare() -> None:
        with torch.inference_mode():
            module(x)

    leaves = [n for n, m in module.named_modules() if n and not any(m.children())]
    extractor = create_feature_extractor(module, return_nodes=leaves)

    def fx() -> None:
        with torch.inference_mode():
            extractor(x)

    # Interleave the three calls, so that drift in machine load hits all of them alike.
    for fn in (bare, lambda: cnnviz.probe(model, image), fx):
        fn()
        fn()
    t_bare, t_probe, t_fx = [], [], []
    for _ in range(repeats):
        for times, fn in (
            (t_bare, bare),
            (t_probe, lambda: cnnviz.probe(model, image)),
            (t_fx, fx),
        ):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    probe = cnnviz.probe(model, image)
    grids = {}
    for layer in (x for x in probe.layers if x.is_main and x.is_map):
        order = figures.channel_order(layer)[:64]
        grids[layer.name] = median_ms(
            lambda layer=layer, order=order: figures.to_jpeg(
                figures.feature_grid(layer.output, order).image
            ),
            repeats=3,
            warmup=1,
        )
    return {
        "bare": statistics.median(t_bare),
        "probe": statistics.median(t_probe),
        "fx": statistics.median(t_fx),
        "layers": len(probe.layers),
        "grids": grids,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--models", nargs="+", default=["resnet18", "vgg16"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    header = (
        f"{'model':<10} {'memory':<8} {'layers':>6} {'bare ms':>8} {'probe ms':>9} "
        f"{'probe/bare':>10} {'fx ms':>7} {'fx/bare':>8} {'grid median':>11} {'grid max':>9} "
        f"{'slowest grid':>16}"
    )
    print(header)
    print("-" * len(header))
    for allocator in ("default", "retain"):
        if allocator == "retain":
            cnnviz.retain_freed_memory()  # what the app does at start
        for name in args.models:
            r = bench_model(name, args.repeats)
            grids: dict[str, float] = r["grids"]  # type: ignore[assignment]
            slowest = max(grids, key=grids.__getitem__)
            print(
                f"{name:<10} {allocator:<8} {r['layers']:>6} {r['bare']:>8.1f} "
                f"{r['probe']:>9.1f} {r['probe'] / r['bare']:>10.2f} {r['fx']:>7.1f} "
                f"{r['fx'] / r['bare']:>8.2f} {statistics.median(grids.values()):>9.1f}ms "
                f"{grids[slowest]:>7.1f}ms {slowest:>16}"
            )
    print("\ntargets: probe/bare <= 1.15, grid max <= 150 ms")


if __name__ == "__main__":
    main()
