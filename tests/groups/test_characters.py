"""Character tables against the published ones: degrees, values and Frobenius–Schur indicators.

The tables are the standard ones (James & Liebeck, "Representations and Characters of
Groups", for S3, S4, S5, A4, A5, D8 (our D4) and Q8; the ATLAS for PSL(2,7) = L2(7)),
written here as rows over classes named by a representative, each with its indicator.
"""

import cmath
import math

import pytest
import torch

from nerve import RepresentationError
from nerve.groups import (
    alternating,
    class_function,
    dihedral,
    from_permutations,
    inner_product,
    quaternion,
    symmetric,
)
from nerve.groups._permutations import parse_cycles

W = cmath.exp(2j * math.pi / 3)
PHI = (1 + math.sqrt(5)) / 2
ALPHA = (-1 + 1j * math.sqrt(7)) / 2

# group, class representatives (labels), rows as (Frobenius–Schur indicator, values)
PUBLISHED = {
    "S3": (
        lambda: symmetric(3),
        ["()", "(0 1)", "(0 1 2)"],
        [(1, [1, 1, 1]), (1, [1, -1, 1]), (1, [2, 0, -1])],
    ),
    "S4": (
        lambda: symmetric(4),
        ["()", "(0 1)", "(0 1)(2 3)", "(0 1 2)", "(0 1 2 3)"],
        [
            (1, [1, 1, 1, 1, 1]),
            (1, [1, -1, 1, 1, -1]),
            (1, [2, 0, 2, -1, 0]),
            (1, [3, 1, -1, 0, -1]),
            (1, [3, -1, -1, 0, 1]),
        ],
    ),
    "S5": (
        lambda: symmetric(5),
        ["()", "(0 1)", "(0 1)(2 3)", "(0 1 2)", "(0 1 2)(3 4)", "(0 1 2 3)", "(0 1 2 3 4)"],
        [
            (1, [1, 1, 1, 1, 1, 1, 1]),
            (1, [1, -1, 1, 1, -1, -1, 1]),
            (1, [4, 2, 0, 1, -1, 0, -1]),
            (1, [4, -2, 0, 1, 1, 0, -1]),
            (1, [5, 1, 1, -1, 1, -1, 0]),
            (1, [5, -1, 1, -1, -1, 1, 0]),
            (1, [6, 0, -2, 0, 0, 0, 1]),
        ],
    ),
    "A4": (
        lambda: alternating(4),
        ["()", "(0 1)(2 3)", "(0 1 2)", "(0 2 1)"],
        [(1, [1, 1, 1, 1]), (0, [1, 1, W, W**2]), (0, [1, 1, W**2, W]), (1, [3, -1, 0, 0])],
    ),
    "A5": (
        lambda: alternating(5),
        ["()", "(0 1)(2 3)", "(0 1 2)", "(0 1 2 3 4)", "(0 2 4 1 3)"],
        [
            (1, [1, 1, 1, 1, 1]),
            (1, [3, -1, 0, PHI, 1 - PHI]),
            (1, [3, -1, 0, 1 - PHI, PHI]),
            (1, [4, 0, 1, -1, -1]),
            (1, [5, 1, -1, 0, 0]),
        ],
    ),
    "D4": (
        lambda: dihedral(4),
        ["e", "r2", "r", "s", "rs"],
        [
            (1, [1, 1, 1, 1, 1]),
            (1, [1, 1, 1, -1, -1]),
            (1, [1, 1, -1, 1, -1]),
            (1, [1, 1, -1, -1, 1]),
            (1, [2, -2, 0, 0, 0]),
        ],
    ),
    "Q8": (
        quaternion,
        ["1", "-1", "i", "j", "k"],
        [
            (1, [1, 1, 1, 1, 1]),
            (1, [1, 1, 1, -1, -1]),
            (1, [1, 1, -1, 1, -1]),
            (1, [1, 1, -1, -1, 1]),
            (-1, [2, -2, 0, 0, 0]),  # the quaternionic one: what tells Q8 from D4
        ],
    ),
    "PSL(2,7)": (
        lambda: from_permutations(["(0 1 2 3 4 5 6)", "(1 2)(3 6)"]),
        None,  # representatives by element order, and g, g⁻¹ for the two classes of order 7
        [
            (1, [1, 1, 1, 1, 1, 1]),
            (0, [3, -1, 0, 1, ALPHA, ALPHA.conjugate()]),
            (0, [3, -1, 0, 1, ALPHA.conjugate(), ALPHA]),
            (1, [6, 2, 0, 0, -1, -1]),
            (1, [7, -1, 1, -1, 0, 0]),
            (1, [8, 0, -1, 0, 1, 1]),
        ],
    ),
}


def _representatives(G):
    orders = G.element_orders.tolist()
    seven = G["(0 1 2 3 4 5 6)"]
    return [G.labels[orders.index(k)] for k in (1, 2, 3, 4)] + [seven.label, (~seven).label]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_character_table_equals_the_published_one(name):
    make, reps, rows = PUBLISHED[name]
    G = make()
    reps = reps or _representatives(G)
    table = G.character_table()
    columns = [int(G.class_of[G.index(r)]) for r in reps]
    assert sorted(columns) == list(range(len(table.labels))), "representatives must cover every class"
    ours = [(fs, table.values[i, columns]) for i, fs in enumerate(table.indicators)]
    assert sorted(table.degrees) == sorted(round(abs(v[0])) for _, v in rows)
    unmatched = list(range(len(ours)))
    for fs, values in rows:
        want = torch.tensor(values, dtype=torch.complex128)
        match = [i for i in unmatched if ours[i][0] == fs and torch.allclose(ours[i][1], want, atol=1e-9)]
        assert match, f"{name}: published row {values} (FS {fs}) is not in the table"
        unmatched.remove(match[0])
    assert not unmatched


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_rows_and_columns_are_orthogonal(name):
    G = PUBLISHED[name][0]()
    table = G.character_table()
    k = len(table.labels)
    torch.testing.assert_close(table.gram(), torch.eye(k, dtype=torch.complex128), atol=1e-10, rtol=0)
    # second orthogonality: Σ_χ χ(g) conj χ(h) = |C_G(g)| δ_{gh}
    centralisers = torch.tensor([G.order / s for s in table.class_sizes], dtype=torch.complex128)
    torch.testing.assert_close(
        table.values.conj().T @ table.values, torch.diag(centralisers), atol=1e-9, rtol=0
    )


def test_class_functions_and_inner_product():
    G = symmetric(4)
    table = G.character_table()
    # the permutation character of S4 on 4 points: number of fixed points = 1 + χ_[3,1]
    fixed = torch.tensor([sum(p == c for c, p in enumerate(parse_cycles(label, 4))) for label in G.labels])
    fixed = fixed.to(torch.complex128)
    multiplicities = [inner_product(G, fixed, class_function(G, row)).real.item() for row in table.values]
    assert [round(m, 9) for m in multiplicities] == [1, 1, 0, 0, 0]
    per_class = fixed[list(table.representatives)]
    torch.testing.assert_close(
        table.inner(per_class, table.values[1]), torch.tensor(1.0 + 0j, dtype=torch.complex128)
    )


def test_class_function_and_inner_product_check_shapes():
    G = symmetric(3)
    with pytest.raises(RepresentationError, match=r"one entry per conjugacy class \(3\), got shape \(2,\)"):
        class_function(G, torch.ones(2))
    with pytest.raises(RepresentationError, match=r"`h` must have \|G\|=6 values along its first axis"):
        inner_product(G, torch.ones(6), torch.ones(5))
