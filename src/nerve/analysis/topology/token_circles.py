"""Circular features of tokens with a cyclic order (Engels et al. 2024, "Not all language model
features are linear"): the days of the week, the months, the numbers mod 10.

Given the activations of n tokens in their cyclic order (one point per token, or one per token
and context), :class:`TokenCircles` asks, for each frequency k of Z/n:

- how much of the variance of the token means lies at frequency k (the discrete Fourier
  transform along the token axis; by Parseval the fractions over k = 1..n//2 sum to 1);
- whether, projected onto the plane of frequency k of the means
  (:func:`~nerve.analysis.topology.planes.frequency_basis`), the tokens go round in the order k·a mod n:
  the agreement of their angles with ``k·a/n`` up to rotation and reflection
  (:func:`~nerve.analysis.topology.homology.circular_agreement`, 1 for a perfect circle in order);
- and, without assuming a circle, the persistent homology of every point in that plane: its
  significant loops, and the agreement of the longest one's circular coordinate with k·a/n.

The plane is fitted to the means, so even tokens without a circle go round it roughly in order
(12 random means in 32 dimensions agree about 0.9); the `p_value` of the fraction at k, against
the same tokens in random cyclic orders, says whether the order is in the activations at all.

A circle is *found* at k when the plane holds a significant loop whose coordinate agrees with
the order (agreement ≥ `min_agreement`). With one point per token and few tokens a circle
cannot be told from the gaps between its points (a regular 7-gon's loop lives 1.25 gaps:
below the default significance of 1.5); several contexts per token, or more tokens, give the
topology its evidence. The Fourier fraction and the angle agreement do not depend on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve._estimator import Estimator
from nerve._results import Result
from nerve.analysis.topology.homology import circular_agreement
from nerve.analysis.topology.planes import frequency_basis, plane_loop
from nerve.errors import AnalysisError

__all__ = ["TokenCircle", "TokenCircles", "TokenCirclesResult", "cyclic_spectrum"]


def cyclic_spectrum(means: Tensor) -> Tensor:
    """``[n // 2 + 1]``: the fraction of the variance of ``means [n, d]`` (rows in cyclic order,
    centred here) at each frequency k = 0..n//2 of Z/n, k and n − k together; entry 0 is 0.

    >>> a = torch.arange(12.0)
    >>> X = torch.stack([torch.cos(2 * math.pi * 3 * a / 12), torch.sin(2 * math.pi * 3 * a / 12)], 1)
    >>> cyclic_spectrum(X).argmax().item(), round(cyclic_spectrum(X)[3].item(), 6)
    (3, 1.0)
    """
    X = means.double() - means.double().mean(0)
    total = float((X**2).sum())
    F = torch.fft.fft(X, dim=0)  # [n, d]
    power = (F.abs() ** 2).sum(1) / means.shape[0]  # Parseval: Σ_k power = Σ_a |X_a|²
    n = means.shape[0]
    out = torch.zeros(n // 2 + 1, dtype=torch.float64)
    for k in range(1, n // 2 + 1):
        out[k] = power[k] + (power[n - k] if n - k != k else 0)
    return out / total if total > 0 else out


@dataclass(frozen=True)
class TokenCircle:
    """What frequency k's plane shows: `fraction` of the means' variance at k, the `angle_agreement`
    of the means' angles in the plane with k·a/n, the plane's significant `betti` (b0, b1) and H1
    `persistence` (longest first), and the `loop_agreement` of the longest significant loop's
    circular coordinate with k·a/n (None without a significant loop). `p_value`: the share of
    random orders of the tokens (the observed one counted in) whose fraction at k is as large."""

    frequency: int
    fraction: float
    p_value: float
    angle_agreement: float
    betti: tuple[int, int]
    persistence: tuple[float, ...]
    noise_scale: float
    loop_agreement: float | None
    found: bool


@dataclass(frozen=True)
class TokenCirclesResult(Result):
    """One :class:`TokenCircle` per frequency asked, for `tokens` (their labels, in cyclic order)."""

    FORMAT = "nerve-token-circles/1"

    tokens: tuple[str, ...]
    n_contexts: int
    spectrum: tuple[float, ...]
    circles: tuple[TokenCircle, ...]
    rule: str

    @property
    def found(self) -> tuple[int, ...]:
        """The frequencies at which a circle was found."""
        return tuple(c.frequency for c in self.circles if c.found)


class TokenCircles(Estimator):
    """Circles in the activations of cyclically ordered tokens, frequency by frequency.

    **Arguments:**

    - `frequencies`: the k of Z/n to look at (default: every k from 1 to (n − 1)//2, the
      frequencies with a plane).
    - `min_agreement`: a loop counts as the tokens' circle when its circular coordinate agrees
      with k·a/n at least this well (default 0.9).
    - `field`, `significance`: as in :class:`~nerve.analysis.PersistentHomology`.
    - `n_permutations`, `seed`: the random orders behind each frequency's `p_value`.

    ``fit(X, tokens=None)`` with ``X [n, d]`` or ``[n, m, d]`` (m contexts per token), the tokens
    in their cyclic order, returns ``self`` with ``result_`` (a :class:`TokenCirclesResult`) and
    ``planes_``: k → the points ``[n·m, 2]`` in the plane of k.

    >>> a = torch.arange(7.0)
    >>> days = torch.stack([torch.cos(2 * math.pi * a / 7), torch.sin(2 * math.pi * a / 7)], 1)
    >>> X = days[:, None, :] + 0.05 * torch.randn(7, 10, 2, generator=torch.Generator().manual_seed(0))
    >>> r = TokenCircles().fit(X @ torch.randn(2, 16, generator=torch.Generator().manual_seed(1))).result_
    >>> r.found, round(r.circles[0].angle_agreement, 3)
    ((1,), 1.0)
    """

    def __init__(
        self,
        *,
        frequencies: Sequence[int] | None = None,
        min_agreement: float = 0.9,
        field: int = 47,
        significance: float = 1.5,
        n_permutations: int = 999,
        seed: int = 0,
    ) -> None:
        self.frequencies = frequencies
        self.min_agreement = min_agreement
        self.field = field
        self.significance = significance
        self.n_permutations = n_permutations
        self.seed = seed

    def fit(self, X: Tensor, tokens: Sequence[str] | None = None) -> TokenCircles:
        X = torch.as_tensor(X).detach().cpu()  # n·m points: the persistence runs on the CPU
        shape = tuple(X.shape)
        if X.ndim == 2:
            X = X[:, None, :]
        if X.ndim != 3 or X.shape[0] < 3 or X.shape[1] < 1 or X.shape[2] < 2:
            raise AnalysisError(
                f"`X` (shape {shape}) must be [n, d] or [n, m, d] with n >= 3 tokens and d >= 2."
            )
        if not torch.isfinite(X).all():
            raise AnalysisError("`X` holds NaN or infinite values.")
        n, m, _ = X.shape
        if tokens is not None and len(tokens) != n:
            raise AnalysisError(f"`tokens` names {len(tokens)} tokens; `X` has {n}.")
        if not 0 <= self.min_agreement <= 1:
            raise AnalysisError(f"`min_agreement` (={self.min_agreement!r}) must be in [0, 1].")
        top = (n - 1) // 2  # k = n/2 has a line, not a plane
        frequencies = (
            list(range(1, top + 1)) if self.frequencies is None else [int(k) for k in self.frequencies]
        )
        if not frequencies or any(not 0 < k <= top for k in frequencies):
            raise AnalysisError(
                f"`frequencies` (={frequencies}) must be non-empty and lie in 1..{top} for {n} tokens."
            )
        if (
            isinstance(self.n_permutations, bool)
            or not isinstance(self.n_permutations, int)
            or self.n_permutations < 1
        ):
            raise AnalysisError(f"`n_permutations` (={self.n_permutations!r}) must be an integer >= 1.")
        X = X.double()
        means = X.mean(1)
        spectrum = cyclic_spectrum(means)
        g = torch.Generator().manual_seed(self.seed)
        orders = torch.stack([torch.randperm(n, generator=g) for _ in range(self.n_permutations)])
        null = torch.stack([cyclic_spectrum(means[o]) for o in orders])  # [N, n//2 + 1]
        phase = torch.arange(n, dtype=torch.float64)
        circles, self.planes_ = [], {}
        centre = means.mean(0)
        for k in frequencies:
            q = frequency_basis(means, k)
            plane_means = (means - centre) @ q
            points = ((X - centre) @ q).reshape(n * m, 2)
            angle = torch.atan2(plane_means[:, 1], plane_means[:, 0]) / (2 * math.pi) % 1
            target = (k * phase / n) % 1
            loop = plane_loop(
                points, target.repeat_interleave(m), field=self.field, significance=self.significance
            )
            r = loop.topology
            p_value = (1 + int((null[:, k] >= spectrum[k] - 1e-12).sum())) / (1 + self.n_permutations)
            circles.append(TokenCircle(
                k, float(spectrum[k]), p_value, circular_agreement(angle, target), (r.betti[0], r.betti[1]),
                loop.persistence, r.noise_scale, loop.agreement,
                loop.agreement is not None and loop.agreement >= self.min_agreement,
            ))  # fmt: skip
            self.planes_[k] = points
        labels = tuple(tokens) if tokens is not None else tuple(str(a) for a in range(n))
        rule = (
            f"a circle is found at k when the plane of k holds a significant loop (persistence > "
            f"{self.significance:g} noise scales) whose circular coordinate agrees with k·a/n at least "
            f"{self.min_agreement:g}"
        )
        self.result_ = TokenCirclesResult(labels, m, tuple(float(x) for x in spectrum), tuple(circles), rule)
        return self
