"""Does this image look like what the model learned from? A cheap, explainable check.

A network answers every image with a confident-looking class, even one unlike anything it was
trained on: LeNet-5 reads a coffee cup as "9 (100%)". :func:`domain_check` says so in one sentence
when the image does not look like the model's training data.

The rule, in three steps:

1. **The model's training domain** comes from its class labels (:func:`model_domain`): ten digit
   labels (``"0"``..``"9"``, or MNIST's ``"0 - zero"``...) mean handwritten ``"digits"``; the six
   classes of the ``shapes`` data set mean ``"shapes"``; ImageNet's 1,000 classes mean
   ``"photos"``. Anything else (a model trained on Fashion-MNIST, CIFAR-10 or your own folders)
   has no known domain and is never labelled.
2. **Seven numbers** describe the image (:class:`ImageStats`), measured on a 64 x 64 RGB thumbnail
   of the whole image. The *background* is the median colour of the thumbnail's outer ring of
   pixels; a pixel belongs to the *object* when its RGB distance to the background is at least
   40 levels (background noise stays below, the shapes' fill and the digits' ink above).
3. **Each domain is a set of ranges** the numbers must all fall in (:data:`DIGIT_LIKE`,
   :data:`SHAPE_LIKE`). Photos are what the other two are not: an ImageNet net's image is out of
   its domain when it is digit-like or shape-like.

The ranges were set on real data with ``scripts/calibrate_domain.py``: 1,796 of the 1,797
scikit-learn digits (as the digit nets see them, 32 x 32), all of 200 drawings through
:func:`cnnviz.images.drawing_to_image` and all of 1,200 ``shapes`` pass their own domain's ranges
and fail the other's; none of 209 scikit-image photos and crops of them (19 photos, 10 random
crops each) nor of 100 grey face photos (``lfw_subset``, many on a dark background) passes either.
Limits, by design of so simple a rule: a grey picture of a light blob on a
black sky (a full moon) looks digit-like; a logo (one flat colour on a plain background) looks
shape-like; a digit written dark on light paper does not look like the white-on-black digits
the nets learned from (LeNet-5 reads none of the ten digit samples right once inverted).

The check costs about 2 ms of CPU per image, whatever its size (large images are first sampled
down to 256 x 256 by nearest neighbour).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from cnnviz.data.synthetic import SHAPES

if TYPE_CHECKING:
    from cnnviz.models import Model

__all__ = [
    "DIGIT_LIKE",
    "DOMAINS",
    "SHAPE_LIKE",
    "DomainCheck",
    "DomainName",
    "ImageStats",
    "Range",
    "domain_check",
    "image_stats",
    "model_domain",
]

DomainName = Literal["digits", "shapes", "photos"]

SIDE = 64
"""Side of the thumbnail every statistic is measured on."""
OBJECT_DISTANCE = 40.0
"""RGB distance (0..441) from the background colour at which a pixel counts as object."""
_PRESAMPLE = 256  # larger images are first sampled (nearest) to this side: O(1) cost
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as PIL's "L"

DOMAINS: dict[str, str] = {
    "digits": "the handwritten digits {model} learned from (a light grey stroke on a plain "
    "black background)",
    "shapes": "the coloured shapes {model} learned from (one flat-coloured shape on a plain "
    "background)",
    "photos": "the photos {model} learned from (ImageNet: 1.3 million colour photos)",
}
"""For each domain, what the model learned from, as the sentence names it."""


@dataclass(frozen=True, slots=True)
class ImageStats:
    """Seven numbers that tell a digit, a drawn shape and a photo apart.

    Attributes:
        colourfulness: Hasler & Süsstrunk's (2003) colourfulness ``M``: with ``rg = R - G`` and
            ``yb = (R + G) / 2 - B``, ``M = sqrt(var(rg) + var(yb)) + 0.3 sqrt(mean(rg)^2 +
            mean(yb)^2)`` on 0..255 values; 0 for a grey image (their scale: 15 "slightly",
            33 "moderately", 59 "quite", 82 "highly" colourful).
        background_luma: Brightness (0..255) of the background colour, the median of the
            thumbnail's outer ring of pixels.
        plain_border: Share (0..1) of that ring within 40 RGB levels of the background: 1 when
            the object sits inside a plain frame, low for a photo whose scene reaches the edges.
        background_noise: Median RGB distance of the background pixels (those within 40 levels
            of the background colour) to it: 0 for a drawn or scanned digit's black, about 12
            for the shapes' noise (sd 8 per channel), more for a photo's texture.
        object_share: Share (0..1) of all pixels 40 RGB levels or more away from the background.
        contrast: Brightness of the object's median colour minus the background's (-255..255;
            positive for light ink on a dark background).
        fill_spread: Median RGB distance of the object's interior pixels (object pixels whose
            four neighbours are object too) to their median colour: about 12 for a flat fill with
            the shapes' noise, tens for shaded or textured objects; ``inf`` with no interior.
    """

    colourfulness: float
    background_luma: float
    plain_border: float
    background_noise: float
    object_share: float
    contrast: float
    fill_spread: float

    @property
    def abs_contrast(self) -> float:
        """Brightness difference between object and background, either way round."""
        return abs(self.contrast)


@dataclass(frozen=True, slots=True)
class Range:
    """One test of a domain rule: ``low <= getattr(stats, stat) <= high``.

    Attributes:
        stat: A field (or property) of :class:`ImageStats`.
        low: Smallest accepted value.
        high: Largest accepted value.
        meaning: What passing means, in words (``"grey"``).
    """

    stat: str
    low: float
    high: float
    meaning: str

    def accepts(self, stats: ImageStats) -> bool:
        """Whether the image's value lies in the range."""
        return self.low <= getattr(stats, self.stat) <= self.high

    def describe(self, stats: ImageStats) -> str:
        """The value against the range, e.g. ``"colourfulness 42.0, not 0 to 10 (grey)"``."""
        value = getattr(stats, self.stat)
        if self.high == math.inf:
            bounds = f"at least {self.low:g}"
        elif self.low in (0.0, -math.inf):
            bounds = f"at most {self.high:g}"
        else:
            bounds = f"{self.low:g} to {self.high:g}"
        return f"{self.stat.replace('_', ' ')} {value:.2f}, not {bounds} ({self.meaning})"


