"""The compact Fourier transform inverts and satisfies Plancherel on band-limited functions, reports
what lies above its degree, and the sphere's harmonics are orthonormal, equivariant and the
textbook ones."""

import math

import pytest
import torch

from nerve import ShapeError
from nerve.groups import CompactFourierTransform, o2, o3, so2, so3, sphere_harmonics, sphere_quadrature

GROUPS = {"SO(2)": (so2, 6), "O(2)": (o2, 6), "SO(3)": (so3, 4), "O(3)": (o3, 3)}


def band_limited(ft, batch, seed):
    """Random coefficients for every irrep (projected onto End_G-compatible matrices: any real
    matrix is a valid f̂(ρ) for real type; for complex type, the part commuting with the complex
    structure) and the function they define, at the nodes."""
    gen = torch.Generator().manual_seed(seed)
    coeffs = []
    for rho in ft.irreps:
        c = torch.randn(*batch, rho.dim, rho.dim, generator=gen, dtype=torch.float64)
        if rho.type == "complex":  # f̂(ρ) = ∫ f ρ lies in the span of ρ(g), which commutes with J
            j = rho.generators[0] / rho.degree
            c = (c - j @ c @ j) / 2
        coeffs.append(c)
    return coeffs, ft.inverse(coeffs, ft.nodes)


@pytest.mark.parametrize("name", list(GROUPS))
def test_transform_inverts_and_plancherel_holds_for_band_limited_functions(name):
    make, degree = GROUPS[name]
    ft = CompactFourierTransform(make(), degree)
    coeffs, f = band_limited(ft, (3,), seed=0)
    for got, expected in zip(ft.transform(f), coeffs, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)
    fresh = make().sample(40, seed=1)
    torch.testing.assert_close(
        ft.inverse(ft.transform(f), fresh), ft.inverse(coeffs, fresh), atol=1e-10, rtol=0
    )
    power = ft.power(f)
    assert power.shape == (len(ft.irreps) + 1, 3)
    assert float(power[-1].abs().max()) < 1e-10  # nothing above the degree
    torch.testing.assert_close(power.sum(0), (ft.weights[:, None] * f * f).sum(0), atol=1e-10, rtol=0)


def test_power_above_the_degree_is_the_residual_and_fractions_add_to_one():
    ft = CompactFourierTransform(so2(), 3)
    theta = torch.atan2(ft.nodes[:, 1, 0], ft.nodes[:, 0, 0])
    f = torch.stack(
        [2 + torch.cos(2 * theta), torch.sign(torch.sin(theta)) + 0.0]
    )  # the second: a square wave
    frac = ft.variance_fraction(f.T)
    torch.testing.assert_close(
        frac[:, 0], torch.tensor([0, 0, 1.0, 0, 0], dtype=torch.float64), atol=1e-12, rtol=0
    )
    # the square wave's k = 5 (and part of 7, 9, … aliased onto 5, 3, 1 by the 13 nodes) lies
    # above the kept degrees: it is the residual row, and the fractions are of the whole
    assert float(frac[-1, 1]) > 0.01 and float(frac[:, 1].sum()) == pytest.approx(1.0)
    assert float(frac[1, 1]) > 0.7  # its k = 1 share is 8/π² = 0.81 in the continuum


def test_a_single_irreps_matrix_coefficient_is_all_in_that_irrep():
    ft = CompactFourierTransform(so3(), 3)
    f = so3().irrep("l=2")(ft.nodes)[:, 0, 3]
    frac = ft.variance_fraction(f)
    assert ft.labels[int(frac.argmax())] == "l=2" and float(frac.max()) == pytest.approx(1.0, abs=1e-12)


