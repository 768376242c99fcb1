"""LayerSymmetry on planted layers: exact representations with known frequencies or degrees are
recovered with equivariance errors ≤ 1e-6; invariant layers are all trivial irrep; exact D4 on
pixels; a generic layer is measured as not equivariant."""

import math

import pytest
import torch
from torch import nn

from nerve import AnalysisError, NerveWarning
from nerve.analysis.symmetry import LayerSymmetry, RotateImage, RotatePoints, ShiftSequence
from nerve.groups import finite_subgroup, o2, so2, so3, sphere_harmonics


class Planted(nn.Module):
    """features(x) then a fixed random invertible linear mix (a change of basis of the representation)."""

    def __init__(self, features, width, seed=0):
        super().__init__()
        self.features = features
        g = torch.Generator().manual_seed(seed)
        self.mix = nn.Linear(width, width, bias=False).double()
        with torch.no_grad():
            self.mix.weight.copy_(torch.randn(width, width, generator=g, dtype=torch.float64))

    def forward(self, x):
        return self.mix(self.features(x))


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def circular(ks):
    """Re and Im of z^k, z = x₁ + i x₂: rotation by φ multiplies z^k by e^{ikφ}, frequency k."""

    def features(x):
        z = torch.complex(x[..., 0], x[..., 1])
        return torch.cat([torch.stack([(z**k).real, (z**k).imag], -1) for k in ks], -1)

    return features


def points(n, dim, seed):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_a_planted_so2_representation_is_read_off_with_its_frequencies():
    model = nn.Sequential(Planted(Fn(circular([1, 3])), 4))
    fitted = LayerSymmetry(RotatePoints(so2()), ["0"], max_degree=4).fit(model, points(200, 2, 0))
    r = fitted.result_
    assert r.labels == ("k=0", "k=1", "k=2", "k=3", "k=4", "residual")
    frac = dict(zip(r.labels, r.fractions[0], strict=True))
    assert frac["k=1"] + frac["k=3"] == pytest.approx(1.0, abs=1e-10) and min(frac["k=1"], frac["k=3"]) > 0.01
    assert r.equivariance_error[0] <= 1e-6 and r.lie_error[0] <= 1e-6
    assert r.generator_degrees[0] == pytest.approx((1, 1, 3, 3), abs=1e-6)


def test_a_planted_so3_representation_is_read_off_with_its_degrees():
    """|x|^ℓ Y_ℓ(x/|x|) for ℓ = 1, 2 (harmonic polynomials: exact representations), mixed."""

    def features(x):
        r = x.norm(dim=-1, keepdim=True)
        ys = sphere_harmonics(x / r, 2)
        return torch.cat([r * ys[1], r**2 * ys[2]], -1)

    model = nn.Sequential(Planted(Fn(features), 8))
    r = LayerSymmetry(RotatePoints(), ["0"], max_degree=3).fit(model, points(120, 3, 1)).result_
    frac = dict(zip(r.labels, r.fractions[0], strict=True))
    assert frac["l=1"] + frac["l=2"] == pytest.approx(1.0, abs=1e-10)
    assert r.equivariance_error[0] <= 1e-6 and r.lie_error[0] <= 1e-6
    assert r.generator_degrees[0] == pytest.approx((1,) * 3 + (2,) * 5, abs=1e-6)


def test_an_invariant_layer_is_all_trivial():
    model = nn.Sequential(Fn(lambda x: torch.stack([x.norm(dim=-1), x.norm(dim=-1) ** 3], -1)))
    r = LayerSymmetry(RotatePoints(), ["0"], max_degree=2).fit(model, points(80, 3, 2)).result_
    assert r.fractions[0][0] == pytest.approx(1.0, abs=1e-12)
    assert r.equivariance_error[0] <= 1e-10 and r.lie_error[0] <= 1e-10
    assert r.generator_degrees[0] == pytest.approx((0, 0), abs=1e-6)


def test_a_generic_layer_is_measured_as_far_from_equivariant():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16)).double()
    r = LayerSymmetry(RotatePoints(so2()), ["1", "2"], max_degree=4).fit(model, points(400, 2, 3)).result_
    assert min(r.equivariance_error) > 1e-3 and min(r.lie_error) > 1e-3
    assert r.fractions[0][-1] > 1e-4  # a ReLU of a rotating vector has frequencies above 4