DIGIT_LIKE: tuple[Range, ...] = (
    Range("colourfulness", 0.0, 10.0, "grey"),  # digits, drawings: 0
    Range("background_luma", 0.0, 50.0, "a dark background"),  # measured: at most 10
    Range("contrast", 80.0, 255.0, "light ink on it"),  # measured: at least 93
    Range("plain_border", 0.5, 1.0, "a plain frame"),  # at least 0.60 (the 8x8 scans fill it)
    Range("background_noise", 0.0, 6.0, "a noise-free background"),  # 1 of 1,797 digits above
    Range("object_share", 0.1, 0.75, "ink on 10% to 75% of it"),  # 0.12 to 0.71
)
"""A light grey stroke on a plain black background, like the digits the digit nets learned."""

SHAPE_LIKE: tuple[Range, ...] = (
    Range("colourfulness", 10.0, math.inf, "in colour"),  # shapes: at least 17 (chroma noise)
    Range("plain_border", 0.8, 1.0, "a plain frame"),  # at least 0.92
    Range("object_share", 0.04, 0.6, "one object on 4% to 60% of it"),  # 0.07 to 0.52
    Range("abs_contrast", 60.0, math.inf, "clearly lighter or darker"),  # at least 89
    Range("fill_spread", 0.0, 20.0, "a flat-coloured fill"),  # at most 14; photos: median 36
)
"""One flat-coloured shape on a plain, slightly noisy background, like the ``shapes`` data set."""

_RULES: dict[str, tuple[Range, ...]] = {"digits": DIGIT_LIKE, "shapes": SHAPE_LIKE}


@dataclass(frozen=True, slots=True)
class DomainCheck:
    """Whether an image looks like a model's training data.

    Attributes:
        domain: The model's training domain (see :func:`model_domain`), ``None`` when unknown.
        in_domain: False only when the domain is known and the image does not fit it.
        sentence: One sentence for the student when out of domain, else ``""``.
        stats: The measured :class:`ImageStats`.
        failed: The tests the image failed, in words (for a digit or shape domain: the ranges
            not met; for photos: why the image looks like a digit or a shape).
    """

    domain: DomainName | None
    in_domain: bool
    sentence: str
    stats: ImageStats
    failed: tuple[str, ...] = ()


