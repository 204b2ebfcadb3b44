"""Benchmark: milliseconds per attribution map, cnnviz vs captum vs pytorch-grad-cam vs a floor.

For resnet18 and vgg16 (random weights, 224 x 224, CPU) prints medians of:
  * ours      cnnviz.explain(model, x, method): the heatmap at input size in [0, 1] plus the
              signed map, as numpy (the input tensor is given, so no image decoding),
  * captum    captum's own attribute() call on the same input, class and layer (its raw output),
  * pgc       pytorch-grad-cam's GradCAM / GuidedBackpropReLUModel call (its scaled map),
  * floor     the least work the map needs: one forward plus one backward to the one tensor
              needed (the layer's maps for Grad-CAM, the input for saliency), no weight gradients.
Calls are interleaved, so drifting machine load hits all of them alike. Slow methods (SmoothGrad
16 samples, Integrated Gradients 32 steps, occlusion) run --slow-repeats times.
Targets (issue 4): Grad-CAM and saliency ours/captum <= 1.0 and ours/floor <= 1.3.

Run: .venv/bin/python benchmarks/bench_explain.py [--repeats N] [--slow-repeats N]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import nn

import cnnviz
from cnnviz.explain import default_cam_layer, explain, method_names

SLOW = ("smoothgrad", "integrated_gradients", "occlusion")


def captum_call(method: str, module: nn.Module, layer: nn.Module, x: torch.Tensor, target: int):
    from captum.attr import (
        GuidedBackprop,
        GuidedGradCam,
        IntegratedGradients,
        LayerGradCam,
        NoiseTunnel,
        Occlusion,
        Saliency,
    )

    calls = {
        "gradcam": lambda: LayerGradCam(module, layer).attribute(
            x, target=target, relu_attributions=True
        ),
        "guided_gradcam": lambda: GuidedGradCam(module, layer).attribute(x, target=target),
        "saliency": lambda: Saliency(module).attribute(x, target=target),
        "smoothgrad": lambda: NoiseTunnel(Saliency(module)).attribute(
            x, nt_type="smoothgrad", nt_samples=16, nt_samples_batch_size=8, stdevs=0.5,
            target=target,
        ),
        "integrated_gradients": lambda: IntegratedGradients(module).attribute(
            x, target=target, n_steps=32, internal_batch_size=16
        ),
        "guided_backprop": lambda: GuidedBackprop(module).attribute(x, target=target),
        "occlusion": lambda: Occlusion(module).attribute(
            x, sliding_window_shapes=(3, 32, 32), strides=(3, 16, 16), target=target,
            perturbations_per_eval=16,
        ),
    }  # fmt: skip
    return calls[method]


def pgc_call(method: str, module: nn.Module, layer: nn.Module, x: torch.Tensor, target: int):
    from pytorch_grad_cam import GradCAM, GuidedBackpropReLUModel
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if method == "gradcam":
        cam = GradCAM(module, target_layers=[layer])
        return lambda: cam(x, targets=[ClassifierOutputTarget(target)])
    if method == "guided_backprop":
        guided = GuidedBackpropReLUModel(module, device="cpu")
        return lambda: guided(x, target_category=target)
    return None


def floor_call(method: str, module: nn.Module, layer: nn.Module, x: torch.Tensor, target: int):
    """One forward and one backward to the needed tensor, parameters frozen."""
    if method == "saliency":

        def saliency() -> None:
            leaf = x.clone().requires_grad_(True)
            torch.autograd.grad(module(leaf)[0, target], leaf)

        return saliency
    if method == "gradcam":

        def gradcam() -> None:
            kept = []

            def hook(m, args, out):
                kept.append(out.detach().requires_grad_(True))
                return kept[-1]

            handle = layer.register_forward_hook(hook)
            try:
                score = module(x)[0, target]
            finally:
                handle.remove()
            torch.autograd.grad(score, kept[-1])

        return gradcam
    return None


def interleaved(
    calls: dict[str, Callable[[], object]], repeats: int, warmup: bool = True
) -> dict[str, float]:
    if warmup:
        for fn in calls.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_model(
    name: str, repeats: int, slow_repeats: int, skip_slow: bool = False
) -> Iterator[tuple[str, dict[str, float]]]:
    model = cnnviz.load_model(name, "random")
    x = model.preprocess(cnnviz.load_sample("chelsea"))
    target = int(explain(model, x, "saliency").target)
    layer_name = default_cam_layer(model)
    peer = copy.deepcopy(model.module).eval()  # peers may fill .grad or leave hooks behind
    peer_layer = peer.get_submodule(layer_name)
    frozen = copy.deepcopy(model.module).eval().requires_grad_(False)
    frozen_layer = frozen.get_submodule(layer_name)
    for method in method_names():
        slow = method in SLOW
        if slow and skip_slow:
            continue
        options = {"samples": 16} if method == "smoothgrad" else {}
        calls: dict[str, Callable[[], object]] = {
            "ours": lambda m=method, o=options: explain(model, x, m, target, layer_name, **o)
        }
        captum = captum_call(method, peer, peer_layer, x, target)
        calls["captum"] = captum
        pgc = pgc_call(method, peer, peer_layer, x, target)
        if pgc is not None:
            calls["pgc"] = pgc
        floor = floor_call(method, frozen, frozen_layer, x, target)
        if floor is not None:
            calls["floor"] = floor
        if slow:
            calls = {k: v for k, v in calls.items() if k in ("ours", "captum")}
        # Slow methods run long enough to need no warm-up (the fast ones warmed everything).
        yield method, interleaved(calls, slow_repeats if slow else repeats, warmup=not slow)
        for p in peer.parameters():
            p.grad = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--slow-repeats", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["resnet18", "vgg16"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: as set)")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the slow methods")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, 224 x 224\n")
    header = (
        f"{'model':<9} {'method':<21} {'ours ms':>8} {'captum ms':>10} {'pgc ms':>8} "
        f"{'floor ms':>9} {'ours/captum':>11} {'ours/pgc':>9} {'ours/floor':>10}"
    )
    print(header)
    print("-" * len(header))

    def cell(value: float | None, width: int, digits: int = 1) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    for name in args.models:
        for method, r in bench_model(name, args.repeats, args.slow_repeats, args.skip_slow):
            ours, captum, pgc, floor = (r.get(k) for k in ("ours", "captum", "pgc", "floor"))
            print(
                f"{name:<9} {method:<21} {cell(ours, 8)} {cell(captum, 10)} {cell(pgc, 8)} "
                f"{cell(floor, 9)} {cell(ours / captum if captum else None, 11, 2)} "
                f"{cell(ours / pgc if pgc else None, 9, 2)} "
                f"{cell(ours / floor if floor else None, 10, 2)}",
                flush=True,
            )
    print("\ntargets: gradcam and saliency ours/captum <= 1.0 and ours/floor <= 1.3")


if __name__ == "__main__":
    main()