def test_exact_d4_on_pixels_lifting_layer_is_equivariant_and_its_pooling_invariant():
    """The correlations of an image with the 8 D4-images of one filter: the regular representation
    of D4, exactly; their sum is invariant."""
    d4 = finite_subgroup(o2(), "D4")
    rotate = RotateImage(d4)
    gen = torch.Generator().manual_seed(0)
    filt = torch.randn(1, 6, 6, generator=gen, dtype=torch.float64)
    filters = torch.stack([rotate(g, filt)[0] for g in d4.elements])  # [8, 6, 6]

    lift = Fn(lambda x: torch.einsum("bhw,khw->bk", x, filters))
    model = nn.Sequential(lift, Fn(lambda y: y.sum(-1, keepdim=True)))
    images = torch.randn(64, 6, 6, generator=gen, dtype=torch.float64)
    r = LayerSymmetry(rotate, ["0", "1"]).fit(model, images).result_
    assert r.labels == ("trivial", "sign", "sign(r)", "sign(r)·sign", "k=1", "residual")
    assert r.equivariance_error[0] <= 1e-10 and r.lie_error is None
    assert r.fractions[1][0] == pytest.approx(1.0, abs=1e-12) and r.equivariance_error[1] <= 1e-10
    assert all(f > 0.01 for f in r.fractions[0][:5])  # the regular representation holds every irrep


def test_image_rotation_is_exact_on_the_grid_and_bilinear_off_it():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    quarter = so2().element(torch.tensor(math.pi / 2))
    assert torch.equal(RotateImage()(quarter, image), torch.rot90(image, 1, dims=(-2, -1)))
    flip = o2().element(torch.tensor(0.0), reflect=True)  # y ↦ −y: rows upside down
    assert torch.equal(RotateImage(o2())(flip, image), torch.flip(image, dims=(-2,)))
    small = RotateImage()(so2().element(torch.tensor(0.1)), image)
    assert small.shape == image.shape and not torch.equal(small, image)


def test_a_circular_convolution_is_shift_equivariant():
    conv = nn.Conv1d(1, 3, 3, padding=1, padding_mode="circular", bias=False).double()
    model = nn.Sequential(Fn(lambda x: x[:, None]), conv)
    x = torch.randn(64, 7, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    r = LayerSymmetry(ShiftSequence(7), ["1"]).fit(model, x).result_
    assert r.labels[:2] == ("k=0", "k=1") and r.equivariance_error[0] <= 1e-10


def test_a_layer_wider_than_its_principal_directions_is_warned_about():
    """10 inputs fit at most 2 principal directions of a 12-wide tanh layer: too few to describe it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 12), nn.Tanh()).double()
    with pytest.warns(
        NerveWarning, match=r"site '1': its top 2 principal directions hold \d+% of its second"
    ):
        r = LayerSymmetry(RotatePoints(), ["1"], max_degree=1).fit(model, points(10, 3, 5)).result_
    assert r.components == (2,) and r.captured[0] < 0.9


def test_a_wide_layer_is_read_in_its_principal_directions_reproducibly():
    """A 600-wide planted SO(2) layer (frequencies 1, 2 embedded by a random 600 × 4 map): the
    randomized principal directions find its 4-dimensional span, bit for bit the same twice."""
    g = torch.Generator().manual_seed(1)
    embed = torch.randn(600, 4, generator=g, dtype=torch.float64)
    model = nn.Sequential(Fn(circular([1, 2])), Fn(lambda f: f @ embed.T))
    est = LayerSymmetry(RotatePoints(so2()), ["1"], max_degree=3, components=8)
    r1, r2 = est.fit(model, points(60, 2, 6)).result_, est.fit(model, points(60, 2, 6)).result_
    assert r1 == r2 and r1.components == (4,) and r1.captured[0] == pytest.approx(1.0, abs=1e-12)
    assert r1.equivariance_error[0] <= 1e-6 and r1.generator_degrees[0] == pytest.approx(
        (1, 1, 2, 2), abs=1e-6
    )


def test_bad_arguments_are_refused_by_name():
    model = nn.Sequential(nn.Identity())
    with pytest.raises(AnalysisError, match=r"`action` \(=3\) must be an Action"):
        LayerSymmetry(3, ["0"]).fit(model, points(8, 3, 0))
    with pytest.raises(AnalysisError, match=r"`inputs` has 2 examples; at least 4"):
        LayerSymmetry(RotatePoints(), ["0"]).fit(model, points(2, 3, 0))
    with pytest.raises(
        AnalysisError, match=r"`x` must be points \[\.\.\., 3\] for SO\(3\), got shape \(8, 2\)"
    ):
        LayerSymmetry(RotatePoints(), ["0"]).fit(model, points(8, 2, 0))
    with pytest.raises(AnalysisError, match=r"`group` \(=SO\(3\)\) must act on the plane"):
        RotateImage(so3())
    with pytest.raises(AnalysisError, match=r"`g` rotates by 0\.1114 / 7 of a turn: not an element of C7"):
        ShiftSequence(7)(so2().element(torch.tensor(0.1)), torch.zeros(1, 7))