def image_stats(image: Image.Image) -> ImageStats:
    """Measure :class:`ImageStats` on a 64 x 64 RGB thumbnail of the whole image.

    Args:
        image: Any PIL image (``cnnviz.load_image`` output: ``"RGB"`` or ``"L"``).

    Returns:
        The seven numbers.
    """
    pixels = _thumbnail(image)
    rg = pixels[..., 0] - pixels[..., 1]
    yb = 0.5 * (pixels[..., 0] + pixels[..., 1]) - pixels[..., 2]
    colourfulness = math.sqrt(rg.var() + yb.var()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    ring = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    background = np.median(ring, axis=0)
    plain = np.linalg.norm(ring - background, axis=1) < OBJECT_DISTANCE
    distance = np.linalg.norm(pixels - background, axis=2)
    obj = distance >= OBJECT_DISTANCE
    background_luma = float(background @ _LUMA)
    contrast, spread = 0.0, math.inf
    if obj.any():
        contrast = float(np.median(pixels[obj], axis=0) @ _LUMA) - background_luma
        interior = np.zeros_like(obj)
        interior[1:-1, 1:-1] = (
            obj[1:-1, 1:-1] & obj[:-2, 1:-1] & obj[2:, 1:-1] & obj[1:-1, :-2] & obj[1:-1, 2:]
        )
        if interior.any():
            fill = pixels[interior]
            spread = float(np.median(np.linalg.norm(fill - np.median(fill, axis=0), axis=1)))
    return ImageStats(
        colourfulness=float(colourfulness),
        background_luma=background_luma,
        plain_border=float(plain.mean()),
        background_noise=float(np.median(distance[~obj])) if not obj.all() else math.inf,
        object_share=float(obj.mean()),
        contrast=contrast,
        fill_spread=spread,
    )


def model_domain(model: Model) -> DomainName | None:
    """The kind of images a model learned from, read from its class labels.

    Args:
        model: A :class:`cnnviz.Model` (its ``labels`` are used).

    Returns:
        ``"digits"`` for ten labels ``"0"``..``"9"`` (or starting so, as MNIST's ``"0 - zero"``),
        ``"shapes"`` for the ``shapes`` data set's classes, ``"photos"`` for ImageNet's 1,000
        classes, else ``None``.
    """
    labels = tuple(model.labels)
    if len(labels) == 10 and all(
        label.split(" ", 1)[0] == str(d) for d, label in enumerate(labels)
    ):
        return "digits"
    if labels == SHAPES:
        return "shapes"
    if len(labels) == 1000 and labels == _imagenet_labels():
        return "photos"
    return None


def domain_check(model: Model, image: Image.Image) -> DomainCheck:
    """Say whether ``image`` looks like the data ``model`` learned from (see the module doc).

    Args:
        model: A :class:`cnnviz.Model`.
        image: The image it classifies (any PIL image).

    Returns:
        A :class:`DomainCheck`; its ``sentence`` is empty when the image fits or the domain is
        unknown.
    """
    stats = image_stats(image)
    domain = model_domain(model)
    if domain is None:
        return DomainCheck(None, True, "", stats)
    if domain == "photos":
        looks = {name: _failures(rule, stats) for name, rule in _RULES.items()}
        failed = tuple(
            f"looks like {name}: {', '.join(r.meaning for r in rule)}"
            for name, rule in _RULES.items()
            if not looks[name]
        )
    else:
        failed = _failures(_RULES[domain], stats)
    if not failed:
        return DomainCheck(domain, True, "", stats)
    what = DOMAINS[domain].format(model=model.spec.label)
    sentence = (
        f"This {_subject(stats)} does not look like {what}, so its answer is a guess, "
        "however sure it sounds."
    )
    return DomainCheck(domain, False, sentence, stats, failed)


def _failures(rule: tuple[Range, ...], stats: ImageStats) -> tuple[str, ...]:
    return tuple(r.describe(stats) for r in rule if not r.accepts(stats))


def _subject(stats: ImageStats) -> str:
    """What the image looks like, for the sentence: a digit, a shape, or just an image."""
    if not _failures(DIGIT_LIKE, stats):
        return "digit"
    if not _failures(SHAPE_LIKE, stats):
        return "shape"
    return "image"


def _thumbnail(image: Image.Image) -> np.ndarray:
    """(64, 64, 3) float32 RGB of the whole image (no crop), bilinear with antialiasing.

    Large images are first sampled to 256 x 256 by nearest neighbour, so the cost does not grow
    with the upload's size (a 40-megapixel photo would take ~100 ms to filter in full).
    """
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if max(image.size) > _PRESAMPLE:
        image = image.resize((_PRESAMPLE, _PRESAMPLE), Image.Resampling.NEAREST)
    small = image.resize((SIDE, SIDE), Image.Resampling.BILINEAR).convert("RGB")
    return np.asarray(small, dtype=np.float32)


@cache
def _imagenet_labels() -> tuple[str, ...]:
    import torchvision  # only for a 1,000-label model, whose loader imported it already

    return tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
