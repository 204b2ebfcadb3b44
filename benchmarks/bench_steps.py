"""Benchmark: time and bytes to build the step animation of a 3x3 convolution.

For 5x5, 28x28 and 64x64 inputs (random, one channel, 3x3 Sobel kernel, stride 1, no padding)
prints medians of:
  * conv2d     F.conv2d alone (the floor: the arithmetic itself),
  * steps      cnnviz.conv_steps (output + every window),
  * player     conv_steps + conv_player + the JSON Streamlit sends to the step player,
and the JSON size in bytes (what the browser receives), the steps sent, and the thinning
(every r-th row and column of positions). Also the pooling player (2x2, stride 2) and the
GIF export of each size, timed once. (Until 2026-12 the animation was a plotly figure with
frames: 28x28 took about 160 kB and needed plotly.js, 4.6 MB, in the browser.)
Targets (issue 5): 28x28 <= 1 MB and <= 300 ms; larger inputs degrade gracefully.

Run: .venv/bin/python benchmarks/bench_steps.py [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from timing import median_ms

from cnnviz.figures.animation import conv_gif, conv_player, frame_positions, pool_player
from cnnviz.steps import conv_steps, kernel, pool_steps

SIZES = (5, 28, 64)


def once_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def bench(side: int, repeats: int) -> dict[str, float]:
    x = np.random.default_rng(side).random((side, side))
    w = kernel("sobel_x")
    xt, wt = torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None]

    def sent() -> str:
        return json.dumps(conv_player(conv_steps(x, w)).data())

    result = conv_steps(x, w)
    pooled = pool_steps(x, "max", 2)
    return {
        "conv2d": median_ms(lambda: F.conv2d(xt, wt), repeats),
        "steps": median_ms(lambda: conv_steps(x, w), repeats),
        "player": median_ms(sent, repeats),
        "bytes": len(sent()),
        "frames": conv_player(result).steps,
        "every": frame_positions(*result.out_shape)[1],
        "pool": median_ms(lambda: json.dumps(pool_player(pooled).data()), repeats),
        "pool_bytes": len(json.dumps(pool_player(pooled).data())),
        "gif": once_ms(lambda: conv_gif(result)),
        "gif_bytes": len(conv_gif(result)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        # On a busy 2-core machine a 5x5 F.conv2d took 7.6 ms with 2 threads, 0.01 ms with 1.
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    header = (
        f"{'input':>7} {'steps':>6} {'every':>5} {'conv2d ms':>9} {'steps ms':>8} "
        f"{'player ms':>9} {'player/floor':>12} {'JSON bytes':>10} "
        f"{'pool ms':>7} {'pool bytes':>10} {'GIF ms':>7} {'GIF bytes':>9}"
    )
    print(header)
    print("-" * len(header))
    for side in SIZES:
        r = bench(side, args.repeats)
        print(
            f"{side:>3}x{side:<3} {r['frames']:>6} {r['every']:>5} {r['conv2d']:>9.3f} "
            f"{r['steps']:>8.2f} {r['player']:>9.1f} {r['player'] / r['conv2d']:>12.0f} "
            f"{r['bytes']:>10,} "
            f"{r['pool']:>7.1f} {r['pool_bytes']:>10,} {r['gif']:>7.0f} {r['gif_bytes']:>9,}"
        )
    print("\ntargets: 28x28 player <= 300 ms and <= 1,000,000 JSON bytes")


if __name__ == "__main__":
    main()
