"""Benchmark: what the out-of-domain check adds to showing a prediction.

For each (model, image) pair a page meets, prints medians of:
  * forward   model(x) under torch.inference_mode, x preprocessed (the floor a prediction needs),
  * probe     cnnviz.probe(model, image): what the page computes anyway,
  * domain    cnnviz.domain_check(model, image): the check Home adds beside "It sees ...",
and the ratios domain / forward and domain / probe. Target (issue 9): at most 3 ms per image
whatever its size (it reads a 64 x 64 thumbnail), so it is noise beside an ImageNet probe; beside
LeNet-5's tiny probe (~4 ms) it is a third to a half, still far under the 0.38 s of server CPU
that a fresh Streamlit session costs.
The images are the bundled samples at their own size (a 451 x 300 photo, a 32 x 32 digit, a
64 x 64 shape) and a 4000 x 3000 photo, the size of a phone picture.

Run: .venv/bin/python benchmarks/bench_domain.py [--repeats N]
"""

from __future__ import annotations

import argparse

import torch
from PIL import Image
from timing import median_ms

import cnnviz

PAIRS = (
    ("lenet5", "coffee"),
    ("lenet5", "digit_3"),
    ("tinyvgg", "shape_ring"),
    ("resnet18", "chelsea"),
    ("resnet18", "digit_3"),
    ("resnet18", "phone"),
)


def image_for(key: str) -> Image.Image:
    if key == "phone":  # a 12-megapixel photo: the largest a student's phone sends
        return cnnviz.load_sample("chelsea").resize((4000, 3000), Image.Resampling.BILINEAR)
    return cnnviz.load_sample(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    repeats = parser.parse_args().repeats
    torch.set_num_threads(2)
    models: dict[str, cnnviz.Model] = {}
    print(
        f"{'model':10} {'image':12} {'forward':>9} {'probe':>9} {'domain':>9} "
        f"{'dom/fwd':>8} {'dom/probe':>9}  verdict"
    )
    for name, key in PAIRS:
        model = models.setdefault(name, cnnviz.load_model(name, "pretrained" if name in (
            "lenet5", "tinyvgg") else "random"))  # fmt: skip
        image = image_for(key)
        x = model.preprocess(image)

        def forward(module: torch.nn.Module = model.module, x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                module(x)

        fwd = median_ms(forward, repeats)
        probe = median_ms(lambda m=model, i=image: cnnviz.probe(m, i), max(5, repeats // 3))
        domain = median_ms(lambda m=model, i=image: cnnviz.domain_check(m, i), repeats)
        verdict = "fits" if cnnviz.domain_check(model, image).in_domain else "out of domain"
        print(
            f"{name:10} {key:12} {fwd:8.2f}ms {probe:8.2f}ms {domain:8.2f}ms "
            f"{domain / fwd:8.2f} {domain / probe:9.2f}  {verdict}"
        )


if __name__ == "__main__":
    main()
