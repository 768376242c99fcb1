"""SO(2), O(2), SO(3), O(3): irreps are homomorphisms to 1e-10, Schur orthogonal under the exact
quadrature to 1e-8, with the closed-form characters, and SO(3)'s agree with e3nn's Wigner-D up to a
change of basis."""

import math

import pytest
import torch

from nerve import GroupError, RepresentationError
from nerve.groups import finite_subgroup, o2, o3, so2, so3
from nerve.groups._rotations import quaternion_of, rotation_vector

GROUPS = {"SO(2)": (so2, 12), "O(2)": (o2, 12), "SO(3)": (so3, 10), "O(3)": (o3, 6)}


@pytest.fixture(params=list(GROUPS))
def group_and_degree(request):
    make, degree = GROUPS[request.param]
    return make(), degree


def test_irreps_are_orthogonal_homomorphisms_on_haar_samples(group_and_degree):
    G, degree = group_and_degree
    g, h = G.sample(200, seed=1), G.sample(200, seed=2)
    for rho in G.irreps(degree):
        a, b = rho(g), rho(h)
        eye = torch.eye(rho.dim, dtype=torch.float64)
        assert float((a @ a.mT - eye).abs().max()) <= 1e-10, rho
        assert float((a @ b - rho(g @ h)).abs().max()) <= 1e-10, rho
        assert float((rho(G.identity[None]) - eye).abs().max()) <= 1e-12, rho


def test_the_lie_algebra_exponentiates_to_the_irrep(group_and_degree):
    """ρ(exp(Σ tᵢXᵢ)) = exp(Σ tᵢ dρ(Xᵢ)): the generators are the irrep's derivative at the identity."""
    G, degree = group_and_degree
    t = torch.randn(50, len(G.lie_algebra), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", t, G.lie_algebra))
    for rho in G.irreps(degree):
        expected = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", t, rho.generators))
        torch.testing.assert_close(rho(g), expected, atol=1e-10, rtol=0)


def commutant(rho):
    """An orthonormal basis (⟨A, B⟩ = tr(AᵀB)/d) of End_G(ρ): I, and for complex type the unit
    complex structure dρ(X)/k of the rotations."""
    eye = torch.eye(rho.dim, dtype=torch.float64)
    return [eye] if rho.type == "real" else [eye, rho.generators[0] / rho.degree]


def test_schur_orthogonality_under_the_quadrature(group_and_degree):
    """∫ ρ(g)ᵢⱼ σ(g)ₖₗ dg = δ_ρσ (1/d) Σ_u u_ik u_jl over an orthonormal basis u of End_G(ρ),
    by the rule of degree 2·max degree, to 1e-8."""
    G, degree = group_and_degree
    g, w = G.quadrature(2 * degree)
    irreps = G.irreps(degree)
    values = [rho(g) for rho in irreps]
    for i, (rho, a) in enumerate(zip(irreps, values, strict=True)):
        for sigma, b in zip(irreps[i:], values[i:], strict=True):
            integral = torch.einsum("n,nij,nkl->ijkl", w, a, b)
            expected = torch.zeros_like(integral)
            if sigma is rho:
                expected = sum(torch.einsum("ik,jl->ijkl", u, u) for u in commutant(rho)) / rho.dim
            assert float((integral - expected).abs().max()) <= 1e-8, (rho, sigma)


def test_characters_are_their_closed_forms():
    theta = torch.linspace(0.01, math.pi - 0.01, 97, dtype=torch.float64)
    axis = torch.nn.functional.normalize(torch.randn(97, 3, dtype=torch.float64), dim=-1)
    r = torch.linalg.matrix_exp(torch.einsum("n,nk,kij->nij", theta, axis, so3().lie_algebra))
    for ell in range(11):
        rho = so3().irrep(f"l={ell}")
        closed = torch.sin((2 * ell + 1) * theta / 2) / torch.sin(theta / 2)
        torch.testing.assert_close(rho.character(r), closed, atol=1e-10, rtol=0)
        torch.testing.assert_close(
            torch.diagonal(rho(r), dim1=-2, dim2=-1).sum(-1), closed, atol=1e-10, rtol=0
        )
        odd = o3().irrep(f"l={ell}o")
        torch.testing.assert_close(odd.character(-r), -closed, atol=1e-10, rtol=0)
    planar = so2().element(theta)
    for k in range(13):
        torch.testing.assert_close(
            so2().irrep(f"k={k}").character(planar), (2 - (k == 0)) * torch.cos(k * theta)
        )
    reflections = o2().element(theta, reflect=True)
    assert o2().irrep("k=3").character(reflections).abs().max() == 0
    assert torch.equal(o2().irrep("det").character(reflections), -torch.ones(97, dtype=torch.float64))


def test_characters_are_orthonormal_up_to_the_divisor(group_and_degree):
    """∫ χ_ρ χ_σ = δ_ρσ · c_ρ (1, or 2 for the complex-type rotations of SO(2))."""
    G, degree = group_and_degree
    g, w = G.quadrature(2 * degree)
    chi = torch.stack([rho.character(g) for rho in G.irreps(degree)])
    gram = torch.einsum("n,an,bn->ab", w, chi, chi)
    expected = torch.diag(torch.tensor([float(rho.divisor) for rho in G.irreps(degree)], dtype=torch.float64))
    torch.testing.assert_close(gram, expected, atol=1e-10, rtol=0)


def test_quadrature_is_exact_for_band_limited_functions_and_haar_samples_average_to_it():
    """On SO(3), f(g) = Σ_ℓ≤3 tr(Cℓ ρℓ(g)) has ∫ f = C₀ exactly by the rule of degree 3 (and by a finer
    one), and 40,000 Haar samples average to it within 4 standard errors."""
    gen = torch.Generator().manual_seed(0)
    coeffs = [torch.randn(2 * ell + 1, 2 * ell + 1, generator=gen, dtype=torch.float64) for ell in range(4)]

    def f(g):
        return sum(torch.einsum("ij,nji->n", c, so3().irrep(f"l={ell}")(g)) for ell, c in enumerate(coeffs))

    for degree in (3, 7):
        g, w = so3().quadrature(degree)
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-14)
        assert float((w * f(g)).sum()) == pytest.approx(float(coeffs[0]), abs=1e-12)
    values = f(so3().sample(40_000, seed=4))
    assert abs(float(values.mean()) - float(coeffs[0])) < 4 * float(values.std()) / 200


