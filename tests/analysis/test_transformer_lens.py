"""The HookedTransformer adapter: Nanda et al.'s weights in TransformerLens read the same as in nerve."""

from pathlib import Path

import pytest
import torch

import nerve
from nerve.analysis import FourierAnalysis

transformer_lens = pytest.importorskip("transformer_lens", reason="transformer-lens < 4 is an optional extra")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def as_hooked_transformer(model):
    """The same network as a HookedTransformer (inputs a, b, '=' and logits at the last position)."""
    c = model.config
    cfg = transformer_lens.HookedTransformerConfig(
        n_layers=1, d_model=c.d_model, n_heads=c.n_heads, d_head=c.d_head, d_mlp=c.d_mlp, act_fn="relu",
        normalization_type=None, d_vocab=c.n_vocab + 1, d_vocab_out=c.n_classes, n_ctx=c.n_inputs + 1,
        device="cpu", seed=0,
    )  # fmt: skip
    tl = transformer_lens.HookedTransformer(cfg)
    h, dh, d = c.n_heads, c.d_head, c.d_model
    attn = model.attn
    weights = {
        "embed.W_E": model.embed.weight,
        "pos_embed.W_pos": model.pos_embed.weight,
        # nn.Linear(d, h·dh) stores [h·dh, d]; TransformerLens wants [h, d, dh] and, for W_O, [h, dh, d]
        **{
            f"blocks.0.attn.W_{k}": getattr(attn, f"W_{k}").weight.view(h, dh, d).transpose(1, 2)
            for k in "QKV"
        },
        "blocks.0.attn.W_O": attn.W_O.weight.T.reshape(h, dh, d),
        "blocks.0.mlp.W_in": model.mlp.hidden.weight.T,
        "blocks.0.mlp.b_in": model.mlp.hidden.bias,
        "blocks.0.mlp.W_out": model.mlp.out.weight.T,
        "blocks.0.mlp.b_out": model.mlp.out.bias,
        "unembed.W_U": model.unembed.weight.T,
    }
    with torch.no_grad():
        for name, param in tl.named_parameters():
            param.copy_(weights[name] if name in weights else torch.zeros_like(param))
    return tl.eval()


@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")
def test_a_hooked_transformer_reads_as_the_same_network():
    run = nerve.load(FIXTURES / "nanda2023")
    tl = as_hooked_transformer(run.model)
    pairs, _ = run.task.enumerate()
    tokens = torch.cat([pairs, torch.full_like(pairs[:, :1], run.task.n_vocab)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(tl(tokens[:500])[:, -1], run.model(pairs[:500]), atol=1e-4, rtol=1e-4)
    ours = FourierAnalysis().fit(run.model, run.task).result_
    theirs = FourierAnalysis().fit(tl, run.task).result_
    assert theirs.key_irreps == ours.key_irreps and theirs.neuron_irrep == ours.neuron_irrep
    assert theirs.embeddings.keys() == ours.embeddings.keys() == {"W_E"}
    for a, b in [
        (theirs.logit_fractions, ours.logit_fractions),
        (theirs.embeddings["W_E"], ours.embeddings["W_E"]),
        (theirs.unembedding, ours.unembedding),
    ]:
        torch.testing.assert_close(torch.tensor(a), torch.tensor(b), atol=1e-5, rtol=0)
    assert theirs.clock_pizza.gradient_symmetricity == pytest.approx(
        ours.clock_pizza.gradient_symmetricity, abs=1e-4
    )
