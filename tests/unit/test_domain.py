"""domain_check: hand-computed statistics, the models' domains, and the rule on real data."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits

from cnnviz import Model, domain_check, list_samples, load_sample
from cnnviz.data import SHAPES, load_dataset
from cnnviz.domain import DIGIT_LIKE, SHAPE_LIKE, image_stats, model_domain
from cnnviz.images import drawing_to_image

ModelGetter = Callable[[str], Model]
PHOTOS = [s.key for s in list_samples("photo")]
DIGITS = [s.key for s in list_samples("digit")]
SHAPE_SAMPLES = [s.key for s in list_samples("shape")]
GUESS = "so its answer is a guess, however sure it sounds."


def square_on(background: tuple[int, ...], fill: tuple[int, ...], mode: str) -> Image.Image:
    """64 x 64: a 32 x 32 square of ``fill`` in the middle of ``background``."""
    image = Image.new(mode, (64, 64), background)
    ImageDraw.Draw(image).rectangle([16, 16, 47, 47], fill=fill)
    return image


def passes(rule, image: Image.Image) -> bool:
    stats = image_stats(image)
    return all(r.accepts(stats) for r in rule)


# --- the statistics, computed by hand ----------------------------------------------------------


def test_stats_of_a_white_square_on_black() -> None:
    stats = image_stats(square_on((0,), (255,), "L"))

    assert stats.colourfulness == 0.0
    assert stats.background_luma == 0.0
    assert stats.plain_border == 1.0
    assert stats.background_noise == 0.0
    assert stats.object_share == 32 * 32 / (64 * 64)
    assert stats.contrast == pytest.approx(255.0, abs=0.01)
    assert stats.fill_spread == 0.0


def test_colourfulness_of_half_red_half_blue_by_hand() -> None:
    image = Image.new("RGB", (64, 64), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 32, 64))
    # rg = R - G is 255 or 0: mean 127.5, variance 127.5^2. yb = (R + G) / 2 - B is 127.5 or
    # -255: mean -63.75, variance 191.25^2. M = sqrt(127.5^2 + 191.25^2) + 0.3 * hypot(127.5,
    # 63.75) (Hasler & Süsstrunk 2003).
    expected = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, 63.75)

    assert image_stats(image).colourfulness == pytest.approx(expected, rel=1e-5)
    assert image_stats(image.convert("L")).colourfulness == 0.0


def test_dark_square_on_light_has_negative_contrast_and_no_interior_when_thin() -> None:
    stats = image_stats(square_on((200, 200, 200), (20, 20, 20), "RGB"))
    assert stats.background_luma == pytest.approx(200.0, abs=0.01)
    assert stats.contrast == pytest.approx(-180.0, abs=0.01)

    line = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(line).line([(10, 32), (54, 32)], fill=255, width=1)
    assert image_stats(line).fill_spread == math.inf  # a 1-pixel line has no interior


def test_a_scene_reaching_the_edges_has_no_plain_border() -> None:
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    stats = image_stats(Image.fromarray(ramp, "L"))
    assert stats.plain_border < 0.5


def test_any_mode_and_size_is_measured() -> None:
    small = square_on((0, 0, 0, 255), (255, 255, 255, 255), "RGBA")
    big = small.resize((3000, 2000), Image.Resampling.NEAREST)
    for image in (small, big, small.convert("P"), small.convert("1")):
        stats = image_stats(image)
        assert stats.object_share == pytest.approx(0.25, abs=0.05)  # edges blur when shrunk
        assert stats.contrast == pytest.approx(255.0, abs=1.0)


# --- the model's domain, from its labels ---------------------------------------------------------


def relabel(model: Model, labels: tuple[str, ...]) -> Model:
    return dataclasses.replace(model, labels=labels)


def test_model_domains_from_labels(random_model: ModelGetter) -> None:
    lenet = random_model("lenet5")
    assert model_domain(lenet) == "digits"
    assert model_domain(random_model("resnet_small")) == "digits"
    assert model_domain(random_model("tinyvgg")) == "shapes"
    assert model_domain(random_model("resnet18")) == "photos"
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    mnist = tuple(f"{d} - {word}" for d, word in enumerate(words))  # torchvision's MNIST
    assert model_domain(relabel(lenet, mnist)) == "digits"
    assert model_domain(relabel(lenet, SHAPES)) == "shapes"  # LeNet-5 trained on shapes
    fashion = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")  # fmt: skip
    assert model_domain(relabel(lenet, fashion)) is None
    assert model_domain(relabel(lenet, tuple("9876543210"))) is None
    assert model_domain(relabel(lenet, ("cats", "dogs"))) is None


def test_unknown_domain_is_never_labelled(random_model: ModelGetter) -> None:
    model = relabel(random_model("lenet5"), ("cats", "dogs"))
    check = domain_check(model, load_sample("coffee"))
    assert check.domain is None
    assert check.in_domain
    assert check.sentence == ""
    assert check.failed == ()


# --- the bundled samples -----------------------------------------------------------------------


@pytest.mark.parametrize("key", DIGITS)
def test_digit_samples_are_in_for_lenet5_and_out_for_resnet18(
    key: str, random_model: ModelGetter
) -> None:
    image = load_sample(key)
    check = domain_check(random_model("lenet5"), image)
    assert check.domain == "digits"
    assert check.in_domain, check.failed
    assert check.sentence == ""

    check = domain_check(random_model("resnet18"), image)
    assert check.domain == "photos"
    assert not check.in_domain
    assert check.sentence == (
        "This digit does not look like the photos ResNet-18 learned from (ImageNet: 1.3 "
        f"million colour photos), {GUESS}"
    )
    assert check.failed[0].startswith("looks like digits: grey, a dark background")


@pytest.mark.parametrize("key", PHOTOS)
def test_photo_samples_are_out_for_the_digit_and_shape_nets_and_in_for_resnet18(
    key: str, random_model: ModelGetter
) -> None:
    image = load_sample(key)
    for name in ("lenet5", "resnet_small", "mobilenet_small", "tinyvgg"):
        check = domain_check(random_model(name), image)
        assert not check.in_domain, name
        assert check.failed
    check = domain_check(random_model("lenet5"), image)
    assert check.sentence == (
        "This image does not look like the handwritten digits LeNet-5 learned from (a light grey "
        f"stroke on a plain black background), {GUESS}"
    )
    check = domain_check(random_model("resnet18"), image)
    assert check.in_domain, check.failed
    assert check.sentence == ""


@pytest.mark.parametrize("key", SHAPE_SAMPLES)
def test_shape_samples_are_in_for_tinyvgg_only(key: str, random_model: ModelGetter) -> None:
    image = load_sample(key)
    assert domain_check(random_model("tinyvgg"), image).in_domain
    lenet = domain_check(random_model("lenet5"), image)
    assert not lenet.in_domain
    assert lenet.sentence.startswith("This shape does not look like the handwritten digits")
    assert any(f.startswith("colourfulness") for f in lenet.failed)
    resnet = domain_check(random_model("resnet18"), image)
    assert not resnet.in_domain
    assert resnet.sentence.startswith("This shape does not look like the photos ResNet-18")


def test_failed_ranges_name_the_value_and_the_range(random_model: ModelGetter) -> None:
    check = domain_check(random_model("tinyvgg"), load_sample("digit_3"))
    assert check.sentence == (
        "This digit does not look like the coloured shapes TinyVGG learned from (one "
        f"flat-coloured shape on a plain background), {GUESS}"
    )
    assert "colourfulness 0.00, not at least 10 (in colour)" in check.failed


# --- the rule on the calibration data (a sample of scripts/calibrate_domain.py's sets) ---------


def test_the_sklearn_digits_are_digit_like_and_not_shape_like() -> None:
    pixels = np.clip(load_digits().images[::9] * (255 / 16), 0, 255).astype(np.uint8)
    for digit in pixels:  # 200 of the 1,797, as the digit nets see them
        image = Image.fromarray(digit, "L").resize((32, 32), Image.Resampling.BILINEAR)
        assert passes(DIGIT_LIKE, image)
        assert not passes(SHAPE_LIKE, image)


def test_drawn_strokes_are_digit_like() -> None:
    canvas = Image.new("RGBA", (224, 224), (0, 0, 0, 255))
    draw = ImageDraw.Draw(canvas)
    draw.line([(120, 40), (120, 190)], fill="white", width=18)  # a 1, drawn small
    draw.line([(100, 60), (120, 40)], fill="white", width=18)
    image = drawing_to_image(np.asarray(canvas))
    assert passes(DIGIT_LIKE, image)
    inverted = Image.eval(image, lambda v: 255 - v)  # dark ink on white paper
    assert not passes(DIGIT_LIKE, inverted)


def test_the_shapes_data_set_is_shape_like_and_not_digit_like() -> None:
    data = load_dataset("shapes", size=64, channels=3, count=240, seed=5)
    for pixels in data.train_x.numpy():
        image = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
        assert passes(SHAPE_LIKE, image)
        assert not passes(DIGIT_LIKE, image)
    grey = Image.fromarray(np.ascontiguousarray(data.val_x.numpy()[0].transpose(1, 2, 0)))
    assert not passes(SHAPE_LIKE, grey.convert("L"))  # the shapes were all in colour


def test_grey_faces_on_dark_backgrounds_are_not_digit_like() -> None:
    from skimage.data import lfw_subset

    for face in lfw_subset()[:100]:  # the first 100 are faces
        image = Image.fromarray(np.rint(face * 255).astype(np.uint8), "L")
        assert not passes(DIGIT_LIKE, image)


def test_crops_of_photos_are_neither_digit_nor_shape_like() -> None:
    rng = np.random.default_rng(0)
    for key in PHOTOS:
        photo = load_sample(key)
        width, height = photo.size
        for _ in range(5):
            side = rng.uniform(0.3, 0.9) * min(width, height)
            left, top = rng.uniform(0, width - side), rng.uniform(0, height - side)
            crop = photo.crop((int(left), int(top), int(left + side), int(top + side)))
            assert not passes(DIGIT_LIKE, crop), key
            assert not passes(SHAPE_LIKE, crop), key
