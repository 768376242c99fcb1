"""Interval bounds contain every output of their box, and are exact where they should be."""

import copy
import math
from fractions import Fraction

import pytest
import torch

from nerve.errors import ProofError
from nerve.models import MLP, MLPConfig, Transformer, TransformerConfig
from nerve.proofs.bounds import embed, logits_from_embeddings
from nerve.proofs.intervals import Interval, _upper_product, gamma


def random_box(centre: torch.Tensor, radius: float, g: torch.Generator) -> Interval:
    r = radius * torch.rand(centre.shape, generator=g, dtype=torch.float64)
    return Interval.box(centre.double() - r, centre.double() + r)


def sample(box: Interval, n: int, g: torch.Generator) -> torch.Tensor:
    u = torch.rand((n, *box.shape[1:]), generator=g, dtype=torch.float64)
    return box.lo + u * (box.hi - box.lo)


def test_mlp_bounds_contain_a_hundred_thousand_random_points_of_their_box():
    g = torch.Generator().manual_seed(0)
    model = MLP(MLPConfig(n_vocab=7, n_classes=7, d_embed=16, d_hidden=32), seed=1)
    box = random_box(embed(model, torch.tensor([[3, 5]])).lo, 0.3, g)
    bounds = logits_from_embeddings(model, box)
    x = sample(box, 100_000, g)
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        out = m.unembed(m.act(m.hidden(x)))
    assert bool(bounds.contains(out).all())
    assert float(bounds.width().max()) < 50  # not vacuous: the logits themselves are O(1)


def test_transformer_bounds_contain_a_hundred_thousand_random_points_of_their_box():
    g = torch.Generator().manual_seed(0)
    config = TransformerConfig(n_vocab=7, n_classes=7, d_model=8, n_heads=2, d_head=4, d_mlp=16)
    model = Transformer(config, seed=1)
    box = random_box(embed(model, torch.tensor([[2, 6]])).lo, 0.05, g)
    bounds = logits_from_embeddings(model, box)
    m = copy.deepcopy(model).double()
    resid = sample(box, 100_000, g)  # replace the residual stream before attention by the samples
    m.hook_resid_pre.register_forward_hook(lambda module, args, out: resid)
    with torch.no_grad():
        out = m(torch.zeros(100_000, 2, dtype=torch.long))
    assert bool(bounds.contains(out).all())
    assert float(bounds.width().max()) < 10


def test_a_linear_layer_gets_the_exact_range_of_its_box():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 3, generator=g, dtype=torch.float32)
    box = random_box(torch.randn(1, 3, generator=g), 1.0, g)
    bounds = box.linear(W)
    corners = torch.cartesian_prod(*[torch.stack([box.lo[0, i], box.hi[0, i]]) for i in range(3)])
    exact = corners @ W.double().T  # a linear map attains its extremes at the corners
    slack = 1e-12 * (1 + exact.abs().max())
    torch.testing.assert_close(bounds.lo[0], exact.min(0).values, atol=slack, rtol=0)
    torch.testing.assert_close(bounds.hi[0], exact.max(0).values, atol=slack, rtol=0)


def test_point_intervals_hold_the_exact_result_and_are_a_few_ulps_wide():
    x = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float32)
    W = torch.tensor([[1.0, -1.0, 3.0]], dtype=torch.float32)
    y = Interval.point(x).linear(W)
    exact = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x[0], W[0]))
    assert y.lo.item() <= exact <= y.hi.item()
    assert y.hi.item() - y.lo.item() < 1e-14


@pytest.mark.parametrize("flush", [False, True])
def test_the_float32_product_of_non_negative_numbers_bounds_the_exact_one(flush):
    # subnormal factors, products that underflow, a factor below float32's range; then a sum past
    # float32's range, which must fall back to float64, not return inf
    s = torch.tensor([[1e-40, 1e-45, 3.0, 1e-300, 0.0, 2.5e-38, 0.1]], dtype=torch.float64)
    A = torch.tensor([[1e-30, 3e-39, 0.5, 7.0, 1.0, 1e-8, 0.3]]).T
    huge = torch.tensor([[1.0, 1.0, 2e38, 1.0, 1.0, 1.0, 3e38]]).T
    supported = torch.set_flush_denormal(flush) and flush
    try:
        bounds = [_upper_product(s, A), _upper_product(s, huge)]
    finally:
        torch.set_flush_denormal(False)
    if flush and not supported:
        pytest.skip("this CPU cannot flush subnormals")
    for bound, B in zip(bounds, (A, huge)):
        exact = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(s[0], B[:, 0]))
        assert math.isfinite(float(bound)) and Fraction(float(bound)) >= exact
    # the first in float32: looser than float64's rounding by about n·2⁻²⁴, and by no more
    assert 1 + 1e-7 < float(bounds[0]) / 1.53 < 1 + 1e-6


def test_the_float32_product_is_not_used_where_torch_would_multiply_in_tf32_or_bfloat16():
    s = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    A = torch.tensor([[3.0], [0.7], [1.1]])
    float64 = s @ A.double() / (1 - gamma(3))
    assert not torch.equal(_upper_product(s, A), float64)  # float32 by default
    torch.set_float32_matmul_precision("medium")  # bfloat16 on a CPU that has it, TF32 on a GPU
    try:
        assert torch.equal(_upper_product(s, A), float64)
    finally:
        torch.set_float32_matmul_precision("highest")


