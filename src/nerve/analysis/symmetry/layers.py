"""What a symmetry of the inputs does to each layer of any ``nn.Module``: the isotypic decomposition
of its activations along the inputs' orbits, how far it is from carrying a linear representation
of the group, and, for a Lie group, the generator that representation would have and the
frequencies or degrees ℓ it carries (cf. Gruver et al. 2023, "The Lie derivative for measuring
learned equivariance"; Moskalev et al. 2022, LieGG)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nerve._estimator import Estimator, Progress
from nerve._results import Result
from nerve.analysis.symmetry.actions import Action
from nerve.errors import AnalysisError, NerveWarning
from nerve.groups import CompactFourierTransform, FiniteSubgroup
from nerve.sites import read_sites

__all__ = ["LayerSymmetry", "LayerSymmetryResult"]


@dataclass(frozen=True)
class LayerSymmetryResult(Result):
    """Per site (``[site]``; ``[site][label]`` for the fractions):

    - `labels`: the group's irreps (the trivial one first), then ``"residual"``: the part of the
      variance above the transform's `max_degree` (zero for a finite group).
    - `fractions`: the share of each irrep in the site's variance over the inputs and their orbits
      (each unit's activation g ↦ f(g·x), centred on the unit's mean, summed over units and
      inputs). The trivial irrep's share is the invariant part.
    - `equivariance_error`: on held-out inputs, ``Σ_g ‖a(g·x) − ρ̂(g) a(x)‖² / Σ_g ‖a(g·x) − ā‖²``
      with ρ̂(g) the least-squares linear map from a(x) to a(g·x) fitted on the other inputs,
      averaged over the orbit's nodes: 0 when the layer carries a linear representation. Measured
      in the layer's top principal directions (`components` of them per site, holding the share
      `captured` of its second moment over the orbits).
    - `lie_error` (Lie groups): the same for the derivative along each Lie algebra direction,
      ``Σ_k ‖d/dt a(exp(tX_k)·x)|₀ − Â_k a(x)‖² / (dim 𝔤 · Σ ‖a(x) − ā‖²)`` on held-out inputs (a
      Lie derivative per radian, relative to the layer's spread; 0 for an invariant layer too),
      by central differences of step `lie_step` (Richardson).
    - `generator_degrees` (SO(2), O(2): the frequencies ``|Im μ|`` of the eigenvalues μ of Â;
      SO(3), O(3): the ℓ with ``ℓ(ℓ+1)`` the eigenvalues of the Casimir ``−Σ Â_k²``): one per
      direction of the span of the site's activations, sorted, for the rotations' generator
      fitted on all inputs.
    """

    FORMAT = "nerve-layer-symmetry/1"

    group: str
    sites: tuple[str, ...]
    labels: tuple[str, ...]
    fractions: tuple[tuple[float, ...], ...]
    equivariance_error: tuple[float, ...]
    lie_error: tuple[float, ...] | None
    generator_degrees: tuple[tuple[float, ...], ...] | None
    components: tuple[int, ...]
    captured: tuple[float, ...]
    n_inputs: int
    n_nodes: int
    max_degree: int | None
    resolution: int | None


class LayerSymmetry(Estimator):
    """The symmetry of `action`'s group in each of `sites` (module paths, as :func:`~nerve.sites.read_sites`).

    **Arguments:**

    - `action`: an :class:`~nerve.analysis.symmetry.Action` (its `group`: a compact group, sampled
      at its quadrature, or a finite subgroup, summed over).
    - `sites`: the layers to read.
    - `max_degree`, `resolution`: the compact Fourier transform's (default 4 and 4·max_degree).
    - `lie_step`: the step t of the central differences along the Lie algebra.
    - `batch_size`: rows per forward pass; the inputs at every orbit node (and along the Lie
      algebra) are concatenated and read in one batched pass, not one pass per group element.
    - `components`: ρ̂ and Â are fitted on at most this many principal directions of the orbit
      cloud (and at most half the fitting inputs); `captured` says how much of the layer they hold.
    - `seed`: which half of the inputs fits ρ̂ and Â and which half measures the errors (and the
      randomized principal directions of a wide layer).
    - `rank_tol`: principal directions with a second moment below `rank_tol` times the largest are
      left out (the span of the activations is smaller).

    ``fit(model, inputs, progress=None)`` reads every site at every orbit node and returns
    ``self`` with ``result_``. Memory: the activations of (1 + nodes + 4·dim 𝔤) × len(inputs) rows.

    >>> from nerve.analysis.symmetry import RotatePoints
    >>> class Norms(nn.Module):  # |x| of each point: invariant
    ...     def forward(self, x):
    ...         return x.norm(dim=-1)
    >>> model = nn.Sequential(Norms())
    >>> r = LayerSymmetry(RotatePoints(), ["0"], max_degree=2).fit(model, torch.randn(64, 5, 3)).result_
    >>> r.labels[0], round(r.fractions[0][0], 6), r.equivariance_error[0] < 1e-10
    ('l=0', 1.0, True)
    """

    def __init__(
        self,
        action: Action | None = None,
        sites: Sequence[str] = (),
        *,
        max_degree: int | None = None,
        resolution: int | None = None,
        lie_step: float = 1e-3,
        batch_size: int = 4096,
        components: int = 64,
        seed: int = 0,
        rank_tol: float = 1e-8,
    ) -> None:
        self.action = action
        self.sites = sites
        self.max_degree = max_degree
        self.resolution = resolution
        self.lie_step = lie_step
        self.batch_size = batch_size
        self.components = components
        self.seed = seed
        self.rank_tol = rank_tol

    def fit(self, model: nn.Module, inputs: Tensor, *, progress: Progress | None = None) -> LayerSymmetry:
        if not isinstance(self.action, Action):
            raise AnalysisError(
                f"`action` (={self.action!r}) must be an Action (RotateImage, ShiftSequence, ...)."
            )
        sites = [self.sites] if isinstance(self.sites, str) else list(self.sites)
        if not sites:
            raise AnalysisError("`sites` is empty: name at least one module path to read.")
        if len(inputs) < 4:
            raise AnalysisError(
                f"`inputs` has {len(inputs)} examples; at least 4 are needed (half fit, half test)."
            )
        finite = isinstance(self.action.group, FiniteSubgroup)
        degree = None if finite else (4 if self.max_degree is None else self.max_degree)
        ft = CompactFourierTransform(
            self.action.group, degree, resolution=None if finite else self.resolution
        )

        # every orbit point, and the points t and t/2 either side along each Lie algebra direction,
        # in one batched pass over the model (batch_size rows at a time)
        blocks = [inputs] + [self.action(g, inputs) for g in ft.nodes]
        steps = (self.lie_step, -self.lie_step, self.lie_step / 2, -self.lie_step / 2)
        algebra = [] if finite else list(self.action.ambient.lie_algebra)
        blocks += [self.action(torch.linalg.matrix_exp(t * x_k), inputs) for x_k in algebra for t in steps]
        acts = self._read(model, torch.cat(blocks), sites, progress)
        b, n = len(inputs), len(ft.nodes)
        base = {k: v[:b] for k, v in acts.items()}
        orbit = {k: v[b : b * (n + 1)].reshape(n, b, -1) for k, v in acts.items()}
        lie = None
        if algebra:
            lie = {
                k: _richardson(v[b * (n + 1) :].reshape(len(algebra), 4, b, -1), self.lie_step)
                for k, v in acts.items()
            }
        perm = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(self.seed))
        fit_half, test_half = perm[: len(inputs) // 2], perm[len(inputs) // 2 :]

        fractions, errors, lie_errors, degrees, kept, captured = [], [], [], [], [], []
        for s in sites:
            a = orbit[s]  # [N, B, D]: a(g_i · x_b)
            mean = torch.einsum("n,nbd->d", ft.weights, a) / b
            power = ft.power(a - mean).sum((1, 2))  # [irreps + 1]
            fractions.append(tuple((power / power.sum()).tolist()))
            # ρ̂ and Â live on the top principal directions of the orbit cloud: its second moment
            # Σ_g,x a(gx)a(gx)ᵀ commutes with ρ(g) when the layer carries ρ (an invariant subspace)
            cloud = (a * (ft.weights / b).sqrt()[:, None, None]).flatten(0, 1)
            k = min(self.components, len(fit_half) // 2)
            u, share = _principal(cloud, k, self.rank_tol, self.seed)
            if share < 0.9:
                warnings.warn(
                    f"site {s!r}: its top {u.shape[1]} principal directions hold {share:.0%} of its second "
                    f"moment over the orbits; the equivariance errors describe that part only (raise "
                    f"`components` (={self.components}) or give more than {len(inputs)} inputs).",
                    NerveWarning,
                    stacklevel=2,
                )
            kept.append(u.shape[1])
            captured.append(share)
            z, za = base[s] @ u, a @ u
            errors.append(_held_out_error(z, za, ft.weights, za - mean @ u, fit_half, test_half))
            if lie is not None:
                zd = lie[s] @ u  # [dim 𝔤, B, k]: d/dt a(exp(tX_k)·x_b) at 0, in the principal directions
                ones = torch.ones(len(zd), dtype=torch.float64)
                spread = (z - z.mean(0)).expand(len(zd), -1, -1)
                lie_errors.append(_held_out_error(z, zd, ones, spread, fit_half, test_half))
                degrees.append(_degrees(z, zd))
        self.result_ = LayerSymmetryResult(
            group=repr(self.action.group),
            sites=tuple(sites),
            labels=(*ft.labels, "residual"),
            fractions=tuple(fractions),
            equivariance_error=tuple(errors),
            lie_error=None if lie is None else tuple(lie_errors),
            generator_degrees=None if lie is None else tuple(degrees),
            components=tuple(kept),
            captured=tuple(captured),
            n_inputs=len(inputs),
            n_nodes=len(ft.nodes),
            max_degree=degree,
            resolution=None if finite else ft.resolution,
        )
        return self

    def _read(
        self, model: nn.Module, x: Tensor, sites: list[str], progress: Progress | None
    ) -> dict[str, Tensor]:
        """Every site's activations on `x`, flattened per example to float64 ``[len(x), D]``."""
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise AnalysisError(f"`batch_size` (={self.batch_size!r}) must be a positive integer.")
        parts: dict[str, list[Tensor]] = {s: [] for s in sites}
        chunks = range(0, len(x), self.batch_size)
        for i, start in enumerate(chunks):
            chunk = x[start : start + self.batch_size]
            for k, v in read_sites(model, chunk, sites).items():
                parts[k].append(v.reshape(len(chunk), -1).to(torch.float64))
            if progress is not None:
                progress("orbits", i + 1, len(chunks))
        return {k: torch.cat(v) for k, v in parts.items()}


def _principal(cloud: Tensor, k: int, rank_tol: float, seed: int) -> tuple[Tensor, float]:
    """``(U [D, r], share)``: the top r ≤ k right singular vectors of ``cloud [M, D]`` with σ² above
    `rank_tol` × the largest, and the share of ``‖cloud‖²`` they hold. Exact (an eigendecomposition
    of the Gram matrix) when D ≤ 4k; otherwise a seeded randomized range finder (Halko et al. 2011,
    Alg. 4.4, four power iterations), so the same inputs give the same bits."""
    total = float(cloud.pow(2).sum())
    if cloud.shape[1] <= 4 * k:
        values, vectors = torch.linalg.eigh(cloud.T @ cloud)
        values, vectors = values.flip(0), vectors.flip(1)
    else:
        gen = torch.Generator().manual_seed(seed)
        q = torch.linalg.qr(cloud @ torch.randn(cloud.shape[1], k + 10, generator=gen, dtype=cloud.dtype)).Q
        for _ in range(4):
            q = torch.linalg.qr(cloud @ torch.linalg.qr(cloud.T @ q).Q).Q
        _, sv, vt = torch.linalg.svd(q.T @ cloud, full_matrices=False)
        values, vectors = sv**2, vt.T
    keep = values[:k] > rank_tol * values[0].clamp_min(1e-300)
    u = vectors[:, :k][:, keep]
    return u, float((cloud @ u).pow(2).sum()) / total if total > 0 else 1.0


def _degrees(z: Tensor, zd: Tensor) -> tuple[float, ...]:
    """The spectrum of the generators ``Â_k`` (``zd_k ≈ z Â_kᵀ``, fitted on every input): for one
    generator (SO(2), O(2)) the frequencies |Im μ| of its eigenvalues μ; for three (SO(3), O(3))
    the ℓ with ℓ(ℓ+1) the eigenvalues of the Casimir −Σ Â_k²."""
    gens = [torch.linalg.lstsq(z, dk, driver="gelsd").solution.T for dk in zd]
    if len(gens) == 1:
        mu = torch.linalg.eigvals(gens[0])
        return tuple(sorted(round(float(v), 9) for v in mu.imag.abs()))
    casimir = -sum(g @ g for g in gens)
    c = torch.linalg.eigvals(casimir).real.clamp_min(0)
    return tuple(sorted(round((math.sqrt(1 + 4 * float(v)) - 1) / 2, 9) for v in c))


def _richardson(e: Tensor, t: float) -> Tensor:
    """``d/dt f`` at 0 from ``e [..., 4, B, D]`` = f at t, −t, t/2, −t/2: (4·D(t/2) − D(t))/3 with D(h)
    the central difference, whose error is O(t⁴) where D's is O(t²)."""
    return (4 * (e[:, 2] - e[:, 3]) / t - (e[:, 0] - e[:, 1]) / (2 * t)) / 3


def _held_out_error(
    base: Tensor, target: Tensor, weights: Tensor, spread: Tensor, fit: Tensor, test: Tensor
) -> float:
    """``Σ_i wᵢ ‖targetᵢ − base Mᵢᵀ‖²`` on `test`, each Mᵢ fitted by least squares on `fit`, over
    ``Σ_i wᵢ ‖spreadᵢ‖²`` on `test`."""
    num = den = 0.0
    x_fit, x_test = base[fit], base[test]
    for w, y, v in zip(weights.tolist(), target, spread, strict=True):
        m = torch.linalg.lstsq(x_fit, y[fit], driver="gelsd").solution
        num += w * float((y[test] - x_test @ m).pow(2).sum())
        den += w * float(v[test].pow(2).sum())
    return num / den if den > 0 else 0.0
