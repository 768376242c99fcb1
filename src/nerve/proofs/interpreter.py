"""Bound any PyTorch program: capture a module's forward with :func:`torch.export.export` and
evaluate its graph on :class:`~nerve.proofs.intervals.Interval` values, op by op, each op by a
rule sound for real numbers with every float64 rounding bounded.

The statement is about **the real-number program** the graph defines: the stored weights (float32
or any float dtype) are exact reals, every floating-point op is the exact real operation, and a
cast between float dtypes is the identity (a float32 model that rounds at each op computes an
approximation of it, as its float64 copy does). Integer and boolean tensors (token ids, positions,
masks) are computed exactly, with torch itself; float tensors that nothing has rounded (weights,
embedding rows, masks of literal values) stay exact; everything computed from floats is an
interval.

An op without a rule is refused by name, with the module it sits in, when the program is built:
never approximated. The transcendental functions' assumed errors are stated once, in
:data:`nerve.proofs.intervals.ASSUMED_ERRORS`.

>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2))
>>> program = IntervalProgram(net.eval())
>>> x = torch.tensor([[0.5, -1.0, 2.0]])
>>> bounds = program(x)
>>> bool(bounds.contains(net.double()(x.double())).all()), float(bounds.width().max()) < 1e-10
(True, True)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.fx.node import map_aggregate

from nerve.errors import ProofError, UnsupportedOpError
from nerve.proofs.intervals import INF, Interval, _outward, gamma, up

__all__ = ["IntervalProgram", "UnsupportedOpError", "supported_ops"]

aten = torch.ops.aten


# -- ops that move entries without changing them: applied to both endpoints of an interval --
_MOVES = {
    aten.detach_.default,
    aten.view.default, aten.reshape.default, aten._unsafe_view.default, aten.transpose.int,
    aten.permute.default, aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims,
    aten.squeeze.default, aten.expand.default, aten.slice.Tensor, aten.select.int,
    aten.index.Tensor, aten.clone.default, aten.contiguous.default, aten.alias.default, aten.t.default,
    aten.flatten.using_ints, aten.repeat_interleave.self_int, aten.repeat.default, aten.detach.default,
    aten.lift_fresh_copy.default, aten.narrow.default, aten.unflatten.int, aten.flip.default,
    aten.roll.default, aten.movedim.int, aten.view_as.default, aten.expand_as.default,
    aten.tril.default, aten.triu.default,  # entries kept or set to 0: [tril(lo), tril(hi)]
}  # fmt: skip
# -- ops returning several pieces of one tensor --
_SPLITS = {aten.split.Tensor, aten.split_with_sizes.default, aten.unbind.int, aten.chunk.default}
# -- creation ops whose float values are the literals they are given (exact) --
_CREATES = {
    aten.full.default, aten.ones.default, aten.zeros.default, aten.new_ones.default,
    aten.new_zeros.default, aten.new_full.default, aten.zeros_like.default, aten.ones_like.default,
    aten.full_like.default, aten.scalar_tensor.default, aten.arange.default, aten.arange.start,
    aten.arange.start_step,
}  # fmt: skip
# -- ops on exact integers, booleans or exact floats whose result is not a float: computed exactly --
_DISCRETE = {
    aten.eq.Tensor, aten.eq.Scalar, aten.ne.Tensor, aten.ne.Scalar, aten.lt.Tensor, aten.lt.Scalar,
    aten.le.Tensor, aten.le.Scalar, aten.gt.Tensor, aten.gt.Scalar, aten.ge.Tensor, aten.ge.Scalar,
    aten.__and__.Tensor, aten.__or__.Tensor, aten.bitwise_and.Tensor, aten.bitwise_or.Tensor,
    aten.bitwise_not.default, aten.logical_and.default, aten.logical_or.default,
    aten.logical_not.default, aten.cumsum.default, aten.diff.default, aten.any.default, aten.any.dim,
    aten.all.default, aten.argmax.default, aten.remainder.Scalar, aten.floor_divide.default,
    aten.clamp.default, aten.max.default, aten.min.default,
}  # fmt: skip
# -- of those, the ones exact on floats too (they select, never round); the others must not make floats --
_SELECTING = {aten.clamp.default, aten.max.default, aten.min.default}
# -- no-ops of the exported graph --
_SKIP = {
    aten._assert_tensor_metadata.default,
    aten._assert_scalar.default,
    aten.sym_constrain_range_for_size.default,
}
# -- ops that select among their operands' values: exact when every operand is --
_SELECTS = {
    aten.embedding.default, aten.where.self, aten.where.ScalarOther, aten.where.ScalarSelf,
    aten.where.Scalar, aten.masked_fill.Scalar, aten.masked_fill.Tensor, aten.cat.default,
    aten.stack.default, aten.dropout.default,
}  # fmt: skip
_CASTS = {aten.to.dtype, aten.to.dtype_layout, aten.to.device, aten._to_copy.default, aten.type_as.default}


def _point(x: Any) -> Interval:
    if isinstance(x, Interval):
        return x
    if isinstance(x, Tensor):
        if x.dtype == torch.bool:
            return Interval.point(x.double())  # 0 and 1
        if x.is_floating_point() or x.dtype in (
            torch.int64,
            torch.int32,
            torch.int16,
            torch.int8,
            torch.uint8,
        ):
            if not x.is_floating_point() and bool((x.abs() > 2**53).any()):
                raise ProofError("an integer tensor beyond 2⁵³ cannot be read exactly as a float64 point")
            return Interval.point(x)
        raise ProofError(f"a {x.dtype} tensor cannot be an operand of real arithmetic here")
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Interval.point(torch.tensor(float(x), dtype=torch.float64))
    raise ProofError(f"{x!r} cannot be an operand of real arithmetic here")


def _number(x: Any) -> float | None:
    """`x` as an exact Python float when it is a plain number (not an interval or tensor)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    if isinstance(x, int) and abs(x) > 2**53:
        raise ProofError(f"the integer {x} is beyond 2⁵³ and not exact in float64")
    return float(x)


