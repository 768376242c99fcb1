"""Interval bounds contain every output of their box, and are exact where they should be."""

import copy
from fractions import Fraction

import pytest
import torch

from nerve.models import MLP, MLPConfig, Transformer, TransformerConfig
from nerve.proofs.bounds import embed, logits_from_embeddings
from nerve.proofs.intervals import Interval, gamma


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
