"""Finite groups as Cayley tables, their real irreducible representations, characters and
the group Fourier transform; the compact groups SO(2), O(2), SO(3), O(3) with their real irreps,
Haar measure and exact quadrature.

>>> from nerve.groups import parse_group
>>> G = parse_group("S4")
>>> [rho.dim for rho in G.irreps()]
[1, 3, 2, 3, 1]
"""

from nerve.groups._characters import CharacterTable, class_function, inner_product
from nerve.groups._compact import CompactGroup, CompactIrrep, o2, o3, so2, so3
from nerve.groups._compact_fourier import CompactFourierTransform, sphere_harmonics, sphere_quadrature
from nerve.groups._constructors import (
    MAX_ORDER,
    alternating,
    cyclic,
    dihedral,
    direct_product,
    from_permutations,
    from_table,
    parse_group,
    quaternion,
    symmetric,
)
from nerve.groups._fourier import Component, FourierTransform
from nerve.groups._group import Element, FiniteGroup
from nerve.groups._irreps import Irrep
from nerve.groups._subgroups import FiniteSubgroup, finite_subgroup

__all__ = [
    "MAX_ORDER",
    "CharacterTable",
    "CompactFourierTransform",
    "CompactGroup",
    "CompactIrrep",
    "Component",
    "Element",
    "FiniteGroup",
    "FiniteSubgroup",
    "FourierTransform",
    "Irrep",
    "alternating",
    "class_function",
    "cyclic",
    "dihedral",
    "direct_product",
    "finite_subgroup",
    "from_permutations",
    "from_table",
    "inner_product",
    "o2",
    "o3",
    "parse_group",
    "quaternion",
    "so2",
    "so3",
    "sphere_harmonics",
    "sphere_quadrature",
    "symmetric",
]