def test_softmax_bounds_contain_softmax_and_respect_the_mask():
    g = torch.Generator().manual_seed(0)
    box = random_box(torch.randn(4, 4, generator=g), 0.5, g)
    future = ~torch.ones(4, 4, dtype=torch.bool).tril()
    masked = box.map(lambda t: t.masked_fill(future, float("-inf")))
    bounds = masked.softmax()
    x = sample(Interval(box.lo[None], box.hi[None]), 20_000, g).masked_fill(future, float("-inf"))
    assert bool(bounds.contains(x.softmax(-1)).all())
    assert bool((bounds.hi[future] == 0).all())


def test_errors():
    with pytest.raises(ValueError, match=r"`n` \(=\d+\) is too long"):
        gamma(2**53)
    with pytest.raises(ValueError, match="`lo` must be at most `hi`"):
        Interval.box(torch.ones(2), torch.zeros(2))


def test_errors_are_proof_errors_and_keep_their_builtin_class():
    with pytest.raises(ProofError, match=r"`n` \(=\d+\) is too long"):
        gamma(2**53)
    with pytest.raises(ProofError, match="`lo` must be at most `hi`"):
        Interval.box(torch.ones(2), torch.zeros(2))
    with pytest.raises(ProofError, match=r"differ in shape: \(2,\), \(3,\)"):
        Interval(torch.zeros(2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    for error in (ProofError, TypeError):  # a TypeError before it was a ProofError
        with pytest.raises(error, match=r"dtypes torch.float32, torch.float32\) must be float64"):
            Interval(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ProofError, match="contain NaN, which bounds nothing"):
        Interval.point(torch.tensor([float("nan")]))
    with pytest.raises(ProofError, match=r"`radius` \(=inf\) must be a finite number >= 0"):
        Interval.point(torch.zeros(2)).widen(float("inf"))


def test_overflow_and_unbounded_endpoints_give_unbounded_entries_never_nan():
    inf, f64 = float("inf"), torch.float64
    big = Interval.box(torch.tensor([[0.0, 1.0]], dtype=f64), torch.tensor([[1e308, 2.0]], dtype=f64))
    y = big.linear(torch.tensor([[4.0, 0.0], [0.0, 1.0]]))  # 4e308 overflows; 1..2 does not
    assert y.lo[0, 0] == -inf and y.hi[0, 0] == inf
    assert 1.0 - 1e-12 < y.lo[0, 1] <= 1.0 and 2.0 <= y.hi[0, 1] < 2.0 + 1e-12
    # an unbounded input (its centre inf − inf) leaves the product unbounded: sound, not tight
    x = Interval.box(torch.tensor([[-inf, 1.0]]), torch.tensor([[inf, 2.0]]))
    z = x.linear(torch.eye(2))
    assert z.lo.tolist() == [[-inf, -inf]] and z.hi.tolist() == [[inf, inf]]
    for z in (
        y.relu(),
        y + y,
        y.scale(0.0),
        y.scale(2.0),
        x.matmul(x.map(lambda t: t.T)),
        y.relu().linear(torch.eye(2)),
    ):
        assert not bool(z.lo.isnan().any() or z.hi.isnan().any())
    # softmax: an unbounded logit's weight is somewhere in [0, 1]; masked entries still weigh 0
    scores = Interval.box(torch.tensor([[-inf, 0.0, -inf]]), torch.tensor([[inf, 1.0, -inf]]))
    p = scores.softmax()
    assert p.lo.tolist() == [[0.0, 0.0, 0.0]] and p.hi[0, 2] == 0 and p.hi[0, 0] == p.hi[0, 1] == 1.0
    assert bool(p.contains(torch.tensor([[0.3, 0.7, 0.0]])).all())


def test_elementwise_products_quotients_differences_and_sums_enclose_the_exact_rationals():
    # the operations the ρ-set prover adds, checked against exact rational arithmetic on the endpoints
    g = torch.Generator().manual_seed(7)
    a = Interval.point(torch.randn(50, generator=g, dtype=torch.float64) * 1e3)
    b = Interval.point(torch.rand(50, generator=g, dtype=torch.float64) + 1e-3)  # positive: a divisor
    for op, exact in (
        (lambda x, y: x * y, lambda p, q: p * q),
        (lambda x, y: x / y, lambda p, q: p / q),
        (lambda x, y: x - y, lambda p, q: p - q),
    ):
        out = op(a, b)
        for i in range(50):
            value = exact(Fraction(float(a.lo[i])), Fraction(float(b.lo[i])))
            assert Fraction(float(out.lo[i])) <= value <= Fraction(float(out.hi[i]))
    total = a.sum(0)
    value = sum(Fraction(float(x)) for x in a.lo)
    assert Fraction(float(total.lo)) <= value <= Fraction(float(total.hi))
    assert bool((a.magnitude() == a.lo.abs()).all())
    with pytest.raises(ProofError, match=r"divisor must be positive"):
        a / a
