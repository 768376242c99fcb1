"""The group Fourier transform: definition, inverse, Plancherel, projections, variance, FFT path."""

import math

import pytest
import torch

from nerve import RepresentationError, ShapeError
from nerve.groups import FourierTransform, cyclic, direct_product, parse_group, quaternion, symmetric

GROUPS = ["C7", "C12", "D5", "S4", "A4", "Q8", "C2xS3", "C3xQ8"]


def _random(shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", GROUPS)
def test_forward_is_the_definition(name):
    G = parse_group(name)
    ft = FourierTransform(G, method="matmul")
    f = _random((G.order, 3, 2))
    coeffs = ft.forward(f)
    for rho, c in zip(G.irreps(), coeffs):
        want = torch.einsum("gij,gab->ijab", rho.matrices, f)  # Σ_g f(g) ρ(g)
        torch.testing.assert_close(c, want)


@pytest.mark.parametrize("name", GROUPS)
def test_inverse_and_plancherel(name):
    G = parse_group(name)
    ft = FourierTransform(G)
    f = _random((G.order, 5))
    torch.testing.assert_close(ft.inverse(ft.forward(f)), f)
    torch.testing.assert_close(ft.power(f).sum(0), (f**2).sum(0))


@pytest.mark.parametrize("name", GROUPS)
def test_isotypic_projections_are_orthogonal_idempotents_summing_to_identity(name):
    G = parse_group(name)
    ft = FourierTransform(G)
    f = _random((G.order, 4), seed=1)
    parts = [ft.project(f, [i]) for i in range(len(ft.components))]
    torch.testing.assert_close(sum(parts), f)
    for i, p in enumerate(parts):
        torch.testing.assert_close(ft.project(p, [i]), p)
        torch.testing.assert_close((p**2).sum(0), ft.power(f)[i])  # ‖P_ρ f‖² = w_ρ‖f̂(ρ)‖²
    torch.testing.assert_close(
        (parts[0] * parts[-1]).sum(0), torch.zeros(4, dtype=torch.float64), atol=1e-10, rtol=0
    )


def test_projection_commutes_with_translation():
    # isotypic components are two-sided ideals: P(f ∘ L_h) = (P f) ∘ L_h
    G = symmetric(4)
    ft = FourierTransform(G)
    f = _random((G.order,))
    h = G["(0 1 2)"].index
    shift = G.table[h]  # g ↦ h·g
    for i in range(len(ft.components)):
        torch.testing.assert_close(ft.project(f[shift], [i]), ft.project(f, [i])[shift])


def test_a_character_lives_in_its_own_component():
    G = symmetric(5)
    ft = FourierTransform(G)
    for i, rho in enumerate(G.irreps()):
        frac = ft.variance_fraction(rho.character, center=False)
        assert frac.argmax().item() == i
        torch.testing.assert_close(frac[i], torch.tensor(1.0, dtype=torch.float64))


def test_variance_fraction_of_a_pure_frequency_on_a_cyclic_group():
    p = 113
    G = cyclic(p)
    ft = FourierTransform(G)
    a = torch.arange(p, dtype=torch.float64)
    f = torch.stack([3 + torch.cos(2 * math.pi * 14 * a / p), torch.sin(2 * math.pi * 35 * a / p)], -1)
    frac = ft.variance_fraction(f)
    assert frac[:, 0].argmax().item() == 14 and frac[:, 1].argmax().item() == 35
    torch.testing.assert_close(frac.sum(0), torch.ones(2, dtype=torch.float64))
    assert frac[ft.trivial].abs().max() == 0  # the mean is not variance
    uncentred = ft.variance_fraction(f, center=False)
    torch.testing.assert_close(uncentred[0, 0], torch.tensor(9 / (9 + 0.5), dtype=torch.float64))


def test_constant_function_has_undefined_variance_fractions():
    ft = FourierTransform(cyclic(5))
    assert torch.isnan(ft.variance_fraction(torch.ones(5))).all()


@pytest.mark.parametrize("n", [64, 113, 128, 3])
def test_fft_path_equals_the_matrix_path(n):
    G = cyclic(n)
    fft, mat = FourierTransform(G, method="fft"), FourierTransform(G, method="matmul")
    f = _random((n, 6))
    for a, b in zip(fft.forward(f), mat.forward(f)):
        torch.testing.assert_close(a, b)
    coeffs = mat.forward(_random((n, 6), seed=3))
    torch.testing.assert_close(fft.inverse(coeffs), mat.inverse(coeffs))
    assert FourierTransform(G).fft == (n >= 64)


@pytest.mark.parametrize("name", ["C3", "C4", "S3", "Q8", "D4", "A4"])
def test_two_argument_transform_is_the_transform_on_the_product_group(name):
    G = parse_group(name)
    GG = direct_product(G, G)
    ft2 = FourierTransform(G, arity=2, method="matmul")
    ft_gg = FourierTransform(GG, method="matmul")
    assert [c.label for c in ft2.components] == [r.label for r in GG.irreps()]
    f = _random((G.order, G.order, 3))
    for a, b in zip(ft2.forward(f), ft_gg.forward(f.reshape(-1, 3))):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(ft2.power(f), ft_gg.power(f.reshape(-1, 3)))


@pytest.mark.parametrize(
    ("name", "method"), [("C113", "auto"), ("S4", "auto"), ("Q8", "auto"), ("C12", "fft")]
)
def test_two_argument_inverse_and_plancherel(name, method):
    G = parse_group(name)
    ft = FourierTransform(G, arity=2, method=method)
    f = _random((G.order, G.order, 2))
    torch.testing.assert_close(ft.inverse(ft.forward(f)), f)
    torch.testing.assert_close(ft.power(f).sum(0), (f**2).sum((0, 1)))
    part = ft.project(f, [len(ft.components) - 1])
    torch.testing.assert_close(ft.project(part, [len(ft.components) - 1]), part)


def test_sum_and_difference_frequencies_of_a_neuron():
    # cos(w(a+b)) lives in π_k ⊗ π_k; cos(w(a−b)) in π_k ⊗ π̄_k (the "*" component)
    p, k = 59, 7
    ft = FourierTransform(cyclic(p), arity=2)
    a = torch.arange(p, dtype=torch.float64)
    w = 2 * math.pi * k / p
    f = torch.stack([torch.cos(w * (a[:, None] + a[None, :])), torch.cos(w * (a[:, None] - a[None, :]))], -1)
    frac = ft.variance_fraction(f)
    labels = [c.label for c in ft.components]
    assert labels[frac[:, 0].argmax()] == f"k={k} ⊗ k={k}"
    assert labels[frac[:, 1].argmax()] == f"k={k} ⊗ k={k}*"
    torch.testing.assert_close(frac.max(0).values, torch.ones(2, dtype=torch.float64))


def test_float32_input_stays_float32():
    ft = FourierTransform(quaternion())
    f = torch.randn(8, 10)
    assert ft.forward(f)[0].dtype == torch.float32
    torch.testing.assert_close(ft.inverse(ft.forward(f)), f, atol=1e-5, rtol=1e-5)


def test_bad_arguments_are_named():
    G = symmetric(3)
    with pytest.raises(
        ShapeError, match=r"`f` must have shape \[\|G\|, \.\.\.\] with \|G\|=6 for S3, got \(5, 2\)"
    ):
        FourierTransform(G).forward(torch.ones(5, 2))
    with pytest.raises(
        ShapeError, match=r"`f` must have shape \[\|G\|, \|G\|, \.\.\.\] with \|G\|=6 for S3, got \(6, 5\)"
    ):
        FourierTransform(G, arity=2).forward(torch.ones(6, 5))
    with pytest.raises(ShapeError, match=r"`arity` \(=3\) must be 1 or 2"):
        FourierTransform(G, arity=3)
    with pytest.raises(
        ShapeError, match=r"`method` \(='fft'\) needs a cyclic group built by cyclic\(n\), got S3"
    ):
        FourierTransform(G, method="fft")
    with pytest.raises(ShapeError, match=r"`method` \(='dft'\) must be 'auto', 'matmul' or 'fft'"):
        FourierTransform(G, method="dft")
    with pytest.raises(RepresentationError, match=r"no component labelled 'k=1'; the labels are \['\[3\]'"):
        FourierTransform(G).project(torch.ones(6), ["k=1"])
    with pytest.raises(ShapeError, match=r"one matrix per component \(3\), got 1"):
        FourierTransform(G).inverse([torch.ones(1, 1)])
