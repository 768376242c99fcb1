"""Interval arithmetic in float64 that is sound for the real numbers: every operation returns an
interval that contains the exact real result for every real input in its argument intervals.

The stored weights are float32 (or float64) numbers, hence exact reals; the network they define
computes with real arithmetic. nerve evaluates it in float64 and accounts for every rounding:

- a dot product of length n computed in any order, with or without fused multiply-adds, differs
  from the exact one by at most γ_n Σ|x_i y_i|, γ_n = nu / (1 − nu), u = 2⁻⁵³ (Higham,
  *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1); the sum Σ|x_i y_i|, itself
  computed in floating point, is at most its computed value / (1 − γ_n);
- the few operations that combine such bounds are covered by inflating the result by a relative
  2⁻⁴⁰ (far more than the (1 + u)^k of k ≤ 8 roundings, with the product and the sum that do the
  inflating) and an absolute 2⁻¹⁰⁰⁰ (underflow);
- a product of non-negative numbers (a radius, a rounding term) whose factors are float32 numbers
  may be computed in float32, bounded by float32's γ_n (u = 2⁻²⁴) and an absolute term for
  underflow, flushed or not (:func:`_upper_product`);
- endpoints computed by one rounded addition are moved one ulp outwards (``nextafter``);
- the functions libm (or SLEEF, in torch's vectorised kernels) does not round correctly are taken
  to be within the errors of :data:`ASSUMED_ERRORS` of the exact value, stated there once; glibc
  and SLEEF document errors of at most a few ulps (2⁻⁵⁰), a thousand times smaller.

An interval is a pair of float64 tensors ``lo <= hi`` of any common shape, never NaN. An infinite
endpoint means no bound on that side: a real number is finite, so ``[-inf, hi]`` holds every real
up to ``hi``. Where float64 overflows (a huge box, huge weights) or an infinite endpoint meets
``inf − inf`` or ``0 · inf``, the entry becomes unbounded on the side it could not bound, never
NaN: the enclosure stays sound, only vacuous there, and a proof resting on it is undecided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import ProofError

__all__ = ["ASSUMED_ERRORS", "Interval", "gamma"]

U = 2.0**-53
SLACK = 2.0**-40
TINY = 2.0**-1000
INF = math.inf

#: The error nerve assumes of each function it evaluates in float64 through libm or SLEEF, in
#: units of the result (relative) or absolute; every enclosure of that function rests on it.
ASSUMED_ERRORS = {
    "exp": "relative 2⁻⁴⁰",
    "tanh": "relative 2⁻⁴⁰",
    "sigmoid": "relative 2⁻⁴⁰ (and of x·sigmoid(x), SiLU)",
    "erf": "absolute 2⁻⁴⁰ (GELU's x·Φ(x) is then within |x|·2⁻³⁸ with its roundings)",
    "cos": "absolute 2⁻⁴⁰",
    "sin": "absolute 2⁻⁴⁰",
    "sqrt": "none beyond its rounding: IEEE 754 rounds √ (and /) correctly, so 1/√x, computed as "
    "1 / sqrt(x), is within a relative 2⁻⁵¹",
    "pow": "relative 2⁻⁴⁰ for a small integer exponent",
}
#: GELU's (exact and tanh) and SiLU's unique minimiser lies in ``[x1, x2]``, and the minimum is above
#: ``floor`` (measured on a 10⁻⁶ grid: GELU −0.169971 at −0.75179, its tanh form −0.170041 at −0.75246,
#: SiLU −0.278465 at −1.27847; each is decreasing left of its minimiser and increasing right of it)
_VALLEYS = {
    "gelu": (-0.76, -0.74, -0.1700),
    "gelu_tanh": (-0.76, -0.74, -0.1701),
    "silu": (-1.29, -1.27, -0.2785),
}


def gamma(n: int) -> float:
    """γ_n = nu / (1 − nu), the relative error bound of an n-term dot product in float64.

    >>> gamma(1) > 2.0**-53, gamma(1000) < 1.2e-13
    (True, True)
    """
    if n * U >= 1:
        raise ProofError(f"`n` (={n}) is too long a dot product for float64's error bound (nu < 1).")
    return n * U / (1 - n * U)


def up(x: Tensor) -> Tensor:
    """An upper bound for a non-negative quantity computed with a few roundings: `x` inflated by a
    relative 2⁻⁴⁰ and an absolute 2⁻¹⁰⁰⁰, which also cover the two roundings of the inflation."""
    return x * (1 + SLACK) + TINY


def _finite(*xs: Tensor) -> bool:
    """True only if every entry of `xs` is finite: one summing pass each, no mask. A sum is NaN or
    infinite when an entry is; a false False (a sum of finite entries that overflows) only sends the
    caller down its exact, slower path."""
    total = xs[0].sum()
    for x in xs[1:]:
        total = total + x.sum()
    return bool(torch.isfinite(total))


def _has_nan(x: Tensor) -> bool:
    return not _finite(x) and bool(x.isnan().any())


def _down(x: Tensor) -> Tensor:
    return torch.nextafter(x, torch.tensor(-INF, dtype=x.dtype))


def _up1(x: Tensor) -> Tensor:
    return torch.nextafter(x, torch.tensor(INF, dtype=x.dtype))


def _unbounded_where_nan(lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """NaN endpoints (from inf − inf or 0 · inf) become −inf below and +inf above: sound."""
    if _finite(lo, hi):
        return lo, hi
    return lo.masked_fill(lo.isnan(), -INF), hi.masked_fill(hi.isnan(), INF)


def _outward(y: Tensor, err: Tensor) -> tuple[Tensor, Tensor]:
    """``[y − err, y + err]`` moved one ulp outwards; unbounded where `y` or `err` overflowed
    (``nextafter(inf, −inf)`` is the largest float, which would bound nothing soundly)."""
    lo, hi = _down(y - err), _up1(y + err)
    if _finite(y, err):
        return lo, hi
    bad = ~(y.isfinite() & err.isfinite())
    return lo.masked_fill(bad, -INF), hi.masked_fill(bad, INF)


def _hull(products: list[Tensor]) -> Interval:
    """The interval from the least to the greatest of `products` (each rounded once, broadcast
    together), moved one ulp outwards; unbounded on both sides where one is NaN (0 · inf)."""
    lo, hi = products[0], products[0]
    for p in products[1:]:
        lo, hi = torch.minimum(lo, p), torch.maximum(hi, p)  # NaN propagates into both
    lo, hi = torch.broadcast_tensors(lo, hi)
    if not _has_nan(lo):
        return Interval(_down(lo), _up1(hi))
    nan = lo.isnan()
    return Interval(_down(lo).masked_fill(nan, -INF), _up1(hi).masked_fill(nan, INF))


def _ieee_float32_products() -> bool:
    """Whether torch multiplies float32 matrices in float32 (IEEE), not in TF32 or bfloat16 as it
    may when asked (``torch.set_float32_matmul_precision("high" | "medium")``, or a backend's
    ``fp32_precision``), where float32's γ_n would not bound the rounding."""
    if torch.get_float32_matmul_precision() != "highest" or torch.backends.cuda.matmul.allow_tf32:
        return False
    backends = (getattr(torch.backends.cuda, "matmul", None), getattr(torch.backends.mkldnn, "matmul", None))
    return all(getattr(b, "fp32_precision", "ieee") in ("ieee", "none") for b in backends)


