"""The checker's own path for language-model certificates (:mod:`nerve.proofs.language`).

The model folder's files are hashed and compared; the model's forward is exported again (torch
only captures the graph: which ops, in which order, on which weights) and then evaluated **in
numpy, one prompt at a time, op by op**, with interval rules written here plainly, none of the
prover's torch kernels: each dot product of length n in float64 within γ_n Σ|x_i y_i| of the
exact one; bounds inflated by a relative 2⁻⁴⁰ and an absolute 2⁻¹⁰⁰⁰; endpoints one ulp outwards;
libm's exp, tanh, erf, cos and sin within the errors :data:`nerve.proofs.intervals.ASSUMED_ERRORS`
states. The margins found are compared with the certificate's result as for any certificate.
"""

from __future__ import annotations

import math
import operator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.special

from nerve.errors import ProofError
from nerve.proofs.check import (
    SLACK,
    CheckReport,
    _add,
    _bound,
    _centre,
    _compare,
    _gamma,
    _linear,
    _outward,
    _product,
    _unbounded_where_nan,
)
from nerve.proofs.intervals import _VALLEYS  # the stated facts about GELU's and SiLU's minima, not code

__all__ = ["check_lm"]

INF = math.inf


class _I:
    """An interval array ``[lo, hi]`` (float64 numpy arrays of one shape)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)

    def map(self, f) -> _I:
        return _I(f(self.lo), f(self.hi))


class _UncheckedError(ProofError):
    """The graph holds an op this checker has no rule for."""


def _iv(x: Any) -> _I:
    if isinstance(x, _I):
        return x
    a = np.asarray(x, dtype=np.float64)
    return _I(a, a)


def _exact(x: Any) -> bool:
    return not isinstance(x, _I)


def _down(x):
    return np.nextafter(x, -INF)


def _up(x):
    return np.nextafter(x, INF)


def _hull(products: list[np.ndarray]) -> _I:
    stacked = np.stack(np.broadcast_arrays(*products))
    nan = np.isnan(stacked).any(0)
    lo, hi = _down(stacked.min(0)), _up(stacked.max(0))
    return _I(np.where(nan, -INF, lo), np.where(nan, INF, hi))


def _mul(a: Any, b: Any) -> _I:
    a, b = _iv(a), _iv(b)
    return _hull([x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)])


def _reciprocal_exact(c: Any) -> _I:
    c = np.asarray(c, dtype=np.float64)
    if (c == 0).any():
        raise _UncheckedError("division by an exact zero")
    r = 1 / c
    return _I(_down(r), _up(r))


def _div(a: Any, b: Any, rounding_mode: Any = None) -> _I:
    if rounding_mode is not None:
        raise _UncheckedError("division with a rounding mode")
    if _exact(b):
        return _mul(a, _reciprocal_exact(b))
    a = _iv(a)
    if (b.lo > 0).all():
        return _hull([x / y for x in (a.lo, a.hi) for y in (b.lo, b.hi)])
    raise _UncheckedError("division by an interval that is not positive")


def _sum(x: _I, axes: Any, keepdims: bool = False) -> _I:
    """The sum over `axes`, each axis's float64 summation error outside it."""
    axes = sorted({a % x.lo.ndim for a in axes}, reverse=True)
    for a in axes:
        n = x.lo.shape[a]
        g = _gamma(max(n, 1))
        lo, hi = x.lo.sum(a), x.hi.sum(a)
        err_lo = _bound(g * np.abs(x.lo).sum(a) / (1 - g))
        err_hi = _bound(g * np.abs(x.hi).sum(a) / (1 - g))
        lo, hi = _unbounded_where_nan(_down(lo - err_lo), _up(hi + err_hi))
        x = _I(np.expand_dims(lo, a), np.expand_dims(hi, a)) if keepdims else _I(lo, hi)
    return x


