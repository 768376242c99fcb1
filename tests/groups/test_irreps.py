"""Real irreps: homomorphisms, orthogonal, orthonormal characters, the right count; exact = numerical."""

import pytest
import torch

from nerve import GroupError, RepresentationError
from nerve.groups import (
    Irrep,
    alternating,
    cyclic,
    dihedral,
    from_permutations,
    from_table,
    parse_group,
    quaternion,
    symmetric,
)
from nerve.groups._build_irreps import numerical_irreps

KLEIN_168 = ["(0 1 2 3 4 5 6)", "(1 2)(3 6)"]

GROUPS = {
    "C1": lambda: cyclic(1),
    "C2": lambda: cyclic(2),
    "C12": lambda: cyclic(12),
    "C113": lambda: cyclic(113),
    "D1": lambda: dihedral(1),
    "D4": lambda: dihedral(4),
    "D59": lambda: dihedral(59),
    "D60": lambda: dihedral(60),
    "S3": lambda: symmetric(3),
    "S5": lambda: symmetric(5),
    "S6": lambda: symmetric(6),
    "A4": lambda: alternating(4),
    "A5": lambda: alternating(5),
    "A6": lambda: alternating(6),
    "Q8": quaternion,
    "C2xS3": lambda: parse_group("C2xS3"),
    "C3xC5": lambda: parse_group("C3xC5"),
    "C4xQ8": lambda: parse_group("C4xQ8"),
    "Q8xQ8": lambda: parse_group("Q8xQ8"),
    "C3xA4xC2": lambda: parse_group("C3xA4xC2"),
    "PSL(2,7)": lambda: from_permutations(KLEIN_168),
}


@pytest.fixture(scope="module", params=list(GROUPS))
def group(request):
    return GROUPS[request.param]()


def test_irreps_are_orthogonal_homomorphisms(group):
    for rho in group.irreps():
        assert rho.homomorphism_error() <= 1e-9, rho.label
        eye = torch.eye(rho.dim, dtype=torch.float64).expand_as(rho.matrices)
        torch.testing.assert_close(rho.matrices @ rho.matrices.mT, eye, atol=1e-12, rtol=0)
        torch.testing.assert_close(rho(group.identity), torch.eye(rho.dim, dtype=torch.float64))


def test_count_of_real_irreps(group):
    irreps = group.irreps()
    assert sum(rho.dim**2 / rho.divisor for rho in irreps) == group.order
    # as many complex irreps as conjugacy classes: complex-type real irreps hold two
    assert sum(2 if rho.type == "complex" else 1 for rho in irreps) == len(group.conjugacy_classes)


def test_characters_are_orthogonal_with_the_type_as_norm(group):
    chars = torch.stack([rho.character for rho in group.irreps()])
    gram = chars @ chars.T / group.order  # real characters: χ(g⁻¹) = χ(g)
    norms = torch.tensor([float(rho.divisor) for rho in group.irreps()], dtype=torch.float64)
    torch.testing.assert_close(gram, torch.diag(norms), atol=1e-10, rtol=0)


def test_commutant_basis_is_schurs_division_algebra(group):
    for rho in group.irreps():
        basis = rho.commutant_basis
        assert len(basis) == rho.divisor
        for unit in basis[1:]:
            eye = torch.eye(rho.dim, dtype=torch.float64)
            torch.testing.assert_close(unit @ unit, -eye, atol=1e-10, rtol=0)
            torch.testing.assert_close(rho.matrices @ unit, unit @ rho.matrices, atol=1e-10, rtol=0)
        if rho.type == "quaternionic":
            i, j, k = basis[1:]
            torch.testing.assert_close(i @ j, k, atol=1e-10, rtol=0)
            torch.testing.assert_close(j @ i, -k, atol=1e-10, rtol=0)


def _character_multiset(irreps):
    return sorted((rho.type, *[round(float(x), 8) + 0.0 for x in rho.character]) for rho in irreps)


@pytest.mark.parametrize(
    "make",
    [
        lambda: cyclic(12),
        lambda: dihedral(6),
        lambda: symmetric(4),
        lambda: symmetric(5),
        lambda: alternating(5),
        lambda: parse_group("C2xS3"),
        lambda: parse_group("C3xQ8"),
        lambda: parse_group("C4xC4"),
    ],
)
def test_numerical_construction_agrees_with_the_exact_one(make):
    exact = make()
    bare = from_table(exact.table)  # the same group, given only by its table
    assert bare.family is None
    numerical = bare.irreps()
    assert _character_multiset(numerical) == _character_multiset(exact.irreps())
    assert _character_multiset(numerical_irreps(exact)) == _character_multiset(exact.irreps())


def test_group_of_order_168_from_generators():
    G = from_permutations(KLEIN_168)
    assert G.order == 168 and len(G.conjugacy_classes) == 6
    shape = [(rho.dim, rho.type) for rho in G.irreps()]
    # 3 and its conjugate 3̄ form one real irrep of complex type, of dimension 6
    assert shape == [(1, "real"), (6, "real"), (6, "complex"), (7, "real"), (8, "real")]
    assert sorted(G.character_table().degrees) == [1, 3, 3, 6, 7, 8]


def test_alternating_labels_split_self_conjugate_partitions():
    labels = [rho.label for rho in alternating(5).irreps()]
    assert labels == ["[5]", "[4,1]", "[3,2]", "[3,1,1]+", "[3,1,1]-"]
    # in A4 the self-conjugate (2,2) does not split over R: one irrep of complex type
    assert [(r.label, r.type) for r in alternating(4).irreps()][-1] == ("[2,2]", "complex")