def _upper_product(s: Tensor, A: Tensor, *, single: bool = True) -> Tensor:
    """An upper bound (float64) of the exact product ``s @ A`` of non-negative `s` (float64) and
    non-negative `A`. With `single`, where `A` is float32 (so exact there), the inner length
    n < 2²⁰ and torch multiplies float32 matrices in float32 (not TF32 or bfloat16), in float32, at
    half float64's cost: `s` rounded up into float32, underflow (subnormals flushed or not) covered
    by an absolute 2⁻¹²⁶ Σ_i (A_ij + 1) and the product's rounding by 1 / (1 − γ_n) in float32's
    unit 2⁻²⁴. Otherwise, or where a float32 sum left float32's range, in float64, the rounding
    covered by 1 / (1 − γ_n) and the caller's ``up``.

    >>> s = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    >>> A = torch.tensor([[3.0], [0.7]])
    >>> bool(_upper_product(s, A) >= 0.1 * 3.0 + 0.2 * 0.7)
    True
    """
    n = s.shape[-1]
    if single and A.dtype == torch.float32 and n < 2**20 and _ieee_float32_products():
        s32 = torch.nextafter(s.float(), torch.tensor(INF))  # >= s: rounded to nearest, one ulp up
        p32 = s32 @ A
        if _finite(p32):
            g32 = n * 2.0**-24 / (1 - n * 2.0**-24)
            floor = 2.0**-126 * (A.sum(-2, dtype=torch.float64) + n)  # per column: Σ_i (A_ij + 1)
            return up((p32.double() + floor) / (1 - g32))
    return s @ A.double() / (1 - gamma(max(n, 1)))