def _mean(x: Any, axes: Any, keepdims: bool = False) -> _I:
    x = _iv(x)
    axes = list(range(x.lo.ndim)) if axes is None or axes == [] else list(axes)
    n = math.prod(x.lo.shape[a] for a in axes)
    return _mul(_sum(x, axes, keepdims), _reciprocal_exact(np.float64(n)))


def _monotone(x: _I, f, rel: float, increasing: bool = True) -> _I:
    ends = []
    for v in (x.lo, x.hi):
        with np.errstate(all="ignore"):
            y = f(v)
        ends.append(_outward(y, _bound(np.abs(y) * rel)))
    (lo_a, hi_a), (lo_b, hi_b) = ends
    return _I(lo_a, hi_b) if increasing else _I(lo_b, hi_a)


def _square(x: _I) -> _I:
    mag = np.maximum(np.abs(x.lo), np.abs(x.hi))
    low = np.where((x.lo <= 0) & (x.hi >= 0), 0.0, np.minimum(np.abs(x.lo), np.abs(x.hi)))
    return _monotone(_I(low, mag), np.square, SLACK)


def _pow(x: Any, e: Any) -> _I:
    x = _iv(x)
    if e == 2:
        return _square(x)
    if e in (1, 3, 5, 7):
        return _monotone(x, lambda v: v**e, SLACK)
    if e == 0.5:
        return _sqrt(x)
    if e == -0.5:
        return _rsqrt(x)
    raise _UncheckedError(f"pow with exponent {e}")


def _sqrt(x: _I) -> _I:
    out = _monotone(_I(np.maximum(x.lo, 0), np.maximum(x.hi, 0)), np.sqrt, 2 * 2.0**-53)
    return _I(np.maximum(out.lo, 0), out.hi)


def _rsqrt(x: _I) -> _I:
    out = _monotone(x, lambda v: 1 / np.sqrt(v), 4 * 2.0**-53, increasing=False)
    lo = np.where(x.hi <= 0, 0.0, np.maximum(out.lo, 0))
    return _I(lo, np.where(x.lo <= 0, INF, out.hi))


def _periodic(x: _I, f, peak: float) -> _I:
    a, b = f(x.lo), f(x.hi)
    lo, hi = _down(np.minimum(a, b) - 2 * SLACK), _up(np.maximum(a, b) + 2 * SLACK)
    two_pi = 2 * math.pi
    margin = 1e-9 + 1e-12 * np.maximum(np.abs(x.lo), np.abs(x.hi)) / two_pi

    def holds(offset):
        return np.floor((x.hi - offset) / two_pi + margin) >= np.ceil((x.lo - offset) / two_pi - margin)

    wide = ~(np.isfinite(x.lo) & np.isfinite(x.hi)) | (x.hi - x.lo >= two_pi)
    hi = np.where(holds(peak) | wide, 1.0, hi)
    lo = np.where(holds(peak + math.pi) | wide, -1.0, lo)
    return _I(np.clip(lo, -1, 1), np.clip(hi, -1, 1))


def _valley(x: _I, name: str, f, err) -> _I:
    x1, x2, floor = _VALLEYS[name]
    ends = []
    for v in (x.lo, x.hi):
        with np.errstate(all="ignore"):
            y = f(v)
        ends.append(_outward(y, err(v, y)))
    (lo_a, hi_a), (lo_b, hi_b) = ends
    lo = np.where(x.hi < x1, lo_b, np.where(x.lo > x2, lo_a, floor))
    return _I(lo, np.maximum(hi_a, hi_b))


def _gelu(x: Any, approximate: str = "none") -> _I:
    x = _iv(x)
    if approximate == "none":
        f = lambda v: v * 0.5 * (1 + scipy.special.erf(v / math.sqrt(2)))  # noqa: E731
    else:
        f = lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))  # noqa: E731
    err = lambda v, y: _bound(np.abs(v) * 4 * SLACK + np.abs(y) * SLACK)  # noqa: E731
    return _valley(x, "gelu" if approximate == "none" else "gelu_tanh", f, err)


