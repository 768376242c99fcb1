"""Learning coefficients known in closed form: the truths an LLC estimator is checked against."""

from __future__ import annotations

from typing import Any

from nerve.errors import AnalysisError

__all__ = ["rrr_learning_coefficient"]


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
