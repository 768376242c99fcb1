"""Which irreps a network trained on the law of a compact group uses: its neurons and outputs as
functions on G × G, cut into the irreps ρ ⊗ σ of the product (Chughtai et al.'s question of a
finite group, asked of SO(2) and SO(3)); registered as ``lie_fourier`` for runs of those tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import torch
from torch import nn

from nerve._estimator import Estimator
from nerve._results import Result
from nerve.analysis.registry import Analysis, Drawing, register
from nerve.errors import AnalysisError
from nerve.groups import CompactFourierTransform, CompactGroup
from nerve.sites import read_sites
from nerve.tasks import LieCompositionTask

__all__ = ["LieFourier", "LieFourierResult"]


@dataclass(frozen=True)
class LieFourierResult(Result):
    """Per site (``[site][pair]``): the share of its variance over G × G (each unit centred on its mean,
    summed over units) in each irrep ``ρ ⊗ σ`` of the product, `pairs` labelling them
    (``"l=1 ⊗ l=2"``; ρ acts on the first input), the last being ``"residual"``: what lies above
    `max_degree` in either input. `top` names each site's largest pair."""

    FORMAT = "nerve-lie-fourier/1"

    group: str
    sites: tuple[str, ...]
    pairs: tuple[str, ...]
    fractions: tuple[tuple[float, ...], ...]
    top: tuple[str, ...]
    max_degree: int
    n_nodes: int


class LieFourier(Estimator):
    """The product-irrep decomposition of `sites` of a model of ``(g₁, g₂) ↦ g₁g₂`` on a compact group.

    **Arguments:**

    - `group`: the compact group (``so2()``, ``so3()``).
    - `sites`: the module paths to read (default ``("act", "unembed")``: the neurons and the output).
    - `max_degree`: the largest frequency or ℓ kept on each input; f is sampled on the product of
      the quadrature of degree 2·max_degree with itself, exact for functions of degree ≤ max_degree
      in each input.

    ``fit(model)`` returns ``self`` with ``result_``; the model takes ``[B, 2, n²]``, the two inputs'
    defining matrices flattened (:class:`~nerve.tasks.LieCompositionTask`).

    >>> from nerve.groups import so2
    >>> class Product(nn.Module):  # g₁g₂, exactly: every output entry is cos or sin of θ₁ + θ₂
    ...     def forward(self, x):
    ...         return (x[:, 0].reshape(-1, 2, 2) @ x[:, 1].reshape(-1, 2, 2)).flatten(1)
    >>> r = LieFourier(so2(), sites=["0"], max_degree=2).fit(nn.Sequential(Product())).result_
    >>> r.top, round(r.fractions[0][r.pairs.index("k=1 ⊗ k=1")], 6)
    (('k=1 ⊗ k=1',), 1.0)
    """

    def __init__(
        self,
        group: CompactGroup | None = None,
        *,
        sites: Sequence[str] = ("act", "unembed"),
        max_degree: int = 4,
    ) -> None:
        self.group = group
        self.sites = sites
        self.max_degree = max_degree

    def fit(self, model: nn.Module) -> LieFourier:
        if not isinstance(self.group, CompactGroup):  # None too
            raise AnalysisError(f"`group` (={self.group!r}) must be a compact group such as so2() or so3().")
        ft = CompactFourierTransform(self.group, self.max_degree, resolution=2 * self.max_degree)
        g = ft.nodes.flatten(1)  # [N, n²]
        n = len(g)
        x = torch.stack([g.repeat_interleave(n, 0), g.repeat(n, 1)], 1)  # pair (i, j) at row i·N + j
        param = next(model.parameters(), None)
        x = x.to(torch.float32 if param is None else param.dtype)
        sites = list(self.sites)
        acts = read_sites(model, x, sites)
        irreps, w = ft.irrep_values(ft.nodes), ft.weights  # each [N, d, d]
        scale = ft.plancherel
        labels = ft.labels
        pairs = [f"{a} ⊗ {b}" for a in labels for b in labels]
        fractions, top = [], []
        for s in sites:
            f = acts[s].reshape(n, n, -1).to(torch.float64)
            f = f - torch.einsum("i,j,ijd->d", w, w, f)  # each unit centred on its mean over G × G
            total = float(torch.einsum("i,j,ijd->", w, w, f * f))
            power = []
            for r, rho in enumerate(irreps):
                left = torch.einsum("i,ijd,iab->jdab", w, f, rho)  # ∫ f(g₁, ·) ρ(g₁) dg₁
                for c, sigma in enumerate(irreps):
                    coeff = torch.einsum("j,jdab,jce->dabce", w, left, sigma)
                    power.append(float(scale[r] * scale[c] * coeff.pow(2).sum()))
            shares = [p / total if total > 0 else 0.0 for p in power]
            shares.append(max(0.0, 1.0 - sum(shares)))
            fractions.append(tuple(shares))
            top.append(pairs[max(range(len(pairs)), key=lambda i: shares[i])])
        self.result_ = LieFourierResult(
            group=repr(self.group),
            sites=tuple(sites),
            pairs=(*pairs, "residual"),
            fractions=tuple(fractions),
            top=tuple(top),
            max_degree=self.max_degree,
            n_nodes=n,
        )
        return self


def _not_lie(run: Any) -> str | None:
    if not isinstance(run.task, LieCompositionTask):
        return f"it trains {run.task.name}, not the law of a compact group"
    return None


def _fit(run: Any, fitted: Any, progress: Any) -> LieFourierResult:
    degree = 6 if run.task.lie_group == "SO(2)" else 3
    return LieFourier(run.task.compact_group, max_degree=degree).fit(run.last_model.eval()).result_


def _figure(result: LieFourierResult, drawing: Drawing) -> go.Figure:
    fig = go.Figure()
    for site, shares in zip(result.sites, result.fractions, strict=True):
        fig.add_trace(go.Bar(x=list(result.pairs), y=list(shares), name=site))
    fig.update_layout(
        barmode="group", height=360, yaxis_title="share of variance",
        title=f"Irreps ρ ⊗ σ of {result.group} × {result.group} in the neurons and the output",
    )  # fmt: skip
    return fig


def _rows(result: LieFourierResult, drawing: Drawing) -> list[tuple[str, str]]:
    return [
        (f"largest irrep of {s}", f"{t} ({shares[result.pairs.index(t)]:.3f})")
        for s, t, shares in zip(result.sites, result.top, result.fractions, strict=True)
    ]


LIE_FOURIER = register(Analysis(
    name="lie_fourier",
    title="Irreps of the compact group in a network trained on its law",
    result=LieFourierResult,
    fit=_fit,
    applies=_not_lie,
    figures=lambda result, drawing: [("lie-fourier", _figure(result, drawing))],
    rows=_rows,
    order=71.0,
))  # fmt: skip