def _silu(x: Any) -> _I:
    return _valley(_iv(x), "silu", lambda v: v / (1 + np.exp(-v)), lambda v, y: _bound(np.abs(y) * 2 * SLACK))


def _softmax_last(x: _I) -> _I:
    """Softmax over the last axis, as the prover bounds it: softmax_i lies between
    1 / (1 + Σ_{j≠i} e^{u_j − l_i}) and 1 / (1 + Σ_{j≠i} e^{l_j − u_i}); masked (hi = −inf) weigh 0."""
    lo, hi = x.lo, x.hi
    n = lo.shape[-1]
    with np.errstate(all="ignore"):
        e_up = _bound(np.exp(_up(hi[..., None, :] - lo[..., :, None])))
        e_lo = np.exp(_down(lo[..., None, :] - hi[..., :, None])) * (1 - SLACK)
    masked = hi == -INF
    skip = np.eye(n, dtype=bool) | masked[..., None, :]
    g = _gamma(n)
    s_up = _bound(np.where(skip, 0, e_up).sum(-1) / (1 - g))
    s_lo = np.nan_to_num(np.where(skip, 0, e_lo).sum(-1) * (1 - g), nan=0.0)
    with np.errstate(all="ignore"):
        low, high = _down(1 / _up(1 + s_up)), np.minimum(_up(1 / _down(1 + s_lo)), 1.0)
    low, high = np.where(np.isnan(low), 0.0, low), np.where(np.isnan(high), 1.0, high)
    return _I(np.maximum(np.where(masked, 0.0, low), 0), np.where(masked, 0.0, high))


def _softmax(x: Any, dim: int, *_: Any) -> _I:
    x = _iv(x)
    moved = x.map(lambda a: np.moveaxis(a, dim, -1))
    return _softmax_last(moved).map(lambda a: np.moveaxis(a, -1, dim))


def _matmul(a: Any, b: Any) -> _I:
    if _exact(b) and np.ndim(b) == 2:
        a = _iv(a)
        return _I(*_linear(a.lo, a.hi, np.asarray(b, dtype=np.float64).T))
    a, b = _iv(a), _iv(b)
    return _I(*_product(a.lo, a.hi, b.lo, b.hi))


def _einsum(equation: str, operands: list) -> _I:
    from nerve.proofs.interpreter import contraction_size  # index counting only, no arithmetic

    if len(operands) != 2:
        raise _UncheckedError(f"einsum of {len(operands)} operands")
    (a, ra), (b, rb) = (_centre(_iv(x).lo, _iv(x).hi) for x in operands)
    g = _gamma(max(contraction_size(equation, [a.shape, b.shape]), 1))
    y = np.einsum(equation, a, b)
    rad = np.einsum(equation, np.abs(a), _bound(rb + g * np.abs(b))) + np.einsum(equation, ra, np.abs(b) + rb)
    return _I(*_outward(y, _bound(rad / (1 - g))))


def _linear_op(x: Any, W: Any, b: Any = None) -> _I:
    x = _iv(x)
    if _exact(W) and _exact(b):
        bias = None if b is None else np.asarray(b, dtype=np.float64)
        return _I(*_linear(x.lo, x.hi, np.asarray(W, dtype=np.float64), bias))
    out = _matmul(x, _iv(W).map(lambda a: np.swapaxes(a, -1, -2)))
    return out if b is None else _plus(out, b)


def _plus(a: Any, b: Any) -> _I:
    a, b = _iv(a), _iv(b)
    return _I(*_add(a.lo, a.hi, b.lo, b.hi))


def _minus(a: Any, b: Any) -> _I:
    a, b = _iv(a), _iv(b)
    return _I(*_unbounded_where_nan(_down(a.lo - b.hi), _up(a.hi - b.lo)))