class _EndpointTypeError(ProofError, TypeError):
    """Interval endpoints that are not float64 tensors (a TypeError, as before it was a ProofError)."""


@dataclass(frozen=True)
class Interval:
    """Elementwise intervals ``[lo, hi]`` (float64). Build a point with :meth:`point`.

    >>> x = Interval.point(torch.tensor([[1.0, -2.0]]))
    >>> y = x.linear(torch.tensor([[1.0, 1.0], [3.0, 0.5]])).relu()
    >>> bool((y.lo <= torch.tensor([0.0, 2.0])).all() and (torch.tensor([0.0, 2.0]) <= y.hi).all())
    True
    """

    lo: Tensor
    hi: Tensor

    def __post_init__(self) -> None:
        dtypes = f"{self.lo.dtype}, {self.hi.dtype}"
        if self.lo.dtype != torch.float64 or self.hi.dtype != torch.float64:
            raise _EndpointTypeError(f"Interval endpoints (dtypes {dtypes}) must be float64 tensors.")
        if self.lo.shape != self.hi.shape:
            shapes = f"{tuple(self.lo.shape)}, {tuple(self.hi.shape)}"
            raise ProofError(f"Interval endpoints differ in shape: {shapes}; they must share one.")
        if _has_nan(self.lo) or _has_nan(self.hi):
            raise ProofError(
                "Interval endpoints contain NaN, which bounds nothing; an unbounded side is ±inf "
                "(are the weights or inputs NaN?)."
            )

    @classmethod
    def point(cls, x: Tensor) -> Interval:
        """The degenerate interval of the exact values of `x` (any float dtype widens exactly)."""
        x = x.double()
        return cls(x, x)

    @classmethod
    def box(cls, lo: Tensor, hi: Tensor) -> Interval:
        lo, hi = lo.double(), hi.double()
        if bool(lo.isnan().any() or hi.isnan().any()):
            raise ProofError("`lo` and `hi` must not contain NaN (an unbounded side is ±inf).")
        if not bool((lo <= hi).all()):
            raise ProofError("`lo` must be at most `hi` everywhere.")
        return cls(lo, hi)

    @classmethod
    def stack(cls, parts: list[Interval], dim: int = 0) -> Interval:
        """The intervals `parts` stacked along a new axis `dim` (as torch.stack)."""
        return cls(torch.stack([p.lo for p in parts], dim), torch.stack([p.hi for p in parts], dim))

    @classmethod
    def cat(cls, parts: list[Interval], dim: int = 0) -> Interval:
        """The intervals `parts` joined along the axis `dim` (as torch.cat)."""
        return cls(torch.cat([p.lo for p in parts], dim), torch.cat([p.hi for p in parts], dim))

    @property
    def shape(self) -> torch.Size:
        return self.lo.shape

    def contains(self, x: Tensor) -> Tensor:
        x = x.double()
        return (self.lo <= x) & (x <= self.hi)

    def widen(self, radius: float) -> Interval:
        """Every point within L∞ distance `radius` (a finite float >= 0, taken as exact) of this
        interval; an endpoint that overflows is unbounded."""
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not 0 <= radius < INF:
            raise ProofError(f"`radius` (={radius!r}) must be a finite number >= 0.")
        if radius == 0:
            return self
        return Interval(_down(self.lo - radius), _up1(self.hi + radius))

    def map(self, f) -> Interval:
        """Apply a shape operation (view, transpose, indexing, concatenation of parts) to both
        endpoints; `f` must move entries, not change them."""
        return Interval(f(self.lo), f(self.hi))

    def width(self) -> Tensor:
        return self.hi - self.lo

    def _center_radius(self) -> tuple[Tensor, Tensor]:
        c = (self.lo + self.hi) / 2
        r = up(torch.maximum(self.hi - c, c - self.lo))
        return c, r

    def linear(self, W: Tensor, b: Tensor | None = None) -> Interval:
        """``x ↦ x Wᵀ + b`` over the last axis (W: ``[out, in]``), the point weights W, b exact.

        The centre ``c Wᵀ + b`` in float64; the radius and that product's rounding together,
        ``(r + γ_n |c|) |W|ᵀ + γ_n |b|``, as one product of non-negative numbers bounded from above
        (:func:`_upper_product`). Where the intervals are narrow (every radius below 2⁻²⁰ of the
        largest |c|: rounding-sized, as on a network's exact inputs) and W is float32, as a model's
        weights are, that product is taken in float32: its own rounding then widens the result by a
        relative n·2⁻⁴⁴ at most, where on a wide box it would by n·2⁻²⁴ of the radius."""
        c, r = self._center_radius()
        n = W.shape[1] + (b is not None)
        g = gamma(n)
        y = c @ W.double().T
        magnitude = c.abs()
        narrow = r.numel() == 0 or float(r.max()) <= 2.0**-20 * float(magnitude.max())
        total = _upper_product(r + g * magnitude, W.abs().T, single=narrow)  # its 2 roundings: up(), below
        if b is not None:
            b = b.double()
            y = y + b
            total = total + g * b.abs()
        return Interval(*_outward(y, up(total)))

    def relu(self) -> Interval:
        return Interval(self.lo.clamp_min(0), self.hi.clamp_min(0))

    def __add__(self, other: Interval) -> Interval:
        return Interval(*_unbounded_where_nan(_down(self.lo + other.lo), _up1(self.hi + other.hi)))

    def __sub__(self, other: Interval) -> Interval:
        return Interval(*_unbounded_where_nan(_down(self.lo - other.hi), _up1(self.hi - other.lo)))

    def __mul__(self, other: Interval) -> Interval:
        """The elementwise product (broadcasting), each of the four endpoint products rounded once
        and the result moved one ulp outwards.

        >>> x = Interval.box(torch.tensor([-1.0, 2.0]), torch.tensor([3.0, 2.0]))
        >>> y = x * Interval.point(torch.tensor([0.5, -0.25]))  # [-0.5, 1.5] and the point -0.5
        >>> bool((y.lo <= torch.tensor([-0.5, -0.5])).all() and (y.hi >= torch.tensor([1.5, -0.5])).all())
        True
        """
        return _hull([a * b for a in (self.lo, self.hi) for b in (other.lo, other.hi)])

    def __truediv__(self, other: Interval) -> Interval:
        """The elementwise quotient by an interval of positive numbers, rounded outwards."""
        if not bool((other.lo > 0).all()):
            raise ProofError("an Interval divisor must be positive everywhere (its `lo` > 0).")
        pairs = [a / b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        quotients = torch.stack(torch.broadcast_tensors(*pairs))
        return Interval(_down(quotients.min(0).values), _up1(quotients.max(0).values))

    def sum(self, dim: int) -> Interval:
        """The sum over `dim`, with the float64 summation error (γ_n of the magnitudes) outside it."""
        n = self.lo.shape[dim]
        g = gamma(max(n, 1))
        lo, hi = self.lo.sum(dim), self.hi.sum(dim)
        err_lo = up(g * self.lo.abs().sum(dim) / (1 - g))
        err_hi = up(g * self.hi.abs().sum(dim) / (1 - g))
        return Interval(*_unbounded_where_nan(_down(lo - err_lo), _up1(hi + err_hi)))

    def magnitude(self) -> Tensor:
        """``max(|lo|, |hi|)``: an upper bound of the absolute value of every number inside (exact)."""
        return torch.maximum(self.lo.abs(), self.hi.abs())

    def scale(self, s: float | tuple[float, float]) -> Interval:
        """Multiply by the real number `s` given as the pair of floats ``(s_lo, s_hi)`` that
        enclose it; a float is taken as exact."""
        if isinstance(s, float):
            return _hull([self.lo * s, self.hi * s])
        return _hull([self.lo * s[0], self.lo * s[1], self.hi * s[0], self.hi * s[1]])

    def matmul_narrow(self, other: Interval) -> Interval:
        """``self @ other`` for 2-D intervals whose widths are rounding-sized: one float product of
        the midpoints, its error bounded by row sums and column maxima (O(N·K + K·M) work) instead of
        Rump's three more products. ``|AB − c_A c_B| ≤ |c_A| r_B + r_A (|c_B| + r_B)`` summed over the
        inner axis, plus the product's own rounding ``γ_K |c_A| @ |c_B|``, each bounded by a sum times
        a maximum: as sound as :meth:`matmul`, looser by the spread of the widths, which is nothing
        when every width is a few ulps.

        >>> A = Interval.point(torch.tensor([[1.0, 2.0]], dtype=torch.float64))
        >>> y = A.matmul_narrow(Interval.point(torch.tensor([[3.0], [0.1]], dtype=torch.float64)))
        >>> bool(y.lo <= 3.2 <= y.hi) and float(y.hi - y.lo) < 1e-14
        True
        """
        c_f, r_f = self._center_radius()
        c_D, r_D = other._center_radius()
        g = gamma(max(c_f.shape[-1], 1))
        y = c_f @ c_D
        f_sum = up(c_f.abs().sum(1) / (1 - g))  # [N]
        rad = up(f_sum[:, None] * r_D.max(0).values[None, :])  # Σ |c_A| r_B
        D_sum = up((c_D.abs() + r_D).sum(0) / (1 - g))
        rad = up(rad + up(r_f.max(1).values[:, None] * D_sum[None, :]))  # Σ r_A (|c_B| + r_B)
        rad = up(rad + up(g * f_sum[:, None] * c_D.abs().max(0).values[None, :] / (1 - g)))  # y's rounding
        return Interval(*_outward(y, rad))

    def matmul(self, other: Interval) -> Interval:
        """``self @ other`` (batched as torch.matmul) for intervals on both sides (Rump's
        midpoint–radius product): the centre product ± (|A|·R_B + R_A·|B| + R_A·R_B) plus rounding."""
        a, ra = self._center_radius()
        b, rb = other._center_radius()
        n = a.shape[-1]
        g = gamma(n)
        y = a @ b
        mag = a.abs() @ b.abs()
        rad = a.abs() @ rb + ra @ (b.abs() + rb)
        total = up((rad + g * mag) / (1 - g))
        return Interval(*_outward(y, total))

    def softmax(self) -> Interval:
        """Softmax over the last axis; entries with ``hi = -inf`` (masked) have weight 0.

        For logits in [l, u]: softmax_i ≥ 1 / (1 + Σ_{j≠i} e^{u_j − l_i}) and
        softmax_i ≤ 1 / (1 + Σ_{j≠i} e^{l_j − u_i}), with the exponentials bounded outwards.
        """
        lo, hi = self.lo, self.hi
        n = lo.shape[-1]
        # upper bounds of e^{u_j - l_i}: [..., i, j]
        d_up = _up1(hi.unsqueeze(-2) - lo.unsqueeze(-1))
        e_up = up(torch.exp(d_up))
        d_lo = _down(lo.unsqueeze(-2) - hi.unsqueeze(-1))
        e_lo = torch.exp(d_lo) * (1 - SLACK)
        masked = hi == -INF
        # a masked j weighs 0 even against an unbounded l_i (where −inf − (−inf) would be NaN)
        skip = torch.eye(n, dtype=torch.bool, device=lo.device) | masked.unsqueeze(-2)
        s_up = up(e_up.masked_fill(skip, 0).sum(-1) / (1 - gamma(n)))
        s_lo = (e_lo.masked_fill(skip, 0).sum(-1) * (1 - gamma(n))).nan_to_num(0.0)
        low, high = _down(1 / _up1(1 + s_up)), _up1(1 / _down(1 + s_lo)).clamp(max=1.0)
        low, high = low.masked_fill(low.isnan(), 0.0), high.masked_fill(high.isnan(), 1.0)  # in [0, 1]
        return Interval(low.masked_fill(masked, 0.0).clamp_min(0), high.masked_fill(masked, 0.0))

    # -- elementwise functions: each an enclosure of the exact function on every point of the box,
    # resting on the computed values' errors of ASSUMED_ERRORS --

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def _through(self, f, rel: float, increasing: bool = True) -> Interval:
        """A monotone `f` of error at most `rel`·|f| (+ 2⁻¹⁰⁰⁰) at each endpoint."""
        ends = []
        for x in (self.lo, self.hi):
            y = f(x)
            ends.append(_outward(y, up(y.abs() * rel)))
        (lo_a, hi_a), (lo_b, hi_b) = ends
        return Interval(lo_a, hi_b) if increasing else Interval(lo_b, hi_a)

    def exp(self) -> Interval:
        out = self._through(torch.exp, SLACK)
        return Interval(out.lo.clamp_min(0), out.hi)

    def tanh(self) -> Interval:
        out = self._through(torch.tanh, SLACK)
        return Interval(out.lo.clamp(-1, 1), out.hi.clamp(-1, 1))

    def sigmoid(self) -> Interval:
        out = self._through(torch.sigmoid, SLACK)
        return Interval(out.lo.clamp(0, 1), out.hi.clamp(0, 1))

    def sqrt(self) -> Interval:
        """√x where x >= 0; a box dipping below 0 (a rounding-wide variance) is cut at 0, where the
        real function is defined."""
        out = Interval(self.lo.clamp_min(0), self.hi.clamp_min(0))._through(torch.sqrt, 2 * U)
        return Interval(out.lo.clamp_min(0), out.hi)

    def rsqrt(self) -> Interval:
        """1/√x where x > 0; where the box reaches 0 or below the upper side is unbounded."""
        out = self._through(lambda t: 1 / torch.sqrt(t), 4 * U, increasing=False)
        lo = out.lo.clamp_min(0).masked_fill(self.hi <= 0, 0.0)
        return Interval(lo, out.hi.masked_fill(self.lo <= 0, INF))

    def square(self) -> Interval:
        """x², tight at the box's corners and 0 where the box holds 0."""
        return self.pow_int(2)

    def pow_int(self, n: int) -> Interval:
        """x**n for a whole `n` from 1 to 8 (odd: monotone; even: through |x|)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
            raise ProofError(f"`n` (={n!r}) must be a whole number from 1 to 8.")
        if n % 2:
            return self._through(lambda t: t**n, SLACK)
        mag = self.magnitude()
        low = torch.where(
            (self.lo <= 0) & (self.hi >= 0),
            torch.zeros_like(mag),
            torch.minimum(self.lo.abs(), self.hi.abs()),
        )
        return Interval(low, mag)._through(lambda t: t**n, SLACK)

    def _periodic(self, f, peak: float) -> Interval:
        """cos or sin (absolute error 2⁻⁴⁰): the endpoints' values, and ±1 where the box may hold a
        point ``peak + kπ`` (decided with a margin, so a doubtful case widens, never narrows)."""
        ends = [f(x) for x in (self.lo, self.hi)]
        lo = _down(torch.minimum(*ends) - 2 * SLACK)
        hi = _up1(torch.maximum(*ends) + 2 * SLACK)
        two_pi = 2 * math.pi
        margin = 1e-9 + 1e-12 * self.magnitude() / two_pi

        def holds(offset: float) -> Tensor:  # does [lo, hi] hold offset + 2kπ for a whole k?
            k_lo = torch.ceil((self.lo - offset) / two_pi - margin)
            return torch.floor((self.hi - offset) / two_pi + margin) >= k_lo

        wide = ~(self.lo.isfinite() & self.hi.isfinite()) | (self.hi - self.lo >= two_pi)
        hi = hi.masked_fill(holds(peak) | wide, 1.0)
        lo = lo.masked_fill(holds(peak + math.pi) | wide, -1.0)
        return Interval(lo.clamp(-1, 1), hi.clamp(-1, 1))

    def cos(self) -> Interval:
        return self._periodic(torch.cos, 0.0)

    def sin(self) -> Interval:
        return self._periodic(torch.sin, math.pi / 2)

    def _valley(self, name: str, f, err) -> Interval:
        """A function falling to one minimum and rising after it (GELU, SiLU; :data:`_VALLEYS`): its
        maximum on a box is at an endpoint, its minimum at the endpoint nearer the minimiser, or
        (where the box may hold the minimiser) the stated floor."""
        x1, x2, floor = _VALLEYS[name]
        ends = []
        for x in (self.lo, self.hi):
            y = f(x)
            ends.append(_outward(y, err(x, y)))
        (lo_a, hi_a), (lo_b, hi_b) = ends
        lo = torch.where(self.hi < x1, lo_b, torch.where(self.lo > x2, lo_a, torch.full_like(lo_a, floor)))
        return Interval(lo, torch.maximum(hi_a, hi_b))

    def gelu(self, approximate: str = "none") -> Interval:
        """GELU, ``x Φ(x)`` (``approximate="none"``) or its tanh form, as torch computes them."""
        if approximate not in ("none", "tanh"):
            raise ProofError(f"`approximate` (={approximate!r}) must be 'none' or 'tanh'.")
        f = lambda t: torch.nn.functional.gelu(t, approximate=approximate)  # noqa: E731
        err = lambda x, y: up(x.abs() * 4 * SLACK + y.abs() * SLACK)  # noqa: E731
        return self._valley("gelu" if approximate == "none" else "gelu_tanh", f, err)

    def silu(self) -> Interval:
        return self._valley("silu", torch.nn.functional.silu, lambda x, y: up(y.abs() * 2 * SLACK))
