"""Learning coefficients known in closed form: the truths an LLC estimator is checked against."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import ceil
from typing import Any

from nerve.errors import AnalysisError

__all__ = ["dln_learning_coefficient", "rrr_learning_coefficient"]


def rrr_learning_coefficient(M: int, N: int, H: int, r: int) -> float:
    """The learning coefficient of reduced-rank regression ``y = B A x`` (A: ``[H, M]``, B:
    ``[N, H]``) at a truth of rank r, by Aoyagi & Watanabe 2005 (Neural Networks 18, Main
    Theorem): with s = 2(H+r)(M+N) − (M−N)² − (H+r)²,

    - if M + H < N + r: (HM − Hr + Nr) / 2; if N + H < M + r: (HN − Hr + Mr) / 2;
    - if M + N < H + r: MN / 2 (the regular full linear map);
    - otherwise s / 8 when M + H + N + r is even, (s + 1) / 8 when it is odd.

    >>> rrr_learning_coefficient(4, 4, 3, 1), rrr_learning_coefficient(5, 3, 2, 2)
    (6.0, 6.0)
    """
    for name, value in (("M", M), ("N", N), ("H", H)):
        if not _is_int(value) or value < 1:
            raise AnalysisError(f"`{name}` (={value!r}) must be a positive integer.")
    if not _is_int(r) or not 0 <= r <= H:
        raise AnalysisError(f"`r` (={r!r}) must be an integer from 0 to H (={H}): the true rank.")
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    if M + N < H + r:
        return M * N / 2
    s = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    return (s + (M + H + N + r) % 2) / 8


def dln_learning_coefficient(widths: Sequence[int], r: int) -> float:
    """The learning coefficient of a deep linear network ``y = W_L ⋯ W_1 x`` (``W_s``:
    ``[widths[s], widths[s-1]]``, no biases) at a truth of rank r, by Aoyagi 2024 (Neural
    Networks 172, Theorem 1; the form Lau et al. 2024 quote).

    With the widths H⁽¹⁾ … H⁽ᴸ⁺¹⁾ (input first, output last) and their excesses M⁽ˢ⁾ = H⁽ˢ⁾ − r,
    take Σ the ℓ + 1 smallest excesses for the least ℓ ≥ 0 with max_Σ M < min_∉Σ M,
    Σ_Σ M ≥ ℓ·max_Σ M and Σ_Σ M < ℓ·min_∉Σ M (each bound void when its side is empty). With
    S = Σ_Σ M and a = S − ℓ(⌈S/ℓ⌉ − 1),

        λ = (r(H⁽¹⁾ + H⁽ᴸ⁺¹⁾) − r²) / 2 + a(ℓ − a)/(4ℓ) − ℓ(ℓ − 1)/4 · (S/ℓ)² + ½ Σ_{i<j ∈ Σ} M⁽ⁱ⁾M⁽ʲ⁾,

    and the last three terms vanish when ℓ = 0 (one layer is the bottleneck). With one hidden
    layer this is reduced-rank regression: ``dln_learning_coefficient([M, H, N], r)`` equals
    :func:`rrr_learning_coefficient` ``(M, N, H, r)`` on every shape (tested).

    >>> dln_learning_coefficient([4, 3, 4], 1), rrr_learning_coefficient(4, 4, 3, 1)
    (6.0, 6.0)
    >>> dln_learning_coefficient([5, 4, 3, 4, 5], 1)  # Σ all five layers: ℓ = 4, S = 16, a = 4
    7.0
    """
    widths = list(widths) if isinstance(widths, Sequence) and not isinstance(widths, str) else widths
    if not isinstance(widths, list) or len(widths) < 2 or not all(_is_int(h) and h >= 1 for h in widths):
        raise AnalysisError(
            f"`widths` (={widths!r}) must be two or more positive integers: the input width, the hidden "
            "widths and the output width."
        )
    if not _is_int(r) or not 0 <= r <= min(widths):
        raise AnalysisError(f"`r` (={r!r}) must be an integer from 0 to the least width (={min(widths)}).")
    excess = sorted(h - r for h in widths)
    base = Fraction(r * (widths[0] + widths[-1]) - r * r, 2)
    for ell in range(len(excess)):
        inside, outside = excess[: ell + 1], excess[ell + 1 :]
        total = sum(inside)
        separated = not outside or inside[-1] < outside[0]
        if separated and total >= ell * inside[-1] and (not outside or total < ell * outside[0]):
            break
    if ell == 0:
        return float(base)
    a = total - ell * (ceil(Fraction(total, ell)) - 1)
    pairs = sum(inside[i] * inside[j] for i in range(ell + 1) for j in range(i + 1, ell + 1))
    mean = Fraction(total, ell)
    return float(
        base + Fraction(a * (ell - a), 4 * ell) - Fraction(ell * (ell - 1), 4) * mean**2 + Fraction(pairs, 2)
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