def _layer_norm(x: Any, shape: list, weight: Any = None, bias: Any = None, eps: float = 1e-5, *_: Any) -> _I:
    x = _iv(x)
    axes = list(range(-len(shape), 0))
    centred = _minus(x, _mean(x, axes, True))
    y = _mul(centred, _rsqrt(_plus(_mean(_square(centred), axes, True), float(eps))))
    y = y if weight is None else _mul(y, weight)
    return y if bias is None else _plus(y, bias)


def _rms_norm(x: Any, shape: list, weight: Any = None, eps: float | None = None) -> _I:
    if eps is None:
        raise _UncheckedError("rms_norm without eps")
    x = _iv(x)
    y = _mul(x, _rsqrt(_plus(_mean(_square(x), list(range(-len(shape), 0)), True), float(eps))))
    return y if weight is None else _mul(y, weight)


def _sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False) -> _I:
    if dropout_p:
        raise _UncheckedError("attention dropout")
    q, k, v = _iv(q), _iv(k), _iv(v)
    if enable_gqa and k.lo.shape[-3] != q.lo.shape[-3]:
        groups = q.lo.shape[-3] // k.lo.shape[-3]
        k, v = (t.map(lambda a: np.repeat(a, groups, axis=-3)) for t in (k, v))
    if scale is None:
        root = math.sqrt(q.lo.shape[-1])
        bracket = (
            math.nextafter(1 / math.nextafter(root, INF), 0.0),
            math.nextafter(1 / math.nextafter(root, 0.0), INF),
        )
    else:
        bracket = (float(scale), float(scale))
    s = _product(q.lo, q.hi, np.swapaxes(k.lo, -1, -2), np.swapaxes(k.hi, -1, -2))
    scores = _hull([e * c for e in s for c in bracket])
    T, S = scores.lo.shape[-2:]
    if is_causal:
        keep = np.tril(np.ones((T, S), dtype=bool))  # torch's mask: ones(L, S).tril(diagonal=0)
        scores = scores.map(lambda a: np.where(keep, a, -INF))
    if attn_mask is not None:
        mask = np.asarray(attn_mask)
        scores = scores.map(lambda a: np.where(mask, a, -INF)) if mask.dtype == bool else _plus(scores, mask)
    p = _softmax_last(scores)
    return _I(*_product(p.lo, p.hi, v.lo, v.hi))


def _where(cond, a, b) -> Any:
    if isinstance(cond, _I):
        raise _UncheckedError("where on a computed condition")
    if _exact(a) and _exact(b):
        return np.where(cond, a, b)
    a, b = _iv(a), _iv(b)
    return _I(np.where(cond, a.lo, b.lo), np.where(cond, a.hi, b.hi))


def _index(x: Any, indices: list) -> Any:
    key = tuple(slice(None) if i is None else np.asarray(i) for i in indices)
    return x.map(lambda a: a[key]) if isinstance(x, _I) else np.asarray(x)[key]


def _slice(a: np.ndarray, dim: int = 0, start: Any = None, end: Any = None, step: int = 1) -> np.ndarray:
    key = [slice(None)] * a.ndim
    key[dim] = slice(start, end, step)
    return a[tuple(key)]


def _view(a: np.ndarray, shape: list) -> np.ndarray:
    return np.reshape(a, shape)


def _expand(a: np.ndarray, shape: list) -> np.ndarray:
    shape = list(shape)
    lead = len(shape) - a.ndim
    full = [a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape)]
    return np.broadcast_to(a, full)


def _split(a: np.ndarray, size: Any, dim: int = 0) -> list[np.ndarray]:
    sizes = [size] * math.ceil(a.shape[dim] / size) if isinstance(size, int) else list(size)
    return np.split(a, np.cumsum(sizes)[:-1], axis=dim)


