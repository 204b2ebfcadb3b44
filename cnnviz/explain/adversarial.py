"""Adversarial examples: a change too small to see that makes the network say something else.

The attacks work in the image's own pixel range [0, 1] (before the model's normalization), with
the loss ``L`` the cross-entropy of the logits against a class ``y``:

* FGSM (Goodfellow et al., 2015), one step of size epsilon along the sign of the gradient::

      untargeted:  x' = clip(x + eps · sign(∇x L(x, y_pred)), 0, 1)     (away from the prediction)
      targeted:    x' = clip(x − eps · sign(∇x L(x, t)), 0, 1)          (towards class t)

* PGD (Madry et al., 2018): the same step, smaller (alpha = 2.5 · eps / steps), repeated, each
  time projected back into the box ``|x' − x| <= eps`` and [0, 1]. Here it starts at ``x``
  itself (no random start), so the result is the same every time.

The adversarial image is an 8-bit picture like the input: each pixel's change is rounded
towards zero to a whole step of 1/255, so the change stays within epsilon (and an epsilon under
1/255 changes nothing). Its prediction is the network's on that picture.

Written here rather than taken from ``torchattacks``: its last release (3.5.1) pins
``requests~=2.25.1`` and would downgrade requests and urllib3 to 2021 versions; the two attacks
are a few lines, tested against their definitions in ``tests/unit/test_explain_lessons.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the PyTorch convention
from PIL import Image

from cnnviz.errors import InputError
from cnnviz.explain.core import prepared, resolve_target
from cnnviz.models import Model
from cnnviz.probe import Prediction

__all__ = ["Attack", "AttackMethod", "attack", "attack_success"]

AttackMethod = Literal["fgsm", "pgd"]
PGD_STEPS = 10


@dataclass(frozen=True, slots=True)
class Attack:
    """One adversarial example.

    Attributes:
        method: ``"fgsm"`` or ``"pgd"``.
        epsilon: The largest change allowed per pixel, in [0, 1] (1 = black to white).
        target: The class the attack pushed towards, or ``None`` (away from the prediction).
        original: The image as the network saw it (mode ``L`` or ``RGB``, the input size).
        image: The adversarial image, same size and mode.
        perturbation: ``image − original`` in [−epsilon, epsilon], float32 (C, H, W).
        input: The adversarial image as the network's normalized input (1, C, H, W), for
            :func:`cnnviz.explain`.
        before: The top prediction on :attr:`original`.
        after: The top prediction on :attr:`image`.
    """

    method: str
    epsilon: float
    target: int | None
    original: Image.Image = field(repr=False)
    image: Image.Image = field(repr=False)
    perturbation: np.ndarray = field(repr=False)
    input: torch.Tensor = field(repr=False)
    before: Prediction
    after: Prediction

    @property
    def success(self) -> bool:
        """Whether the prediction flipped (to :attr:`target`, for a targeted attack)."""
        if self.target is not None:
            return self.after.index == self.target
        return self.after.index != self.before.index

    @property
    def changed_pixels(self) -> float:
        """Fraction of the pixel values the attack changed."""
        return float(np.count_nonzero(self.perturbation) / max(1, self.perturbation.size))

    def magnified(self) -> Image.Image:
        """The perturbation made visible: −epsilon black, 0 mid grey, +epsilon white."""
        scale = 127.5 / self.epsilon if self.epsilon > 0 else 0.0
        pixels = np.clip(127.5 + self.perturbation * scale, 0, 255).round().astype(np.uint8)
        if pixels.shape[0] == 1:
            return Image.fromarray(pixels[0], "L")
        return Image.fromarray(pixels.transpose(1, 2, 0), "RGB")


def _pixels(model: Model, images: Sequence[Image.Image]) -> torch.Tensor:
    """The images as the network sees them, in [0, 1], (N, C, H, W)."""
    arrays = []
    for image in images:
        array = np.asarray(model.view(image), dtype=np.float32) / 255.0
        arrays.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(arrays))


def _normalizer(model: Model):
    mean = torch.tensor(model.spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(model.spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    return lambda x: (x - mean) / std


def _perturb(
    model: Model, x: torch.Tensor, labels: torch.Tensor, method: str, epsilon: float,
    targeted: bool,
) -> torch.Tensor:  # fmt: skip
    """The adversarial pixels of a batch ``x`` in [0, 1]; the caller holds the lock and
    :func:`prepared`."""
    normalize = _normalizer(model)
    sign = -1.0 if targeted else 1.0  # towards the target: down its loss
    steps, alpha = (1, epsilon) if method == "fgsm" else (PGD_STEPS, 2.5 * epsilon / PGD_STEPS)
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model.module(normalize(adv)), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            adv = adv + sign * alpha * grad.sign()
            adv = torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0.0, 1.0)
    with torch.no_grad():
        # 8-bit pixels: whole steps of 1/255, rounded towards zero so |change| <= epsilon.
        steps_255 = torch.trunc((adv - x) * 255.0 + torch.sign(adv - x) * 1e-4)
        return (x + steps_255 / 255.0).clamp(0.0, 1.0)


def _check(method: str, epsilon: float) -> None:
    if method not in ("fgsm", "pgd"):
        raise InputError(f"There is no attack '{method}'; choose fgsm or pgd.")
    if not 0.0 <= epsilon <= 1.0:
        raise InputError("Epsilon is a change of pixel value: choose it between 0 and 1.")


def _prediction(model: Model, logits: torch.Tensor) -> Prediction:
    probabilities = torch.softmax(logits.float(), dim=0)
    index = int(probabilities.argmax())
    label = model.labels[index] if index < len(model.labels) else str(index)
    return Prediction(index, label, float(probabilities[index]))


def attack(
    model: Model,
    image: Image.Image,
    method: AttackMethod | str = "fgsm",
    epsilon: float = 0.05,
    target: int | str | None = None,
) -> Attack:
    """An adversarial example of ``image`` for ``model`` (see the module docstring).

    Args:
        model: A :class:`cnnviz.Model`; shared models are safe (the call holds its lock and
            restores modes and ``requires_grad``).
        image: A PIL image; the network's view of it (:meth:`cnnviz.Model.view`) is attacked.
        method: ``"fgsm"`` (one step) or ``"pgd"`` (10 projected steps).
        epsilon: The largest change per pixel value, in [0, 1] (0.1 = a tenth of black to
            white).
        target: ``None`` to push away from the predicted class, or a class (index or name) to
            push towards.

    Returns:
        The :class:`Attack`.

    Raises:
        InputError: Unknown method or class, or epsilon outside [0, 1].
    """
    _check(method, epsilon)
    x = _pixels(model, [image])
    normalize = _normalizer(model)
    with model.lock, prepared(model.module):
        with torch.no_grad():
            logits = model.module(normalize(x))
        wanted = None if target is None else resolve_target(model, logits, target)
        label = logits.argmax(dim=1) if wanted is None else torch.tensor([wanted])
        adv = _perturb(model, x, label, method, epsilon, wanted is not None)
        with torch.no_grad():
            adv_input = normalize(adv)
            after = model.module(adv_input)
    return Attack(
        method, float(epsilon), wanted, model.view(image), pixel_image(adv[0]),
        _frozen((adv - x)[0]), adv_input.detach(), _prediction(model, logits[0]),
        _prediction(model, after[0]),
    )  # fmt: skip


def attack_success(
    model: Model, images: Sequence[Image.Image], method: AttackMethod | str, epsilon: float
) -> float:
    """Fraction of ``images`` whose prediction an untargeted attack flips (one batch).

    Args:
        model: A :class:`cnnviz.Model`.
        images: PIL images (the bundled digit samples, for LeNet-5).
        method: ``"fgsm"`` or ``"pgd"``.
        epsilon: The largest change per pixel value, in [0, 1].

    Raises:
        InputError: No images, unknown method, or epsilon outside [0, 1].
    """
    _check(method, epsilon)
    if not images:
        raise InputError("Give at least one image to attack.")
    x = _pixels(model, images)
    normalize = _normalizer(model)
    with model.lock, prepared(model.module):
        with torch.no_grad():
            labels = model.module(normalize(x)).argmax(dim=1)
        adv = _perturb(model, x, labels, method, epsilon, targeted=False)
        with torch.no_grad():
            flipped = model.module(normalize(adv)).argmax(dim=1) != labels
    return float(flipped.float().mean())


def _frozen(t: torch.Tensor) -> np.ndarray:
    array = t.detach().float().numpy().copy()
    array.flags.writeable = False
    return array


def pixel_image(x: torch.Tensor) -> Image.Image:
    """Pixels (C, H, W) in [0, 1] as an 8-bit PIL image (mode ``L`` or ``RGB``)."""
    pixels = (x * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0], "L")
    return Image.fromarray(pixels.transpose(1, 2, 0), "RGB")
