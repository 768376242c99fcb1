"""Models: the published architectures, seeded, with every activation site reachable by hooks."""

import pytest
import torch

from nerve.models import (
    MLP,
    MLPConfig,
    SuperpositionConfig,
    SuperpositionModel,
    Transformer,
    TransformerConfig,
)


def _capture(model, names, x):
    seen = {}
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in names]
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    return out, seen


def test_mlp_is_embed_concat_relu_unembed_without_biases():
    model = MLP(MLPConfig(n_vocab=11, n_classes=11, d_embed=8, d_hidden=6), seed=0)
    assert all("bias" not in name for name, _ in model.named_parameters())
    x = torch.tensor([[3, 5], [0, 10]])
    out, seen = _capture(model, ["embed.0", "embed.1", "hidden", "act", "unembed"], x)
    manual = torch.relu(
        torch.cat([model.embed[0].weight[x[:, 0]], model.embed[1].weight[x[:, 1]]], 1) @ model.hidden.weight.T
    )
    torch.testing.assert_close(seen["act"], manual)
    torch.testing.assert_close(out, manual @ model.unembed.weight.T)
    assert seen["hidden"].shape == (2, 6) and seen["unembed"].shape == (2, 11)


def test_transformer_has_nandas_shapes_and_sites():
    model = Transformer(TransformerConfig(n_vocab=113, n_classes=113), seed=0)
    assert model.embed.weight.shape == (114, 128)  # 113 numbers and '='
    assert model.pos_embed.weight.shape == (3, 128)
    assert model.mlp.hidden.weight.shape == (512, 128) and model.unembed.weight.shape == (113, 128)
    assert not any("norm" in name.lower() for name, _ in model.named_modules())
    x = torch.tensor([[1, 2], [112, 0]])
    out, seen = _capture(model, ["attn.hook_pattern", "attn.hook_z", "mlp.act", "hook_resid_post"], x)
    assert seen["attn.hook_pattern"].shape == (2, 4, 3, 3)
    torch.testing.assert_close(seen["attn.hook_pattern"].sum(-1), torch.ones(2, 4, 3))
    assert (seen["attn.hook_pattern"].triu(1) == 0).all()  # causal
    assert seen["mlp.act"].shape == (2, 3, 512) and (seen["mlp.act"] >= 0).all()
    torch.testing.assert_close(out, model.unembed(seen["hook_resid_post"][:, -1]))


def test_transformer_is_read_at_the_equals_token():
    model = Transformer(
        TransformerConfig(n_vocab=7, n_classes=7, d_model=16, n_heads=2, d_head=8, d_mlp=32), seed=1
    )
    x = torch.tensor([[1, 2]])
    _, seen = _capture(model, ["hook_resid_pre"], x)
    expected = model.embed.weight[[1, 2, 7]] + model.pos_embed.weight
    torch.testing.assert_close(seen["hook_resid_pre"][0], expected)


def test_superposition_model_is_relu_wtw_x_plus_b():
    model = SuperpositionModel(SuperpositionConfig(n_features=6, n_hidden=2), seed=0)
    x = torch.rand(4, 6)
    torch.testing.assert_close(model(x), torch.relu(x @ model.W.T @ model.W + model.b))


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: MLP(MLPConfig(5, 5), seed=seed),
        lambda seed: Transformer(
            TransformerConfig(5, 5, d_model=8, n_heads=2, d_head=4, d_mlp=16), seed=seed
        ),
        lambda seed: SuperpositionModel(SuperpositionConfig(5, 2), seed=seed),
    ],
)
def test_initialisation_is_a_function_of_the_seed(make):
    a, b, c = make(0).state_dict(), make(0).state_dict(), make(1).state_dict()
    assert all(a[k].equal(b[k]) for k in a)
    assert any(not a[k].equal(c[k]) for k in a if a[k].abs().sum() > 0)


def test_the_cnn_has_its_named_sites_and_is_seeded():
    from nerve.models import CNN, CNNConfig
    from nerve.sites import read_sites

    model = CNN(CNNConfig(channels=4, d_hidden=8), seed=3)
    acts = read_sites(model, torch.zeros(2, 1, 8, 8), ["act1", "act2", "pool", "act", "unembed"])
    assert {k: tuple(v.shape) for k, v in acts.items()} == {
        "act1": (2, 4, 8, 8), "act2": (2, 8, 8, 8), "pool": (2, 8, 4, 4), "act": (2, 8), "unembed": (2, 10),
    }  # fmt: skip
    again = CNN(CNNConfig(channels=4, d_hidden=8), seed=3)
    other = CNN(CNNConfig(channels=4, d_hidden=8), seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters(), strict=True))
    assert not torch.equal(model.conv1.weight, other.conv1.weight)