def _squeeze(a: np.ndarray, dims: Any = None) -> np.ndarray:
    if dims is None:
        return np.squeeze(a)
    dims = [dims] if isinstance(dims, int) else dims
    return np.squeeze(a, tuple(d for d in dims if a.shape[d] == 1))


# moves: the same function of lo and hi (entries rearranged, not changed)
_MOVES: dict[str, Any] = {
    "aten.view.default": _view, "aten.reshape.default": _view, "aten._unsafe_view.default": _view,
    "aten.transpose.int": lambda a, i, j: np.swapaxes(a, i, j), "aten.t.default": lambda a: a.T,
    "aten.permute.default": lambda a, dims: np.transpose(a, dims), "aten.unsqueeze.default": np.expand_dims,
    "aten.squeeze.dim": _squeeze, "aten.squeeze.dims": _squeeze, "aten.squeeze.default": _squeeze,
    "aten.expand.default": _expand, "aten.slice.Tensor": _slice,
    "aten.select.int": lambda a, dim, i: np.take(a, i, axis=dim), "aten.clone.default": lambda a, **_: a,
    "aten.contiguous.default": lambda a, **_: a, "aten.alias.default": lambda a: a,
    "aten.detach.default": lambda a: a, "aten.lift_fresh_copy.default": lambda a: a,
    "aten.detach_.default": lambda a: a, "aten.tril.default": lambda a, k=0: np.tril(a, k),
    "aten.triu.default": lambda a, k=0: np.triu(a, k),
    "aten.clamp.default": lambda a, low=None, high=None: np.clip(a, low, high),  # monotone
    "aten.repeat_interleave.self_int": lambda a, n, dim=None, **_: np.repeat(a, n, axis=dim),
}  # fmt: skip
_SPLITS: dict[str, Any] = {"aten.split.Tensor": _split, "aten.split_with_sizes.default": _split}
_DTYPES = {"torch.int64": np.int64, "torch.int32": np.int32, "torch.bool": np.bool_}


def _float_or(dtype: Any, default: Any = np.int64) -> Any:
    return (
        np.float64
        if dtype is not None and getattr(dtype, "is_floating_point", False)
        else _DTYPES.get(str(dtype), default)
    )


def _arange(*args: Any, dtype: Any = None, **_: Any) -> np.ndarray:
    values = [a for a in args if isinstance(a, (int, float))]
    if not all(float(v) == int(v) for v in values):
        raise _UncheckedError("arange with fractional bounds")
    return np.arange(*values).astype(_float_or(dtype))


def _full(shape: list, value: Any, *, dtype: Any = None, **_: Any) -> np.ndarray:
    kind = _float_or(dtype, np.float64 if isinstance(value, float) else np.int64)
    return np.full(shape, value, dtype=bool if str(dtype) == "torch.bool" else kind)


_CREATES: dict[str, Any] = {
    "aten.arange.default": _arange, "aten.arange.start": _arange, "aten.arange.start_step": _arange,
    "aten.full.default": _full,
    "aten.ones.default": lambda shape, **kw: _full(shape, 1, **kw),
    "aten.zeros.default": lambda shape, **kw: _full(shape, 0, **kw),
    "aten.new_ones.default": lambda a, shape, **kw: _full(shape, 1, **kw),
    "aten.new_zeros.default": lambda a, shape, **kw: _full(shape, 0, **kw),
    "aten.zeros_like.default": lambda a, **kw: np.zeros_like(a),
    "aten.ones_like.default": lambda a, **kw: np.ones_like(a),
    "aten.full_like.default": lambda a, v, **kw: np.full_like(a, v),
    "aten.scalar_tensor.default": lambda v, **kw: np.asarray(v, dtype=_float_or(kw.get("dtype"), np.float64)),
}  # fmt: skip