def test_cyclic_irreps_are_rotation_blocks_by_frequency():
    G = cyclic(7)
    for k, rho in enumerate(G.irreps()):
        assert rho.label == f"k={k}"
        theta = torch.tensor(2 * torch.pi * k / 7, dtype=torch.float64)
        if k:
            rot = torch.stack(
                [torch.stack([theta.cos(), -theta.sin()]), torch.stack([theta.sin(), theta.cos()])]
            )
            torch.testing.assert_close(rho(1), rot)


def test_symmetric_irreps_are_labelled_by_partitions_with_hook_length_dimensions():
    dims = {rho.label: rho.dim for rho in symmetric(6).irreps()}
    assert dims == {
        "[6]": 1, "[5,1]": 5, "[4,2]": 9, "[4,1,1]": 10, "[3,3]": 5, "[3,2,1]": 16,
        "[3,1,1,1]": 10, "[2,2,2]": 5, "[2,2,1,1]": 9, "[2,1,1,1,1]": 5, "[1,1,1,1,1,1]": 1,
    }  # fmt: skip


def test_product_irreps_record_their_factors():
    G = parse_group("C3xC3")
    labels = {rho.label: rho.factors for rho in G.irreps()}
    # C ⊗ C splits into π⊗τ and π⊗τ̄
    assert labels["k=1 ⊗ k=1"] == (1, 1) and labels["k=1 ⊗ k=1*"] == (1, 1)
    # π⊗τ carries e^{2πi(a+b)/3}: constant on the anti-diagonal a + b = const
    rho = next(r for r in G.irreps() if r.label == "k=1 ⊗ k=1")
    chi = rho.character.reshape(3, 3)
    torch.testing.assert_close(chi[0, 1], chi[1, 0])
    torch.testing.assert_close(chi[2, 2], chi[1, 0])


def test_irrep_rejects_a_map_that_is_not_a_homomorphism():
    G = cyclic(4)
    mats = G.irreps()[1].matrices.clone()
    mats[3] = mats[1]  # ρ(3) = ρ(1): orthogonal still, but not a homomorphism
    with pytest.raises(
        RepresentationError, match=r"'bad' is not a homomorphism: max\|ρ\(g\)ρ\(s\) - ρ\(gs\)\|"
    ):
        Irrep(G, mats, "bad", "complex")


def test_irrep_rejects_non_orthogonal_matrices_and_wrong_shapes():
    G = cyclic(3)
    with pytest.raises(RepresentationError, match="is not orthogonal"):
        Irrep(G, 2 * torch.ones(3, 1, 1), "two", "real")
    with pytest.raises(RepresentationError, match=r"must have shape \[\|G\|=3, d, d\], got \(2, 1, 1\)"):
        Irrep(G, torch.ones(2, 1, 1), "short", "real")
    with pytest.raises(RepresentationError, match="`type` \\(='complexish'\\) must be one of"):
        Irrep(G, torch.ones(3, 1, 1), "t", "complexish")


def test_irrep_rejects_a_wrong_type_and_a_reducible_representation():
    G = cyclic(3)
    with pytest.raises(RepresentationError, match="'k=1' is stated as real but its character says complex"):
        Irrep(G, G.irreps()[1].matrices, "k=1", "real")
    trivial2 = torch.eye(2, dtype=torch.float64).expand(3, 2, 2)
    with pytest.raises(
        RepresentationError,
        match=r"'1\+1' is reducible: its character has ⟨χ,χ⟩ = 4.000 and \(1/\|G\|\)Σχ\(g²\) = 2.000",
    ):
        Irrep(G, trivial2, "1+1", "real")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("X9", "cannot parse group name 'X9' at 'X9'"),
        ("Q12", "the only quaternion group nerve builds is Q8"),
        ("S8", r"`n` \(=8\) must be between 1 and 7"),
        ("C0", r"`n` \(=0\) must be between 1 and 10000"),
        ("C200xC200", "the product has order 40000, above the limit of 10000"),
        ("", "must be a group name"),
    ],
)
def test_group_names_that_do_not_parse(name, message):
    with pytest.raises(GroupError, match=message):
        parse_group(name)


def test_names_as_users_write_them():
    assert [parse_group(s).order for s in ("C113", "Z7", "D5", "S5", "A5", "Q8", "C2xS3", "C2×C2")] == [
        113, 7, 10, 120, 60, 8, 12, 4,
    ]  # fmt: skip


def test_from_permutations_rejects_bad_generators():
    with pytest.raises(GroupError, match="is not a permutation of range"):
        from_permutations([[0, 0, 1]])
    with pytest.raises(GroupError, match="must be disjoint"):
        from_permutations(["(0 1)(1 2)"])
    with pytest.raises(GroupError, match="not a permutation in cycle notation"):
        from_permutations(["0 1 2"])
    with pytest.raises(GroupError, match="more than 10000 elements"):
        from_permutations(["(0 1)", "(0 1 2 3 4 5 6 7)"])


@pytest.mark.slow
@pytest.mark.parametrize("make", [lambda: symmetric(7), lambda: alternating(7)])
def test_largest_symmetric_and_alternating_groups(make):
    G = make()
    irreps = G.irreps()
    assert sum(rho.dim**2 / rho.divisor for rho in irreps) == G.order
    assert max(rho.homomorphism_error() for rho in irreps) <= 1e-9