def test_sphere_harmonics_are_orthonormal_equivariant_and_the_textbook_ones():
    x, w = sphere_quadrature(12)
    ys = sphere_harmonics(x, 6)
    y = torch.cat(ys, dim=-1)
    torch.testing.assert_close(
        torch.einsum("n,ni,nj->ij", w, y, y), torch.eye(49, dtype=torch.float64), atol=1e-12, rtol=0
    )
    r = so3().sample(5, seed=2)
    for ell, y_ell in enumerate(ys):
        rotated = sphere_harmonics(torch.einsum("rij,nj->rni", r, x), ell)[ell]  # Y(Rx)
        expected = torch.einsum("rij,nj->rni", so3().irrep(f"l={ell}")(r), y_ell)  # D(R) Y(x)
        torch.testing.assert_close(rotated, expected, atol=1e-10, rtol=0)
    # probability-normalised: Y_1 = √3 (y, z, x), Y_20 = √5 (3z² − 1)/2
    torch.testing.assert_close(ys[1], math.sqrt(3) * x[:, [1, 2, 0]], atol=1e-12, rtol=0)
    torch.testing.assert_close(ys[2][:, 2], math.sqrt(5) * (3 * x[:, 2] ** 2 - 1) / 2, atol=1e-12, rtol=0)


def test_sphere_quadrature_is_exact_to_its_degree():
    """E[z^{2j}] = 1/(2j+1) on the sphere: exact up to degree 2j ≤ the rule's."""
    for degree in (0, 3, 8):
        x, w = sphere_quadrature(degree)
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-14)
        for j in range(degree // 2 + 1):
            assert float((w * x[:, 2] ** (2 * j)).sum()) == pytest.approx(1 / (2 * j + 1), abs=1e-13)


def test_bad_shapes_are_refused_by_name():
    ft = CompactFourierTransform(so2(), 2)
    with pytest.raises(
        ShapeError,
        match=r"`f` must be \[N=9, \.\.\.\], its values at the transform's nodes, got shape \(4,\)",
    ):
        ft.power(torch.zeros(4))
    with pytest.raises(ShapeError, match=r"`x` must be unit vectors \[\.\.\., 3\], got shape \(2,\)"):
        sphere_harmonics(torch.zeros(2), 1)
    with pytest.raises(ShapeError, match=r"`x` must be unit vectors: \|x\| ranges over \[2, 2\]"):
        sphere_harmonics(torch.tensor([[2.0, 0.0, 0.0]]), 1)
    with pytest.raises(ShapeError, match=r"`degree` \(=-1\) must be a non-negative integer"):
        sphere_quadrature(-1)


def test_a_finite_subgroup_is_transformed_over_its_elements_with_its_own_irreps():
    """D4 ⊂ O(2): every function on its 8 elements is carried by its 5 irreps (no residual), inverts,
    and a function of the matrices' rotation angle of frequency 2 lands in D4's two signs of r."""
    from nerve import RepresentationError
    from nerve.groups import finite_subgroup

    D4 = finite_subgroup(o2(), "D4")
    ft = CompactFourierTransform(D4)
    f = torch.randn(8, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    power = ft.power(f)
    assert float(power[-1].abs().max()) < 1e-14
    torch.testing.assert_close(ft.inverse(ft.transform(f), ft.nodes[[3, 5]]), f[[3, 5]], atol=1e-12, rtol=0)
    cos2 = torch.cos(2 * torch.atan2(D4.elements[:, 1, 0], D4.elements[:, 0, 0]))
    frac = ft.variance_fraction(cos2)
    assert {ft.labels[i] for i in torch.nonzero(frac > 1e-12).flatten().tolist()} == {"sign(r)"}
    with pytest.raises(
        ShapeError, match=r"`max_degree` \(=2\) and `resolution` \(=None\) are for compact groups"
    ):
        CompactFourierTransform(D4, 2)
    with pytest.raises(RepresentationError, match=r"`g` has elements outside FiniteSubgroup\(D4 ⊂ O\(2\)\)"):
        ft.irrep_values(o2().element(torch.tensor([0.1])))
