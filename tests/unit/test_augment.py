"""Augmentation: per-image random changes, seeded, cheap, and what each name promises."""

from __future__ import annotations

import pytest
import torch

from cnnviz.training.augment import AUGMENTATIONS, augment


def batch(n: int = 8, channels: int = 1, size: int = 16) -> torch.Tensor:
    x = torch.zeros(n, channels, size, size, dtype=torch.uint8)
    x[:, :, 4:12, 2:6] = 200  # a bar left of the centre
    return x


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_nothing_asked_nothing_changed() -> None:
    x = batch()
    out = augment(x, (), seeded())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, x.float())


@pytest.mark.parametrize("kinds", [(k,) for k in AUGMENTATIONS] + [tuple(AUGMENTATIONS)])
def test_every_augmentation_keeps_shape_and_range_and_is_seeded(kinds) -> None:
    x = batch(channels=3)
    out = augment(x, kinds, seeded(1))
    assert out.shape == x.shape
    assert out.min() >= 0
    assert out.max() <= 255
    torch.testing.assert_close(out, augment(x, kinds, seeded(1)))
    assert not torch.allclose(out, augment(x, kinds, seeded(2)))


def test_flip_mirrors_about_half_of_the_images_exactly() -> None:
    x = batch(n=64)
    out = augment(x, ("flip",), seeded())
    mirrored = [
        torch.allclose(o, i.float().flip(-1), atol=1e-3) for o, i in zip(out, x, strict=True)
    ]
    same = [torch.allclose(o, i.float(), atol=1e-3) for o, i in zip(out, x, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 16 < sum(mirrored) < 48


def test_each_image_gets_its_own_rotation() -> None:
    x = batch(n=4)
    out = augment(x, ("rotate",), seeded())
    assert not torch.allclose(out[0], out[1])
    assert not torch.allclose(out[2], out[3])
    # a turn of at most 15 degrees moves the bar, it does not lose it
    assert out.sum(dim=(1, 2, 3)) == pytest.approx(x.float().sum(dim=(1, 2, 3)), rel=0.2)


def test_colour_changes_values_but_not_where_things_are() -> None:
    x = batch(n=4, channels=3)
    out = augment(x, ("color",), seeded())
    bar = x[:, 0] > 0
    assert ((out[:, 0] > out[:, 0].mean(dim=(1, 2), keepdim=True)) == bar).all()


def test_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="blur"):
        augment(batch(), ("blur",), seeded())