def _reciprocal(t: Tensor | float) -> Interval:
    """An enclosure of 1/t for an exact nonzero `t` (float division rounds correctly: one ulp)."""
    t = torch.as_tensor(t, dtype=torch.float64)
    if bool((t == 0).any()):
        raise ProofError("division by an exact zero: the real program is undefined there")
    r = 1 / t
    return Interval(
        torch.nextafter(r, torch.tensor(-INF, dtype=r.dtype)),
        torch.nextafter(r, torch.tensor(INF, dtype=r.dtype)),
    )


# -- arithmetic rules: operands are Intervals, exact tensors or numbers --


def _add(x: Any, y: Any, *, alpha: Any = 1) -> Interval:
    if _number(alpha) != 1.0:
        y = _mul(y, alpha)
    return _point(x) + _point(y)


def _sub(x: Any, y: Any, *, alpha: Any = 1) -> Interval:
    if _number(alpha) != 1.0:
        y = _mul(y, alpha)
    return _point(x) - _point(y)


def _mul(x: Any, y: Any) -> Interval:
    for a, b in ((x, y), (y, x)):
        c = _number(b)
        if c is not None:
            return _point(a).scale(c)
    return _point(x) * _point(y)


def _div(x: Any, y: Any, *, rounding_mode: Any = None) -> Interval:
    if rounding_mode is not None:
        raise ProofError(f"division with rounding_mode={rounding_mode!r} has no interval rule")
    if not isinstance(y, Interval):
        c = _number(y)
        y_exact = torch.tensor(c, dtype=torch.float64) if c is not None else y
        return _point(x) * _reciprocal(y_exact)
    if bool((y.lo > 0).all()):
        return _point(x) / y
    if bool((y.hi < 0).all()):
        return -(_point(x) / -y)
    raise ProofError("division by an interval that holds 0 (or changes sign) has no bound")


