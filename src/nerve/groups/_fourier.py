"""The Fourier transform over a finite group, on batches of functions of one or two elements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from nerve.errors import RepresentationError, ShapeError
from nerve.groups._build_irreps import tensor_split
from nerve.groups._group import FiniteGroup
from nerve.groups._irreps import DIVISOR, IrrepType

__all__ = ["Component", "FourierTransform"]

Method = Literal["auto", "matmul", "fft"]

# Below this order a dense matrix product beats the FFT for cyclic groups.
_FFT_FROM = 64


@dataclass(frozen=True)
class Component:
    """One real irrep of the transform's domain (G, or G × G for ``arity=2``)."""

    label: str
    dim: int
    type: IrrepType
    factors: tuple[int, ...]

    @property
    def divisor(self) -> int:
        return DIVISOR[self.type]


class FourierTransform:
    r"""The real group Fourier transform ``f̂(ρ) = Σ_g f(g) ρ(g)``, one matrix per real irrep.

    With ``w_ρ = d_ρ / (c_ρ |G|)`` (c = 1, 2, 4 for real, complex, quaternionic type):

    - inverse: ``f(g) = Σ_ρ w_ρ tr(ρ(g)ᵀ f̂(ρ))``;
    - Plancherel: ``Σ_g f(g)² = Σ_ρ w_ρ ‖f̂(ρ)‖²_F``, the per-irrep terms being :meth:`power`.

    For ``arity=2`` the domain is G × G (a function of a pair, as a neuron computes on
    inputs (a, b)) and the irreps are those of ``direct_product(G, G)``, whose matrices are
    never built: the transform runs along each axis with G's irreps and the tensor products
    are cut into irreducibles afterwards (O(|G|³) per function instead of O(|G|⁴)).

    Each axis transform is one matrix product with the ``[|G|, Σ d²]`` matrix of all irreps'
    entries; for cyclic groups, an FFT when ``method="fft"`` (the default from order 64).

    **Arguments:**

    - `group`: the finite group.
    - `arity`: 1 for ``f: G → R^k``, 2 for ``f: G × G → R^k``.
    - `method`: ``"auto"``, ``"matmul"`` or ``"fft"`` (cyclic groups only).

    Functions are tensors ``[|G|]*arity + batch``: the group axes come first.

    >>> from nerve.groups import cyclic
    >>> ft = FourierTransform(cyclic(8))
    >>> f = torch.cos(2 * torch.pi * 3 * torch.arange(8) / 8)
    >>> [c.label for c in ft.components][3], ft.variance_fraction(f)[3].item()
    ('k=3', 1.0)
    """

    def __init__(self, group: FiniteGroup, *, arity: int = 1, method: Method = "auto") -> None:
        if arity not in (1, 2):
            raise ShapeError(f"`arity` (={arity!r}) must be 1 or 2.")
        cyclic = (group.family or ("",))[0] == "cyclic"
        if method not in ("auto", "matmul", "fft"):
            raise ShapeError(f"`method` (={method!r}) must be 'auto', 'matmul' or 'fft'.")
        if method == "fft" and not cyclic:
            raise ShapeError(f"`method` (='fft') needs a cyclic group built by cyclic(n), got {group.name}.")
        self.group = group
        self.arity = arity
        self.fft = method == "fft" or (method == "auto" and cyclic and group.order >= _FFT_FROM)
        irreps = group.irreps()
        n = group.order
        #: ``[|G|, Σ d²]``: column block ρ holds ρ(g) flattened row-major.
        self.matrix = torch.cat([r.matrices.reshape(n, -1) for r in irreps], dim=1)
        sizes = [r.dim**2 for r in irreps]
        self._offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        if arity == 1:
            self.components = tuple(Component(r.label, r.dim, r.type, (i,)) for i, r in enumerate(irreps))
        else:
            self.components = self._product_components(irreps)
        self._sizes = [c.dim**2 for c in self.components]
        #: Which component each flattened coefficient belongs to, ``[Σ d_τ²]``.
        self._segment = torch.repeat_interleave(torch.arange(len(self._sizes)), torch.tensor(self._sizes))
        #: w_τ = d_τ / (c_τ |G|^arity), the Plancherel weight of each component.
        self._weights = torch.tensor(
            [c.dim / (c.divisor * n**arity) for c in self.components], dtype=torch.float64
        )
        one = next(i for i, r in enumerate(irreps) if r.dim == 1 and bool((r.character > 0.5).all()))
        #: Index of the trivial component, which carries the mean.
        self.trivial = next(i for i, c in enumerate(self.components) if c.factors == (one,) * arity)

    # --- the components of G × G ------------------------------------------------------

    def _product_components(self, irreps: Sequence) -> tuple[Component, ...]:
        comps: list[Component] = []
        blocks: dict[tuple[int, int, int], list] = {}
        position = 0
        for i, rho in enumerate(irreps):
            for j, sigma in enumerate(irreps):
                dd = rho.dim * sigma.dim
                for q, kind, suffix in tensor_split(rho, sigma):
                    q = torch.eye(dd, dtype=torch.float64) if q is None else q
                    dt = q.shape[1]
                    comps.append(Component(f"{rho.label} ⊗ {sigma.label}{suffix}", dt, kind, (i, j)))
                    # kron layout: K[(a,b),(c,e)] = T[off_ρ + a·dρ + c, off_σ + b·dσ + e]
                    a, b, c, e = torch.meshgrid(
                        *(torch.arange(k) for k in (rho.dim, sigma.dim) * 2), indexing="ij"
                    )
                    rows = (self._offsets[i] + a * rho.dim + c).reshape(-1)
                    cols = (self._offsets[j] + b * sigma.dim + e).reshape(-1)
                    # f̂(τ) = Qᵀ K Q is linear in vec(K): vec(f̂(τ)) = (Q ⊗ Q)ᵀ vec(K)
                    lift = torch.einsum("xt,ys->tsxy", q, q).reshape(dt * dt, dd * dd)
                    pos = torch.arange(position, position + dt * dt)
                    position += dt * dt
                    blocks.setdefault((rho.dim, sigma.dim, dt), []).append((rows, cols, lift, pos))
        # Components of equal shape are transformed together, one batched product per shape.
        self._blocks = [tuple(torch.stack(parts) for parts in zip(*group)) for group in blocks.values()]
        return tuple(comps)

    # --- one axis ------------------------------------------------------------------------

    def _analysis(self, x: Tensor) -> Tensor:
        """``[|G|, B] -> [Σ d², B]``: Σ_g x(g) ρ(g)_ij."""
        if not self.fft:
            return self.matrix.to(x).T @ x
        n = self.group.order
        spec = torch.fft.rfft(x, dim=0)  # F_k = Σ_g x(g) e^{-2πikg/n} = C_k − i S_k
        re, im = spec.real, spec.imag
        middle = torch.stack(
            [re[1 : (n + 1) // 2], im[1 : (n + 1) // 2], -im[1 : (n + 1) // 2], re[1 : (n + 1) // 2]], dim=1
        )  # [[C, -S], [S, C]] row-major
        parts = [re[:1], middle.reshape(-1, x.shape[1])]
        if n % 2 == 0:
            parts.append(re[n // 2 : n // 2 + 1])
        return torch.cat(parts)

    def _synthesis(self, y: Tensor) -> Tensor:
        """``[Σ d², B] -> [|G|, B]``: Σ_ρ Σ_ij ρ(g)_ij y_ij, the transpose of :meth:`_analysis`."""
        if not self.fft:
            return self.matrix.to(y) @ y
        n = self.group.order
        k = (n - 1) // 2
        m = y[1 : 1 + 4 * k].reshape(k, 4, -1)
        # tr(R(θg)ᵀ Y) = cos θg (Y00 + Y11) + sin θg (Y10 − Y01) = Re((A − iB) e^{iθg})
        mid = (m[:, 0] + m[:, 3] - 1j * (m[:, 2] - m[:, 1])) * (n / 2)
        parts = [y[:1] * n + 0j, mid]
        if n % 2 == 0:
            parts.append(y[-1:] * n + 0j)
        return torch.fft.irfft(torch.cat(parts), n=n, dim=0)

    # --- the transform -------------------------------------------------------------------

    def _flatten(self, f: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        f = torch.as_tensor(f)
        n = self.group.order
        if f.shape[: self.arity] != (n,) * self.arity:
            want = "[|G|, ...]" if self.arity == 1 else "[|G|, |G|, ...]"
            raise ShapeError(
                f"`f` must have shape {want} with |G|={n} for {self.group.name}, got {tuple(f.shape)}."
            )
        if not f.is_floating_point():
            f = f.to(torch.float64)
        batch = tuple(f.shape[self.arity :])
        return f.reshape(*(n,) * self.arity, -1), batch

    def _forward_flat(self, f: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        x, batch = self._flatten(f)
        if self.arity == 1:
            return self._analysis(x), batch
        n, b = self.group.order, x.shape[-1]
        t = self._analysis(x.reshape(n, n * b)).reshape(-1, n, b)  # along a
        t = self._analysis(t.transpose(0, 1).reshape(n, -1)).reshape(-1, t.shape[0], b)  # along b
        t = t.transpose(0, 1)  # [Σd² (ρ), Σd² (σ), B]
        out = t.new_empty(len(self._segment), b)
        for rows, cols, lift, pos in self._blocks:
            rows, cols, pos = rows.to(t.device), cols.to(t.device), pos.to(t.device)
            out[pos.flatten()] = torch.bmm(lift.to(t), t[rows, cols]).reshape(-1, b)
        return out, batch

    def _inverse_flat(self, flat: Tensor, batch: tuple[int, ...]) -> Tensor:
        n = self.group.order
        w = self._weights.to(flat)[self._segment.to(flat.device)][:, None]
        y = flat * w
        if self.arity == 1:
            return self._synthesis(y).reshape(n, *batch)
        b = y.shape[-1]
        d = self.matrix.shape[1]
        t = y.new_zeros(d, d, b)
        for rows, cols, lift, pos in self._blocks:
            rows, cols, pos = rows.to(y.device), cols.to(y.device), pos.to(y.device)
            t.index_put_((rows, cols), torch.bmm(lift.to(y).mT, y[pos]), accumulate=True)
        f = self._synthesis(t.reshape(d, d * b)).reshape(n, d, b)  # along a
        f = self._synthesis(f.transpose(0, 1).reshape(d, n * b)).reshape(n, n, b)  # along b
        return f.transpose(0, 1).reshape(n, n, *batch)

    def forward(self, f: Tensor) -> list[Tensor]:
        """``f̂(τ)`` for each component τ, a list of ``[d_τ, d_τ, *batch]``."""
        flat, batch = self._forward_flat(f)
        blocks = torch.split(flat, self._sizes)
        return [x.reshape(c.dim, c.dim, *batch) for x, c in zip(blocks, self.components)]

    __call__ = forward

    def inverse(self, coefficients: Sequence[Tensor]) -> Tensor:
        """The function ``[|G|]*arity + batch`` whose transform is `coefficients`."""
        if len(coefficients) != len(self.components):
            raise ShapeError(
                f"`coefficients` must hold one matrix per component ({len(self.components)}), "
                f"got {len(coefficients)}."
            )
        batch = tuple(coefficients[0].shape[2:])
        flat = torch.cat([c.reshape(c.shape[0] * c.shape[1], -1) for c in coefficients])
        return self._inverse_flat(flat, batch)

    def power(self, f: Tensor) -> Tensor:
        """``[r, *batch]``: ``w_τ ‖f̂(τ)‖²_F``, the part of ``Σ f²`` in each component (Plancherel)."""
        flat, batch = self._forward_flat(f)
        segment = self._segment.to(flat.device)
        sq = flat.new_zeros(len(self.components), flat.shape[1]).index_add_(0, segment, flat**2)
        return (sq * self._weights.to(sq)[:, None]).reshape(-1, *batch)

    def variance_fraction(self, f: Tensor, *, center: bool = True) -> Tensor:
        """``[r, *batch]``: the fraction of f's variance in each component.

        With ``center=True`` the trivial component (the mean) is excluded, its entry is 0 and
        the rest sum to 1 over ``Σ (f − mean)²``; with ``center=False`` the fractions are of
        ``Σ f²``. A constant function (a dead neuron) has no variance: its fractions are NaN,
        also when rounding leaves a variance of order ``eps² · |G|^arity · Σ f²``.
        """
        p = self.power(f)
        total = p.sum(0, keepdim=True)
        if center:
            p[self.trivial] = 0
        kept = p.sum(0, keepdim=True)
        noise = (64 * torch.finfo(p.dtype).eps) ** 2 * self.group.order**self.arity * total
        return torch.where(kept > noise, p / kept, torch.nan)

    def project(self, f: Tensor, components: Iterable[int | str]) -> Tensor:
        """The part of f in the isotypic components named (indices or labels), same shape as f."""
        labels = [c.label for c in self.components]
        keep = torch.zeros(len(self.components), dtype=torch.bool)
        for c in components:
            if isinstance(c, str):
                if c not in labels:
                    raise RepresentationError(f"no component labelled {c!r}; the labels are {labels}.")
                c = labels.index(c)
            if not 0 <= int(c) < len(labels):
                raise RepresentationError(f"component index {c} is out of range({len(labels)}).")
            keep[int(c)] = True
        flat, batch = self._forward_flat(f)
        return self._inverse_flat(flat * keep[self._segment].to(flat)[:, None], batch)
