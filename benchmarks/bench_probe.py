"""Benchmark: cost of cnnviz.probe vs a bare forward, and of drawing each layer's grid.

For resnet18 and vgg16 (random weights, 224 x 224, CPU) prints medians of:
  * bare      model(x) under torch.inference_mode (the floor),
  * probe     cnnviz.probe(model, image): preprocessing + one recorded forward + the top-5,
  * fx peer   torchvision's create_feature_extractor returning every leaf module's output,
and, for every main layer with maps, the time to build its on-screen grid (up to 64 channels,
as the Feature maps page shows it) including the PNG encoding the browser receives.
Targets (issue 2): probe <= 1.15x bare; a layer's grid <= 150 ms.

Run: .venv/bin/python benchmarks/bench_probe.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torchvision.models.feature_extraction import create_feature_extractor

import cnnviz
from cnnviz import figures


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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

    # Interleave the measurements so that drift in machine load hits all of them alike.
    t_bare, t_probe, t_fx = [], [], []
    for _ in range(3):
        t_bare.append(median_ms(bare, repeats))
        t_probe.append(median_ms(lambda: cnnviz.probe(model, image), repeats))
        t_fx.append(median_ms(fx, repeats))
    probe = cnnviz.probe(model, image)
    grids = {}
    for layer in (x for x in probe.layers if x.is_main and x.is_map):
        order = figures.channel_order(layer)[:64]
        grids[layer.name] = median_ms(
            lambda layer=layer, order=order: figures.to_png(
                figures.feature_grid(layer.output, order).image
            ),
            repeats=3,
            warmup=1,
        )
    return {
        "bare": min(t_bare),
        "probe": min(t_probe),
        "fx": min(t_fx),
        "layers": len(probe.layers),
        "grids": grids,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["resnet18", "vgg16"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    header = (
        f"{'model':<10} {'layers':>6} {'bare ms':>8} {'probe ms':>9} {'probe/bare':>10} "
        f"{'fx ms':>7} {'fx/bare':>8} {'grid median':>11} {'grid max':>9} {'slowest grid':>16}"
    )
    print(header)
    print("-" * len(header))
    for name in args.models:
        r = bench_model(name, args.repeats)
        grids: dict[str, float] = r["grids"]  # type: ignore[assignment]
        slowest = max(grids, key=grids.__getitem__)
        print(
            f"{name:<10} {r['layers']:>6} {r['bare']:>8.1f} {r['probe']:>9.1f} "
            f"{r['probe'] / r['bare']:>10.2f} {r['fx']:>7.1f} {r['fx'] / r['bare']:>8.2f} "
            f"{statistics.median(grids.values()):>9.1f}ms {grids[slowest]:>7.1f}ms "
            f"{slowest:>16}"
        )
    print("\ntargets: probe/bare <= 1.15, grid max <= 150 ms")


if __name__ == "__main__":
    main()