def _diff(a: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> np.ndarray:
    extra = {k: np.asarray(v) for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(np.asarray(a), n, axis=dim, **extra)


_DISCRETE: dict[str, Any] = {
    "aten.eq.Tensor": np.equal, "aten.eq.Scalar": np.equal, "aten.ne.Tensor": np.not_equal,
    "aten.ne.Scalar": np.not_equal, "aten.lt.Tensor": np.less, "aten.lt.Scalar": np.less,
    "aten.le.Tensor": np.less_equal, "aten.le.Scalar": np.less_equal, "aten.gt.Tensor": np.greater,
    "aten.gt.Scalar": np.greater, "aten.ge.Tensor": np.greater_equal, "aten.ge.Scalar": np.greater_equal,
    "aten.__and__.Tensor": np.logical_and, "aten.__or__.Tensor": np.logical_or,
    "aten.bitwise_and.Tensor": np.bitwise_and, "aten.bitwise_or.Tensor": np.bitwise_or,
    "aten.bitwise_not.default": np.invert, "aten.logical_not.default": np.logical_not,
    "aten.cumsum.default": lambda a, dim, **_: np.cumsum(a, axis=dim),
    "aten.diff.default": _diff,
    "aten.any.default": np.any, "aten.all.default": np.all,
}  # fmt: skip


def _clipped(x: _I, low: float, high: float) -> _I:
    return _I(np.clip(x.lo, low, high), np.clip(x.hi, low, high))


def _transposed(W: Any) -> Any:
    return np.asarray(W).T if _exact(W) else _iv(W).map(np.transpose)


_ARITHMETIC: dict[str, Any] = {
    "aten.add.Tensor": lambda a, b, alpha=1: _plus(a, b if alpha == 1 else _mul(b, alpha)),
    "aten.sub.Tensor": lambda a, b, alpha=1: _minus(a, b if alpha == 1 else _mul(b, alpha)),
    "aten.mul.Tensor": _mul, "aten.mul.Scalar": _mul, "aten.div.Tensor": _div, "aten.div.Scalar": _div,
    "aten.neg.default": lambda a: _I(-_iv(a).hi, -_iv(a).lo), "aten.pow.Tensor_Scalar": _pow,
    "aten.rsqrt.default": lambda a: _rsqrt(_iv(a)), "aten.sqrt.default": lambda a: _sqrt(_iv(a)),
    "aten.exp.default": lambda a: _clipped(_monotone(_iv(a), np.exp, SLACK), 0, INF),
    "aten.tanh.default": lambda a: _clipped(_monotone(_iv(a), np.tanh, SLACK), -1, 1),
    "aten.cos.default": lambda a: _periodic(_iv(a), np.cos, 0.0),
    "aten.sin.default": lambda a: _periodic(_iv(a), np.sin, math.pi / 2),
    "aten.relu.default": lambda a: _iv(a).map(lambda v: np.maximum(v, 0)),
    "aten.gelu.default": _gelu, "aten.silu.default": _silu,
    "aten.softmax.int": _softmax, "aten._softmax.default": _softmax, "aten._safe_softmax.default": _softmax,
    "aten.linear.default": _linear_op, "aten.matmul.default": _matmul, "aten.mm.default": _matmul,
    "aten.bmm.default": _matmul, "aten.einsum.default": _einsum,
    "aten.addmm.default": lambda b, x, W: _linear_op(x, _transposed(W), b),
    "aten.mean.dim": lambda a, dims, keepdim=False, **_: _mean(a, dims, keepdim),
    "aten.sum.dim_IntList": lambda a, dims, keepdim=False, **_: _sum(_iv(a), dims, keepdim),
    "aten.layer_norm.default": _layer_norm, "aten.rms_norm.default": _rms_norm,
    "aten.scaled_dot_product_attention.default": _sdpa,
}  # fmt: skip


def _apply(name: str, args: tuple, kwargs: dict) -> Any:
    if name in ("aten._assert_tensor_metadata.default", "aten._assert_scalar.default"):
        return None
    if name == "<built-in function getitem>":
        return args[0][args[1]]
    if name in ("aten.to.dtype", "aten.to.dtype_layout", "aten.to.device", "aten._to_copy.default"):
        x = args[0]
        if isinstance(x, _I):
            return x  # a cast between float dtypes is the identity on reals
        dtype = kwargs.get("dtype", next((a for a in args[1:] if "torch." in str(a)), None))
        return np.asarray(x).astype(_float_or(dtype, np.asarray(x).dtype))
    if name == "aten.dropout.default":
        if args[2] and args[1] > 0:
            raise _UncheckedError("dropout in training mode")
        return args[0]
    if name == "aten.embedding.default":
        W, ids = args[0], np.asarray(args[1])
        return W.map(lambda a: a[ids]) if isinstance(W, _I) else np.asarray(W)[ids]
    if name == "aten.index.Tensor":
        return _index(args[0], args[1])
    if name in ("aten.cat.default", "aten.stack.default"):
        parts, dim = args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0)
        join = np.concatenate if name == "aten.cat.default" else np.stack
        if all(_exact(p) for p in parts):
            return join([np.asarray(p) for p in parts], axis=dim)
        ivs = [_iv(p) for p in parts]
        return _I(join([p.lo for p in ivs], axis=dim), join([p.hi for p in ivs], axis=dim))
    if name in ("aten.where.self", "aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar"):
        return _where(*args)
    if name in ("aten.masked_fill.Scalar", "aten.masked_fill.Tensor"):
        x, mask, value = args
        return (
            _iv(x).map(lambda a: np.where(mask, value, a)) if isinstance(x, _I) else np.where(mask, value, x)
        )
    if name in _MOVES:
        f = _MOVES[name]
        return (
            args[0].map(lambda a: f(a, *args[1:], **kwargs))
            if isinstance(args[0], _I)
            else f(np.asarray(args[0]), *args[1:], **kwargs)
        )
    if name in _SPLITS:
        x = args[0]
        if isinstance(x, _I):
            return [
                _I(lo, hi) for lo, hi in zip(_SPLITS[name](x.lo, *args[1:]), _SPLITS[name](x.hi, *args[1:]))
            ]
        return _SPLITS[name](np.asarray(x), *args[1:])
    if name in _CREATES:
        return _CREATES[name](*args, **kwargs)
    exact = all(_exact(a) for a in args if a is not None) and all(_exact(v) for v in kwargs.values())
    if name in _DISCRETE:
        if not exact:
            raise _UncheckedError(f"{name} on computed floats")
        out = _DISCRETE[name](
            *[np.asarray(a) if not isinstance(a, (int, float, list)) else a for a in args], **kwargs
        )
        if np.issubdtype(np.asarray(out).dtype, np.floating):
            raise _UncheckedError(f"{name} rounds on floats")
        return out
    if name in _ARITHMETIC:
        arrays = [np.asarray(a) for a in args if not isinstance(a, (_I, int, float, list, type(None), str))]
        if (
            exact
            and arrays
            and not any(np.issubdtype(a.dtype, np.floating) for a in arrays)
            and name in ("aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor")
        ):  # integer arithmetic (positions): exact
            op = {
                "aten.add.Tensor": operator.add,
                "aten.sub.Tensor": operator.sub,
                "aten.mul.Tensor": operator.mul,
            }[name]
            return op(
                np.asarray(args[0]), np.asarray(args[1]) if not isinstance(args[1], (int, float)) else args[1]
            )
        return _ARITHMETIC[name](*args, **kwargs)
    raise _UncheckedError(f"the op {name} has no rule in the checker")


def _evaluate(program: Any, ids: np.ndarray, tensors: dict[str, np.ndarray]) -> _I:
    """The exported `program` on one prompt `ids [1, T]`, in numpy."""
    import torch.fx

    env: dict[str, Any] = {}
    for spec in program.graph_signature.input_specs:
        env[spec.arg.name] = ids if spec.kind.name == "USER_INPUT" else tensors[spec.target]

    def read(a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return env[a.name]
        if isinstance(a, (list, tuple)):
            return type(a)(read(x) for x in a)
        if isinstance(a, dict):
            return {k: read(v) for k, v in a.items()}
        return a

    for node in program.graph.nodes:
        if node.op == "call_function":
            env[node.name] = _apply(str(node.target), read(node.args), read(node.kwargs))
        elif node.op == "output":
            return _iv(read(node.args[0])[0])
    raise _UncheckedError("the graph has no output")


def check_lm(cert: Any, model_dir: str | Path, prompts: str | Path) -> CheckReport:
    """Verify the language-model certificate `cert` against the model folder and the prompt file."""
    import torch

    from nerve.proofs.language import (
        LM_FORMAT,
        LM_METHOD,
        NextTokenLogits,
        PromptFamily,
        has_text_prompts,
        load_lm,
        model_files,
    )
    from nerve.proofs.statements import Robust, TopK, statement_from_dict

    problems: list[str] = []
    if cert.format != LM_FORMAT:
        problems.append(f"format {cert.format!r} is not {LM_FORMAT!r}")
    if cert.method != LM_METHOD:
        return CheckReport(False, (*problems, f"method {cert.method!r} is not one nerve checks"), 0)
    found = model_files(Path(model_dir))
    if found != cert.files:
        differ = sorted(set(found.items()) ^ set(cert.files.items()))
        return CheckReport(
            False, (*problems, f"the model folder's files differ from the certified ones: {differ[:4]}"), 0
        )
    statement = statement_from_dict(cert.statement)
    if isinstance(statement, Robust):
        return CheckReport(
            False, (*problems, "a language-model certificate cannot be about a Robust statement"), 0
        )
    model, tokenizer = load_lm(model_dir, tokenizer=has_text_prompts(prompts))
    family = PromptFamily.read(prompts, tokenizer=tokenizer)
    if family.sha256() != cert.prompts_sha256:
        return CheckReport(
            False, (*problems, "the prompt family is not the certified one (SHA-256 of its ids differs)"), 0
        )
    if cert.statement_text != statement.text(f"the prompt family {family.name!r}"):
        problems.append("the statement's text does not say what its data says")
    tensors: dict[str, np.ndarray] = {}
    rank = statement.k if isinstance(statement, TopK) else 1
    lower, upper = np.empty(len(family)), np.empty(len(family))
    wrapped = NextTokenLogits(model)
    programs: dict[int, Any] = {}
    try:
        for i, (prompt, t) in enumerate(zip(family.prompts, family.targets)):  # one prompt at a time
            T = len(prompt)
            if T not in programs:
                with torch.no_grad():
                    programs[T] = torch.export.export(
                        wrapped, (torch.zeros(1, T, dtype=torch.long),), strict=False
                    )
                exported = {**programs[T].state_dict, **programs[T].constants}
                named = {
                    k: v.detach().double().numpy() if v.is_floating_point() else v.numpy()
                    for k, v in exported.items()
                }
                tensors = {**tensors, **named}
            logits = _evaluate(programs[T], np.asarray([prompt], dtype=np.int64), tensors)
            lo, hi = logits.lo[0], logits.hi[0]
            others_hi = np.sort(np.delete(hi, t))[::-1][rank - 1]
            others_lo = np.sort(np.delete(lo, t))[::-1][rank - 1]
            low, high = lo[t] - others_hi, hi[t] - others_lo
            lower[i] = -INF if math.isnan(low) else math.nextafter(low, -INF)
            upper[i] = INF if math.isnan(high) else math.nextafter(high, INF)
    except _UncheckedError as err:
        return CheckReport(False, (*problems, f"the checker cannot evaluate the model: {err}"), 0)
    problems += _compare(cert, statement, family.prompts, lower, upper)
    return CheckReport(not problems, tuple(problems), len(family))