@pytest.fixture
def float64_default():
    """e3nn builds its generators in the default dtype: in float32 its float64 D(g) is a homomorphism
    only to ~1e-6 (measured with e3nn 0.6.0), in float64 to 3e-14."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_so3_agrees_with_e3nn_up_to_a_change_of_basis(float64_default):
    """For ℓ ≤ 6, e3nn's D^ℓ(g) P = P D^ℓ_nerve(g) with one orthogonal P for all g, to 1e-10; P is the
    exact projection of a random matrix onto the intertwiners (the quadrature of degree 2ℓ)."""
    o3e3nn = pytest.importorskip("e3nn.o3")
    nodes, w = so3().quadrature(12)
    fresh = so3().sample(100, seed=5)
    for ell in range(7):
        rho = so3().irrep(f"l={ell}")
        theirs = o3e3nn.Irreps(f"{ell}e").D_from_matrix
        x = torch.randn(
            2 * ell + 1, 2 * ell + 1, generator=torch.Generator().manual_seed(ell), dtype=torch.float64
        )
        p = torch.einsum("n,nij,jk,nlk->il", w, theirs(nodes), x, rho(nodes))
        p = p * math.sqrt(2 * ell + 1) / torch.linalg.matrix_norm(p)
        torch.testing.assert_close(p @ p.T, torch.eye(2 * ell + 1, dtype=torch.float64), atol=1e-10, rtol=0)
        torch.testing.assert_close(theirs(fresh) @ p, p @ rho(fresh), atol=1e-10, rtol=0)


def test_rotation_logarithm_is_stable_at_zero_and_at_pi():
    axis = torch.nn.functional.normalize(torch.randn(20, 3, dtype=torch.float64), dim=-1)
    for theta in (0.0, 1e-12, 1e-6, math.pi - 1e-9, math.pi):
        omega = theta * axis
        r = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", omega, so3().lie_algebra))
        back = torch.linalg.matrix_exp(torch.einsum("nk,kij->nij", rotation_vector(r), so3().lie_algebra))
        torch.testing.assert_close(back, r, atol=1e-12, rtol=0)
        assert bool((quaternion_of(r)[:, 0] >= 0).all())
        assert float(torch.linalg.vector_norm(rotation_vector(r), dim=-1).max()) <= math.pi + 1e-12


def test_o3_parity_and_the_defining_representation():
    g = o3().sample(50, seed=6)
    vector = o3().irrep("l=1o")(g)
    torch.testing.assert_close(vector, g[:, [1, 2, 0]][:, :, [1, 2, 0]], atol=1e-12, rtol=0)
    pseudo = o3().irrep("l=0o")(g)[:, 0, 0]
    torch.testing.assert_close(pseudo, torch.linalg.det(g), atol=1e-12, rtol=0)
    assert [rho.label for rho in o3().irreps(1)] == ["l=0e", "l=0o", "l=1e", "l=1o"]
    assert [rho.label for rho in o2().irreps(2)] == ["k=0", "det", "k=1", "k=2"]


def test_bad_elements_and_labels_are_refused_by_name():
    with pytest.raises(
        GroupError, match=r"elements of SO\(3\) are \[\.\.\., 3, 3\] matrices, got shape \(2, 2\)"
    ):
        so3().irrep("l=1")(torch.eye(2))
    with pytest.raises(GroupError, match=r"`g` is not in SO\(3\).*det g is 2\.00e\+00 from 1"):
        so3().irrep("l=1")(-torch.eye(3))
    with pytest.raises(GroupError, match=r"`g` is not in O\(2\): max\|gᵀg − I\| = 3\.00e\+00"):
        o2().irrep("k=1")(2 * torch.eye(2))
    with pytest.raises(
        RepresentationError, match=r"`label` \(='l=1'\) is not an irrep of O\(3\): 'l=Le' or 'l=Lo'"
    ):
        o3().irrep("l=1")
    with pytest.raises(RepresentationError, match=r"`label` \(='k=-1'\) is not an irrep of SO\(2\)"):
        so2().irrep("k=-1")
    with pytest.raises(RepresentationError, match=r"`max_degree` \(=-1\) must be a non-negative integer"):
        so3().irreps(-1)
    with pytest.raises(GroupError, match=r"`degree` \(=1\.5\) must be a non-negative integer"):
        so2().quadrature(1.5)
    with pytest.raises(GroupError, match=r"`reflect` \(=True\): SO\(2\) has no reflections"):
        so2().element(torch.tensor(0.0), reflect=True)


def series(numerator, denominator, terms):
    """Power-series coefficients of Π(1 + t^a)/Π(1 − t^b) up to t^(terms − 1)."""
    c = [1] + [0] * (terms - 1)
    for a in numerator:
        c = [c[i] + (c[i - a] if i >= a else 0) for i in range(terms)]
    for b in denominator:
        for i in range(b, terms):
            c[i] += c[i - b]
    return c


@pytest.mark.parametrize(
    "name, molien",  # invariant harmonics of the rotation groups (Meyer 1954): Σ_ℓ m_trivial(ℓ) t^ℓ
    [("A4", ((6,), (3, 4))), ("S4", ((9,), (4, 6))), ("A5", ((15,), (6, 10)))],
)
def test_restricting_so3_to_the_polyhedral_groups_counts_their_invariants(name, molien):
    """ℓ ≤ 20 of SO(3) restricted to the tetrahedral, octahedral and icosahedral rotation groups: the
    trivial irrep's multiplicity is the Molien series' coefficient, each isotypic projector
    (d_σ/(c_σ|H|)) Σ_h χ_σ(h) ρ(h) is a projector of rank m_σ d_σ, and the dimensions add up."""
    H = finite_subgroup(so3(), name)
    expected = series(*molien, 21)
    for ell in range(21):
        rho = so3().irrep(f"l={ell}")
        counts = H.restrict(rho)
        trivial = H.group.irreps()[0]
        assert counts.get(trivial.label, 0) == expected[ell], ell
        matrices = rho(H.elements)
        for sigma in H.group.irreps():
            p = (
                torch.einsum("h,hij->ij", sigma.character, matrices)
                * sigma.dim
                / (sigma.divisor * H.group.order)
            )
            torch.testing.assert_close(p @ p, p, atol=1e-10, rtol=0)
            assert round(float(torch.trace(p))) == counts.get(sigma.label, 0) * sigma.dim


def test_planar_subgroups_restrict_by_frequency_mod_n():
    """k of SO(2) on C_n is the frequency k mod n folded into [0, n/2]; on D_n, k ≡ 0 or n/2 splits in two signs."""
    for n in (3, 5, 8):
        H = finite_subgroup(so2(), f"C{n}")
        for k in range(1, 3 * n):
            counts = H.restrict(so2().irrep(f"k={k}"))
            folded = min(k % n, n - k % n)
            # R(kθ) on θ = 2πa/n: the identity when n | k, and (−1)^a twice when k ≡ n/2
            expected = {f"k={folded}": 2} if folded == 0 or 2 * folded == n else {f"k={folded}": 1}
            assert counts == expected, (n, k, counts)
    D4 = finite_subgroup(o2(), "D4")
    assert D4.restrict(o2().irrep("k=1")) == {"k=1": 1}
    assert D4.restrict(o2().irrep("k=4")) == {"trivial": 1, "sign": 1}
    assert D4.restrict(o2().irrep("det")) == {"sign": 1}
    assert finite_subgroup(so3(), "D3").restrict(so3().irrep("l=2")) == {"trivial": 1, "k=1": 2}


def test_embeddings_are_checked_and_unknown_subgroups_refused():
    from nerve.groups import FiniteSubgroup, cyclic

    with pytest.raises(GroupError, match=r"not a homomorphism of C4 into SO\(2\)"):
        FiniteSubgroup(cyclic(4), so2(), so2().element(torch.tensor([0.0, 1.0, 2.0, 3.0])))
    with pytest.raises(GroupError, match=r"embedding of C4 into SO\(2\) is not faithful"):
        FiniteSubgroup(cyclic(4), so2(), so2().element(torch.tensor([0.0, 0.0, 0.0, 0.0])))
    with pytest.raises(
        GroupError, match=r"`name` \(='D4'\) is not a finite subgroup nerve embeds in SO\(2\)"
    ):
        finite_subgroup(so2(), "D4")
    with pytest.raises(GroupError, match=r"`name` \(='A5'\) is not a finite subgroup nerve embeds in O\(2\)"):
        finite_subgroup(o2(), "A5")
    with pytest.raises(RepresentationError, match=r"is an irrep of SO\(3\), not of O\(3\)"):
        finite_subgroup(o3(), "A5").restrict(so3().irrep("l=1"))
