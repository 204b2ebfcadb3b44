"""Benchmark: the lessons' heavy steps on LeNet-5 (the bundled digits), against a floor.

Prints medians of:
  * floor      one bare forward + backward of LeNet-5 to its 32x32 input (no cnnviz),
  * fgsm       cnnviz.attack(..., "fgsm"): view, one gradient step, 8-bit image, before/after,
  * fgsm page  the same plus what the Adversarial page draws (three-picture montage as JPEG),
  * pgd        cnnviz.attack(..., "pgd") (10 steps),
  * maximize   cnnviz.maximize of one LeNet-5 channel (features.c3 #0) at 64 (the page's
               default) and 96 steps, against the floor times the number of steps,
  * rates      the Adversarial page's success-rate curves (2 attacks x 13 epsilons over the
               10 bundled digits, one batch each), timed once,
each with its ratio to the floor. Targets (issue 12): FGSM page < 0.5 s, one channel < 5 s.

Run: .venv/bin/python benchmarks/bench_lessons.py [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import time

import torch
from timing import median_ms

import cnnviz
from cnnviz import figures
from cnnviz.explain import MaximizeOptions, attack_success, maximize
from cnnviz.ui.adversarial_views import EPSILONS, _triple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = cnnviz.load_model("lenet5")
    image = cnnviz.load_sample("digit_3")
    digits = [cnnviz.load_sample(f"digit_{d}") for d in range(10)]
    x = model.preprocess(image)

    def floor() -> None:
        xi = x.clone().requires_grad_(True)
        model.module(xi).max().backward()

    base = median_ms(floor, args.repeats * 5, warmup=3)
    rows = [("floor (forward + backward)", base, 1.0)]

    def page() -> bytes:
        a = cnnviz.attack(model, image, "fgsm", 0.1)
        return figures.to_jpeg(_triple(a))

    for name, fn, reps in (
        ("fgsm", lambda: cnnviz.attack(model, image, "fgsm", 0.1), args.repeats),
        ("fgsm page (attack + montage JPEG)", page, args.repeats),
        ("pgd (10 steps)", lambda: cnnviz.attack(model, image, "pgd", 0.1), args.repeats),
    ):
        ms = median_ms(fn, reps)
        rows.append((name, ms, ms / base))
    for steps in (64, 96):
        options = MaximizeOptions(steps=steps)
        ms = median_ms(lambda o=options: maximize(model, "features.c3", 0, o), 3)
        rows.append((f"maximize 1 channel, {steps} steps", ms, ms / (base * steps)))
    start = time.perf_counter()
    for method in ("fgsm", "pgd"):
        for eps in EPSILONS:
            attack_success(model, digits, method, eps)
    ms = (time.perf_counter() - start) * 1000
    rows.append(("success-rate curves (26 batches of 10)", ms, ms / base))

    print(f"torch threads {torch.get_num_threads()}, repeats {args.repeats}")
    print(f"{'step':42s} {'median ms':>10s} {'ratio':>8s}")
    for name, ms, ratio in rows:
        print(f"{name:42s} {ms:10.1f} {ratio:8.1f}")
    print("ratio: to the floor; for maximize, to the floor times its steps")


if __name__ == "__main__":
    main()