def _pow(x: Any, e: Any) -> Interval:
    e = _number(e)
    x = _point(x)
    if e is not None and e == int(e) and 1 <= e <= 8:
        return x.pow_int(int(e))
    if e == 0.5:
        return x.sqrt()
    if e == -0.5:
        return x.rsqrt()
    if e == -1.0:
        return _div(1.0, x)
    raise ProofError(f"pow with exponent {e!r} has no interval rule (whole 1..8, 0.5, -0.5, -1 have)")


def _linear(x: Any, W: Any, b: Any = None) -> Interval:
    if isinstance(W, Tensor) and W.dim() == 2 and not isinstance(b, Interval):
        return _point(x).linear(W, b)
    out = _matmul(x, _moved(W, lambda t: t.transpose(-1, -2)))
    return out if b is None else out + _point(b)


def _matmul(x: Any, y: Any) -> Interval:
    if isinstance(y, Tensor) and y.dim() == 2:
        return _point(x).linear(y.T)
    return _point(x).matmul(_point(y))


def contraction_size(equation: str, shapes: list[tuple[int, ...]]) -> int:
    """How many products each output entry of the two-operand einsum `equation` sums: the product of
    the sizes of the indices the inputs carry and the output drops (an ellipsis is never summed).

    >>> contraction_size("bti,oi->bto", [(2, 3, 4), (5, 4)]), contraction_size("ij,jk", [(2, 3), (3, 4)])
    (4, 3)
    """
    inputs, _, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if not output and "->" not in equation:  # implicit output: the indices that appear once, sorted
        letters = "".join(t.replace("...", "") for t in terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        named = term.replace("...", "")
        if "..." in term:  # the named indices before and after the ellipsis
            head, tail = term.split("...")
            dims = list(shape[: len(head)]) + list(shape[len(shape) - len(tail) :])
        else:
            dims = list(shape)
        sizes.update(zip(named, dims))
    return math.prod(sizes[c] for c in sizes if c not in output)


def _einsum(equation: str, operands: list[Any], *_: Any) -> Interval:
    """A two-operand einsum on intervals, as Rump's product: the centres' einsum ± (|A|·(R_B + γ|B|) +
    R_A·(|B| + R_B)) summed as the equation sums, γ = γ_n for the n products of each output entry."""
    if len(operands) != 2:
        raise ProofError(f"einsum of {len(operands)} operands has no interval rule (two have)")
    (a, ra), (b, rb) = (_point(x)._center_radius() for x in operands)
    n = contraction_size(equation, [tuple(a.shape), tuple(b.shape)])
    g = gamma(max(n, 1))
    y = torch.einsum(equation, a, b)
    rad = torch.einsum(equation, a.abs(), up(rb + g * b.abs())) + torch.einsum(equation, ra, b.abs() + rb)
    return Interval(*_outward(y, up(rad / (1 - g))))


def _addmm(b: Any, x: Any, W: Any, *, beta: Any = 1, alpha: Any = 1) -> Interval:
    if _number(beta) != 1.0 or _number(alpha) != 1.0:
        raise ProofError("addmm with beta or alpha other than 1 has no interval rule")
    if isinstance(W, Tensor) and not isinstance(b, Interval):
        return _point(x).linear(W.T, b)
    return _matmul(x, W) + _point(b)


def _sum(x: Any, dims: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Interval:
    x = _point(x)
    dims = range(x.lo.dim()) if dims is None or dims == [] else ([dims] if isinstance(dims, int) else dims)
    dims = sorted({d % x.lo.dim() for d in dims}, reverse=True)
    for d in dims:
        x = x.sum(d)
        if keepdim:
            x = x.map(lambda t, d=d: t.unsqueeze(d))
    return x


def _mean(x: Any, dims: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Interval:
    x = _point(x)
    dims_list = (
        range(x.lo.dim()) if dims is None or dims == [] else ([dims] if isinstance(dims, int) else dims)
    )
    n = math.prod(x.shape[d] for d in dims_list)
    return _sum(x, dims, keepdim) * _reciprocal(float(n))


def _softmax(x: Any, dim: int, *_: Any, **__: Any) -> Interval:
    x = _point(x)
    if dim % x.lo.dim() == x.lo.dim() - 1:
        return x.softmax()
    return x.map(lambda t: t.movedim(dim, -1)).softmax().map(lambda t: t.movedim(-1, dim))


def _layer_norm(
    x: Any, shape: list[int], weight: Any = None, bias: Any = None, eps: float = 1e-5, *_: Any
) -> Interval:
    x = _point(x)
    dims = list(range(-len(shape), 0))
    centred = x - _mean(x, dims, keepdim=True)
    var = _mean(centred.square(), dims, keepdim=True)
    y = centred * (var + _point(float(eps))).rsqrt()
    if weight is not None:
        y = _mul(y, weight)
    return y if bias is None else y + _point(bias)


def _rms_norm(x: Any, shape: list[int], weight: Any = None, eps: float | None = None) -> Interval:
    if eps is None:
        raise ProofError("rms_norm without eps depends on the dtype's epsilon; pass eps explicitly")
    x = _point(x)
    dims = list(range(-len(shape), 0))
    y = x * (_mean(x.square(), dims, keepdim=True) + _point(float(eps))).rsqrt()
    return y if weight is None else _mul(y, weight)


def _sdpa(
    q: Any, k: Any, v: Any, attn_mask: Any = None, dropout_p: float = 0.0, is_causal: bool = False,
    *, scale: float | None = None, enable_gqa: bool = False,
) -> Interval:  # fmt: skip
    """Attention as ``torch.nn.functional.scaled_dot_product_attention`` computes it."""
    if dropout_p != 0:
        raise ProofError(f"scaled_dot_product_attention with dropout_p={dropout_p} is random; use eval()")
    q, k, v = _point(q), _point(k), _point(v)
    if enable_gqa and k.shape[-3] != q.shape[-3]:
        groups = q.shape[-3] // k.shape[-3]
        k, v = (t.map(lambda s: s.repeat_interleave(groups, -3)) for t in (k, v))
    d = q.shape[-1]
    if scale is None:  # the real program scales by the exact 1/√d
        root = math.sqrt(d)
        bracket = (
            math.nextafter(1 / math.nextafter(root, INF), 0.0),
            math.nextafter(1 / math.nextafter(root, 0.0), INF),
        )
    else:
        bracket = (float(scale), float(scale))
    scores = q.matmul(k.map(lambda t: t.transpose(-1, -2))).scale(bracket)
    T, S = scores.shape[-2], scores.shape[-1]
    if is_causal:  # torch's mask: ones(L, S).tril(diagonal=0)
        keep = torch.ones(T, S, dtype=torch.bool).tril()
        scores = scores.map(lambda t: t.masked_fill(~keep, -INF))
    if attn_mask is not None:
        if isinstance(attn_mask, Tensor) and attn_mask.dtype == torch.bool:
            scores = scores.map(lambda t: t.masked_fill(~attn_mask, -INF))
        else:
            scores = scores + _point(attn_mask)
    return scores.softmax().matmul(v)


def _gelu(x: Any, *, approximate: str = "none") -> Interval:
    return _point(x).gelu(approximate)


def _dropout(x: Any, p: float, train: bool | None) -> Any:
    if train and p > 0:
        raise ProofError(f"dropout (p={p}) in training mode is random: call the model's .eval() first")
    return x


def _where(cond: Tensor, x: Any, y: Any) -> Any:
    if isinstance(cond, Interval):
        raise ProofError("`where` on a condition computed from floats cannot be decided exactly")
    x, y = _point(x), _point(y)
    return Interval(torch.where(cond, x.lo, y.lo), torch.where(cond, x.hi, y.hi))


def _masked_fill(x: Any, mask: Tensor, value: Any) -> Any:
    if isinstance(mask, Interval) or isinstance(value, Interval):
        raise ProofError("`masked_fill` with a computed mask or value has no exact rule")
    return _point(x).map(lambda t: t.masked_fill(mask, value))


def _cat(parts: list[Any], dim: int = 0) -> Any:
    return Interval.cat([_point(p) for p in parts], dim)


def _stack(parts: list[Any], dim: int = 0) -> Any:
    return Interval.stack([_point(p) for p in parts], dim)


def _embedding(weight: Any, ids: Tensor, *_: Any) -> Any:
    if isinstance(ids, Interval):
        raise ProofError("embedding indices must be exact integers, not intervals")
    return _moved(weight, lambda t: torch.nn.functional.embedding(ids, t))


def _moved(x: Any, f: Callable[[Tensor], Any]) -> Any:
    return x.map(f) if isinstance(x, Interval) else f(x)


_RULES: dict[Any, Callable[..., Any]] = {
    aten.add.Tensor: _add, aten.add.Scalar: _add, aten.sub.Tensor: _sub, aten.sub.Scalar: _sub,
    aten.rsub.Scalar: lambda x, y, alpha=1: _sub(y, _mul(x, alpha)),
    aten.mul.Tensor: _mul, aten.mul.Scalar: _mul, aten.div.Tensor: _div, aten.div.Scalar: _div,
    aten.div.Tensor_mode: _div, aten.neg.default: lambda x: -_point(x),
    aten.pow.Tensor_Scalar: _pow, aten.square.default: lambda x: _point(x).square(),
    aten.sqrt.default: lambda x: _point(x).sqrt(), aten.rsqrt.default: lambda x: _point(x).rsqrt(),
    aten.reciprocal.default: lambda x: _div(1.0, x),
    aten.exp.default: lambda x: _point(x).exp(), aten.tanh.default: lambda x: _point(x).tanh(),
    aten.sigmoid.default: lambda x: _point(x).sigmoid(), aten.cos.default: lambda x: _point(x).cos(),
    aten.sin.default: lambda x: _point(x).sin(), aten.relu.default: lambda x: _point(x).relu(),
    aten.gelu.default: _gelu, aten.silu.default: lambda x: _point(x).silu(),
    aten.softmax.int: _softmax, aten._softmax.default: _softmax, aten._safe_softmax.default: _softmax,
    aten.linear.default: _linear, aten.matmul.default: _matmul, aten.mm.default: _matmul,
    aten.bmm.default: _matmul, aten.einsum.default: _einsum,
    aten.addmm.default: _addmm, aten.sum.dim_IntList: _sum, aten.sum.default: _sum,
    aten.mean.dim: _mean, aten.mean.default: _mean, aten.layer_norm.default: _layer_norm,
    aten.rms_norm.default: _rms_norm, aten.scaled_dot_product_attention.default: _sdpa,
    aten.where.self: _where, aten.where.ScalarOther: _where, aten.where.ScalarSelf: _where,
    aten.where.Scalar: _where, aten.masked_fill.Scalar: _masked_fill, aten.masked_fill.Tensor: _masked_fill,
    aten.cat.default: _cat,
    aten.stack.default: _stack, aten.embedding.default: _embedding, aten.dropout.default: _dropout,
}  # fmt: skip


def supported_ops() -> list[str]:
    """The names of every op the interpreter evaluates (sorted).

    >>> "aten.scaled_dot_product_attention.default" in supported_ops()
    True
    """
    ops = set(_RULES) | _MOVES | _SPLITS | _CREATES | _DISCRETE | _SKIP | _CASTS
    return [*sorted(str(op) for op in ops), "<built-in function getitem>"]


def _module_path(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "the top module"
    path = list(stack.values())[-1][0]
    return path.replace("L['self'].", "").replace("L['self']", "") or "the top module"


def _any(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether any leaf of `value` (through tuples, lists and dicts) passes `test`."""
    found: list[bool] = []

    def visit(v: Any) -> Any:
        found.append(test(v))
        return v

    map_aggregate(value, visit)
    return any(found)


def _has_interval(value: Any) -> bool:
    return _any(value, lambda v: isinstance(v, Interval))


def _is_float(value: Any) -> bool:
    return _any(value, lambda v: isinstance(v, Tensor) and v.is_floating_point())


class IntervalProgram:
    """A module's forward as an exported graph, evaluated on intervals (see the module).

    `module` must be in eval mode where it has dropout; :meth:`__call__` takes the forward's
    positional arguments as tensors (exact values: token ids, or float inputs read as exact reals)
    or :class:`Interval` boxes, and returns the outputs' intervals in the forward's structure. The
    graph is exported once per input shape (with the float inputs' midpoints), and every op is
    checked for a rule at export, so an unsupported model is refused before any bound is computed.
    Each call reads the module's parameters and buffers as they are then.
    """

    def __init__(self, module: nn.Module, **forward_kwargs: Any) -> None:
        if not isinstance(module, nn.Module):
            raise ProofError(f"`module` (a {type(module).__name__}) must be a torch.nn.Module.")
        self.module = module
        self.forward_kwargs = forward_kwargs
        self._programs: dict[tuple, torch.export.ExportedProgram] = {}

    def export(self, *args: Tensor | Interval) -> torch.export.ExportedProgram:
        """The exported program for inputs shaped as `args` (cached by shape and dtype)."""
        key = tuple((tuple(a.shape), a.lo.dtype if isinstance(a, Interval) else a.dtype) for a in args)
        if key not in self._programs:
            dtype = next((p.dtype for p in self.module.parameters() if p.is_floating_point()), torch.float32)
            example = tuple(((a.lo + a.hi) / 2).to(dtype) if isinstance(a, Interval) else a for a in args)
            with torch.no_grad():
                program = torch.export.export(self.module, example, kwargs=self.forward_kwargs, strict=False)
            _refuse_unsupported(program)
            self._programs[key] = program
        return self._programs[key]

    def __call__(self, *args: Tensor | Interval) -> Any:
        program = self.export(*args)
        signature = program.graph_signature
        env: dict[str, Any] = {}
        user = iter(args)
        # the module's weights as they are now (a program built earlier bounds the current ones)
        live: dict[str, Tensor] = dict(self.module.named_parameters(remove_duplicate=False))
        live.update(self.module.named_buffers(remove_duplicate=False))
        tensors = {**program.state_dict, **program.constants, **live}
        for spec in signature.input_specs:
            kind = spec.kind.name
            if kind == "USER_INPUT":
                value = next(user)
                env[spec.arg.name] = value.detach() if isinstance(value, Tensor) else value
            elif kind in ("PARAMETER", "BUFFER", "CONSTANT_TENSOR"):
                env[spec.arg.name] = tensors[spec.target].detach()
            else:
                raise UnsupportedOpError(
                    f"an exported input of kind {kind} ({spec.arg.name}) is not supported"
                )
        with torch.no_grad():
            for node in program.graph.nodes:
                if node.op == "call_function":
                    env[node.name] = _evaluate(node, env)
                elif node.op == "output":
                    out = map_aggregate(
                        node.args[0], lambda n: env[n.name] if isinstance(n, torch.fx.Node) else n
                    )
                    user_outputs = [
                        o for o, spec in zip(out, signature.output_specs) if spec.kind.name == "USER_OUTPUT"
                    ]
                    return user_outputs[0] if len(user_outputs) == 1 else tuple(user_outputs)
        raise UnsupportedOpError("the exported graph has no output node")


def _refuse_unsupported(program: torch.export.ExportedProgram) -> None:
    known = set(_RULES) | _MOVES | _SPLITS | _CREATES | _DISCRETE | _SKIP | _CASTS | {operator.getitem}
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target not in known:
            raise UnsupportedOpError(
                f"`{node.target}` (in `{_module_path(node)}`, graph node `{node.name}`) has no interval "
                "rule: nerve refuses to approximate it (supported: nerve.proofs.interpreter.supported_ops())."
            )


def _evaluate(node: torch.fx.Node, env: dict[str, Any]) -> Any:
    read = lambda a: env[a.name] if isinstance(a, torch.fx.Node) else a  # noqa: E731
    args = map_aggregate(node.args, read)
    kwargs = map_aggregate(node.kwargs, read)
    op = node.target
    try:
        return _apply(op, args, kwargs)
    except UnsupportedOpError:
        raise
    except ProofError as err:
        raise ProofError(f"`{op}` (in `{_module_path(node)}`, graph node `{node.name}`): {err}") from None


def _apply(op: Any, args: tuple, kwargs: dict) -> Any:
    if op in _SKIP:
        return None
    if op is operator.getitem:
        return args[0][args[1]]
    interval = _has_interval(args) or _has_interval(kwargs)
    if op in _CASTS:
        x = args[0]
        dtype = kwargs.get("dtype", args[1] if len(args) > 1 and isinstance(args[1], torch.dtype) else None)
        if op is aten.type_as.default:  # the dtype of the other operand (an interval: a float)
            dtype = torch.float64 if isinstance(args[1], Interval) else args[1].dtype
        if isinstance(x, Interval):
            if dtype is not None and not dtype.is_floating_point:
                raise ProofError(f"casting a computed float to {dtype} has no exact rule")
            return x  # a cast between float dtypes is the identity on reals
        if dtype is not None and dtype.is_floating_point:
            return _point(x).lo  # exact values stay exact (float64 holds float32 and integers to 2⁵³)
        return op(*args, **kwargs)
    if op in _MOVES or op in _SPLITS:
        if not interval:
            return op(*args, **kwargs)
        x, rest = args[0], args[1:]
        if _has_interval(rest) or _has_interval(kwargs):
            raise ProofError("only the first operand of a move may be an interval")
        if op in _SPLITS:
            return [Interval(lo, hi) for lo, hi in zip(op(x.lo, *rest, **kwargs), op(x.hi, *rest, **kwargs))]
        return x.map(lambda t: op(t, *rest, **kwargs))
    if op in _CREATES:
        # a *_like or new_* op reads only its template's shape (and dtype): an interval's `lo` serves
        args = tuple(a.lo if isinstance(a, Interval) else a for a in args)
        values = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if op in (aten.arange.default, aten.arange.start, aten.arange.start_step) and not all(
            float(a) == int(a) for a in values
        ):
            raise ProofError("arange with fractional bounds or step rounds; it has no exact rule")
        out = op(*args, **kwargs)
        return out.double() if out.is_floating_point() else out
    if not interval and (op in _DISCRETE or not _is_float((args, kwargs))):
        out = op(*args, **kwargs)  # integers and booleans: exact (int64 does not overflow here)
        if not _is_float(out) or op in _SELECTING:
            return out
        if op in _DISCRETE:  # a cumulative sum or difference of floats rounds
            raise ProofError("this op rounds on floats and has no interval rule")
    if op is aten.clamp.default and interval and not _has_interval(args[1:]):  # monotone: clamp each end
        return args[0].map(lambda t: t.clamp(*args[1:], **kwargs))
    if op in _DISCRETE:
        raise ProofError("a comparison or discrete op on computed floats cannot be decided exactly")
    if not interval and op in _SELECTS:  # selections among exact values are exact
        return _dropout(*args, **kwargs) if op is aten.dropout.default else op(*args, **kwargs)
    rule = _RULES[op]
    return rule(*args, **kwargs)
