"""The digits task and image rotations: real data of the right shape, exact D4 on the pixel grid,
bilinear rotations elsewhere, and seeded augmentation."""

import math

import pytest
import torch

from nerve.tasks import DigitsTask, TaskError, rotate_images


def rotation(theta):
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


def test_the_digits_are_scikit_learns_scaled_to_the_unit_interval():
    x, y = DigitsTask().enumerate()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32 and y.shape == (1797,)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0 and sorted(set(y.tolist())) == list(range(10))
    assert torch.bincount(y).min() >= 170  # about 180 of each digit


def test_rotations_on_the_grid_are_exact_pixel_permutations():
    x = torch.arange(2 * 3 * 25, dtype=torch.float32).reshape(2, 3, 5, 5)
    assert torch.equal(rotate_images(x, rotation(math.pi / 2)), torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.equal(rotate_images(x, rotation(math.pi)), torch.rot90(x, 2, dims=(-2, -1)))
    flip = torch.tensor([[-1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # x ↦ −x: columns mirrored
    assert torch.equal(rotate_images(x, flip), torch.flip(x, dims=(-1,)))
    per_image = torch.stack([rotation(math.pi / 2), rotation(-math.pi / 2)])
    out = rotate_images(x, per_image)
    assert torch.equal(out[0], torch.rot90(x[0], 1, dims=(-2, -1)))
    assert torch.equal(out[1], torch.rot90(x[1], -1, dims=(-2, -1)))


def test_rotations_off_the_grid_are_bilinear_and_compose_approximately():
    x, _ = DigitsTask().enumerate()
    x = x[:16]
    half = rotate_images(rotate_images(x, rotation(0.3)), rotation(0.3))
    whole = rotate_images(x, rotation(0.6))
    assert not torch.equal(whole, x)
    # two bilinear resamplings blur more than one, but the centre of mass of the ink turns alike
    assert float((half - whole).abs().mean()) < 0.05
    assert float(rotate_images(x, rotation(0.0)).sub(x).abs().max()) == 0.0


def test_augmentation_rotates_with_its_generator_only_when_asked():
    x, _ = DigitsTask().enumerate()
    x = x[:32]
    assert DigitsTask().augment(x, generator=torch.Generator().manual_seed(0)) is x
    a = DigitsTask(rotate=True).augment(x, generator=torch.Generator().manual_seed(0))
    b = DigitsTask(rotate=True).augment(x, generator=torch.Generator().manual_seed(0))
    c = DigitsTask(rotate=True).augment(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == x.shape


def test_bad_images_and_rotations_are_refused_by_name():
    with pytest.raises(
        TaskError, match=r"`images` must be \[B, C, H, W\] or \[B, H, W\], got shape \(8, 8\)"
    ):
        rotate_images(torch.zeros(8, 8), rotation(0.1))
    with pytest.raises(TaskError, match=r"`g` must be \[2, 2\] or \[B=3, 2, 2\], got shape \(2, 2, 2\)"):
        rotate_images(torch.zeros(3, 8, 8), torch.eye(2).expand(2, 2, 2))
