"""FiniteGroup: validation of tables with the offending elements named, and the group's data."""

import math
import re

import pytest
import torch

from nerve import GroupError
from nerve.groups import FiniteGroup, cyclic, dihedral, from_table, quaternion, symmetric

Z3 = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]


def test_table_that_is_not_a_latin_square_names_the_repeat():
    with pytest.raises(GroupError, match=r"not a Latin square: row 'b' repeats 'a' \(b\*a = b\*c = a\)"):
        from_table([[0, 1, 2], [0, 2, 0], [2, 0, 1]], labels=["a", "b", "c"])


def test_table_with_repeated_column_entry_is_not_a_latin_square():
    with pytest.raises(GroupError, match=r"column '0' repeats '1' \(1\*0 = 2\*0 = 1\)"):
        from_table([[0, 1, 2], [1, 2, 0], [1, 0, 2]])


def test_table_without_identity_names_the_left_identity_that_fails():
    # x*y = y - x mod 3: 0 is a left identity, but x*0 = -x.
    table = [[(y - x) % 3 for y in range(3)] for x in range(3)]
    with pytest.raises(GroupError, match=r"no identity: '0' is a left identity but 1\*0 = 2, not 1"):
        from_table(table)


def test_table_without_any_one_sided_identity():
    table = [[(2 * x + 2 * y + 1) % 3 for y in range(3)] for x in range(3)]
    with pytest.raises(GroupError, match=r"no identity: no element e with e\*x = x\*e = x for every x"):
        from_table(table)


def test_non_associative_loop_names_a_failing_triple():
    # The smallest loop that is not a group: order 5, identity 0, Latin square.
    table = [
        [0, 1, 2, 3, 4],
        [1, 0, 3, 4, 2],
        [2, 4, 0, 1, 3],
        [3, 2, 4, 0, 1],
        [4, 3, 1, 2, 0],
    ]
    with pytest.raises(
        GroupError, match=r"not associative: \((\d)\*(\d)\)\*(\d) = (\d) but \1\*\(\2\*\3\) = \d"
    ):
        from_table(table)
    # the triple named is a real counterexample
    with pytest.raises(GroupError) as info:
        from_table(table)
    x, y, z = (int(c) for c in re.search(r"\((\d)\*(\d)\)\*(\d)", str(info.value)).groups())
    t = torch.tensor(table)
    assert t[t[x, y], z] != t[x, t[y, z]]


def test_one_sided_inverses_are_named():
    table = [
        [0, 1, 2, 3, 4],
        [1, 2, 0, 4, 3],
        [2, 3, 4, 0, 1],
        [3, 4, 1, 2, 0],
        [4, 0, 3, 1, 2],
    ]
    with pytest.raises(GroupError, match=r"no two-sided inverses: 1\*2 = 0 but 4\*1 = 0"):
        from_table(table)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([[0, 1], [1, 0], [0, 1]], r"must be square \[n, n\], got shape \(3, 2\)"),
        ([[0, 1], [1, 2]], r"entries must lie in range\(2\): table\[1, 1\] = 2"),
        (torch.zeros(0, 0, dtype=torch.long), "empty"),
        ([[0.0, 1.0], [1.0, 0.0]], "must hold integers"),
    ],
)
def test_malformed_tables(table, message):
    with pytest.raises(GroupError, match=message):
        from_table(table)


def test_labels_must_match_and_be_distinct():
    with pytest.raises(GroupError, match="`labels` has 2 entries but the table has 3 rows"):
        from_table(Z3, labels=["a", "b"])
    with pytest.raises(GroupError, match="`labels` must be distinct: 'a' appears more than once"):
        from_table(Z3, labels=["a", "a", "b"])


def test_identity_and_inverses_of_a_table_with_identity_not_first():
    # Z3 relabelled so that the identity is element 2.
    perm = [2, 0, 1]  # new index of old element
    old = torch.tensor(Z3)
    table = torch.empty(3, 3, dtype=torch.long)
    for a in range(3):
        for b in range(3):
            table[perm[a], perm[b]] = perm[int(old[a, b])]
    G = FiniteGroup(table)
    assert int(G.identity) == 2
    assert all(G.mul(g, G.inv(g)) == 2 for g in range(3))


@pytest.mark.parametrize(
    ("group", "orders", "classes"),
    [
        (cyclic(6), [1, 6, 3, 2, 3, 6], 6),
        (dihedral(4), [1, 4, 2, 4, 2, 2, 2, 2], 5),
        (symmetric(4), None, 5),
        (symmetric(5), None, 7),
        (quaternion(), [1, 2, 4, 4, 4, 4, 4, 4], 5),
    ],
)
def test_orders_and_classes(group, orders, classes):
    if orders is not None:
        assert group.element_orders.tolist() == orders
    assert len(group.conjugacy_classes) == classes
    # the class equation, and every class is closed under conjugation
    assert sum(len(c) for c in group.conjugacy_classes) == group.order
    t, inv = group.table, group.inverses
    for cls in group.conjugacy_classes:
        g = cls[0]
        conj = {int(t[t[x, g], inv[x]]) for x in range(group.order)}
        assert conj == set(cls)
    assert group.conjugacy_classes[0] == (int(group.identity),)


def test_orders_of_permutations_are_lcm_of_cycle_lengths():
    G = symmetric(5)
    for g in G:
        lengths = [len(c.split()) for c in g.label.strip("()").split(")(")] if g.label != "()" else [1]
        assert g.order == math.lcm(*lengths)


def test_subgroups_and_cosets():
    G = symmetric(4)
    klein = G.subgroup(["(0 1)(2 3)", "(0 2)(1 3)"])
    assert len(klein) == 4
    left, right = G.cosets(klein), G.cosets(klein, side="right")
    assert len(left) == 6 and sorted(x for c in left for x in c) == list(range(24))
    assert set(left) == set(right)  # the Klein four-group is normal in S4
    h = G.subgroup(["(0 1)"])
    assert set(G.cosets(h)) != set(G.cosets(h, side="right"))  # ⟨(0 1)⟩ is not normal
    assert G.subgroup([]) == (int(G.identity),)


def test_cosets_reject_a_non_subgroup():
    with pytest.raises(GroupError, match="not closed under the group law"):
        cyclic(6).cosets([0, 1])
    with pytest.raises(GroupError, match="`side` \\(='middle'\\) must be 'left' or 'right'"):
        cyclic(6).cosets([0], side="middle")


def test_elements_multiply_invert_and_power():
    G = dihedral(5)
    r, s = G["r"], G["s"]
    assert s @ r @ s == ~r  # s r s = r⁻¹
    assert r**5 == G.identity and r**-1 == ~r and (r @ s).order == 2
    assert G.table[r, s] == (r @ s).index
    with pytest.raises(GroupError, match="D5 has no element labelled 'x'"):
        G["x"]
    with pytest.raises(GroupError, match="element index 10 is out of range for D5 of order 10"):
        G[10]
    with pytest.raises(GroupError, match="belongs to C3, not D5"):
        G.index(cyclic(3)[1])


def test_is_abelian_and_exponent():
    assert cyclic(7).is_abelian and not symmetric(3).is_abelian
    assert symmetric(4).exponent == 12 and quaternion().exponent == 4
