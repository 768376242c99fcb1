"""Activation sites on any module (a random-config Hugging Face GPT-2 here): the right tensors,
hooks always removed, the forward pass stopped early, and a lazily read on-disk store."""

import pytest
import torch
from torch import nn

from nerve import AnalysisError
from nerve.sites import ActivationStore, Site, read_sites, write_activations

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def gpt2():
    config = transformers.GPT2Config(
        n_layer=3, n_embd=32, n_head=4, vocab_size=50, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config).eval()


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_sites_are_the_blocks_outputs_and_inputs(gpt2):
    ids = torch.randint(0, 50, (4, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = gpt2(ids, output_hidden_states=True).hidden_states  # embeddings, block 0, 1, (2 after ln_f)
    before = hook_count(gpt2)
    acts = read_sites(
        gpt2, ids, ["transformer.h.0", "transformer.h.1", "transformer.h.2:output", "transformer.ln_f:input"]
    )
    torch.testing.assert_close(acts["transformer.h.0"], hidden[1])
    torch.testing.assert_close(acts["transformer.h.1"], hidden[2])
    torch.testing.assert_close(acts["transformer.ln_f:input"], acts["transformer.h.2"])
    assert hook_count(gpt2) == before


def test_hooks_are_removed_when_the_forward_pass_raises(gpt2):
    def boom(*args):
        raise ValueError("a failure inside the forward pass")

    failing = gpt2.transformer.h[1].register_forward_hook(boom)
    before = hook_count(gpt2)
    try:
        with pytest.raises(ValueError, match="a failure inside the forward pass"):
            read_sites(gpt2, torch.zeros(2, 4, dtype=torch.long), ["transformer.h.0", "transformer.h.2"])
        assert hook_count(gpt2) == before
    finally:
        failing.remove()


def test_the_forward_pass_stops_once_every_site_is_read_and_keeps_only_what_was_asked(gpt2):
    calls = []
    handle = gpt2.lm_head.register_forward_hook(lambda *a: calls.append(1))
    try:
        acts = read_sites(gpt2, torch.zeros(2, 8, dtype=torch.long), ["transformer.h.0"],
                          select=lambda t: t[:, -1], dtype=torch.float16)  # fmt: skip
        assert calls == []  # the unembedding never ran
        assert acts["transformer.h.0"].shape == (2, 32) and acts["transformer.h.0"].dtype == torch.float16
        read_sites(gpt2, torch.zeros(2, 8, dtype=torch.long), ["transformer.h.0"], stop_early=False)
        assert calls == [1]
    finally:
        handle.remove()


def test_site_errors_name_the_path(gpt2):
    with pytest.raises(
        AnalysisError, match=r"site 'transformer.h.9' is not a module path of the model; nearest"
    ):
        read_sites(gpt2, torch.zeros(1, 2, dtype=torch.long), ["transformer.h.9"])
    with pytest.raises(
        AnalysisError, match=r"`kind` \(='side'\) of site 'transformer' must be 'output' or 'input'"
    ):
        Site.parse("transformer:side")
    with pytest.raises(AnalysisError, match=r"name a site twice"):
        read_sites(gpt2, torch.zeros(1, 2, dtype=torch.long), ["transformer.h.0", Site("transformer.h.0")])


def test_the_store_streams_batches_and_reads_them_back_lazily(gpt2, tmp_path):
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 50, (3, 10), generator=g) for _ in range(4)]
    sites = ["transformer.h.1", "transformer.ln_f"]
    store = write_activations(gpt2, batches, sites, tmp_path / "acts")
    assert store.sites == tuple(sites) and len(store) == 12 and store.shape("transformer.h.1") == (12, 10, 32)
    direct = torch.cat([read_sites(gpt2, b, sites)["transformer.ln_f"] for b in batches])
    again = ActivationStore(tmp_path / "acts")
    torch.testing.assert_close(again.read("transformer.ln_f"), direct)
    torch.testing.assert_close(again.read("transformer.ln_f", slice(2, 7)), direct[2:7])  # spans two shards
    assert [t.shape[0] for t in again.batches("transformer.h.1")] == [3, 3, 3, 3]
    with pytest.raises(AnalysisError, match=r"`site` \(='h.1'\) is not in the store"):
        again.read("h.1")


def test_an_interrupted_store_resumes_without_rewriting_finished_shards(gpt2, tmp_path):
    g = torch.Generator().manual_seed(2)
    batches = [torch.randint(0, 50, (2, 6), generator=g) for _ in range(5)]

    def crashing():
        yield from batches[:3]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_activations(gpt2, crashing(), ["transformer.h.0"], tmp_path / "s")
    assert len(ActivationStore(tmp_path / "s")) == 6  # three finished shards survive
    first = (tmp_path / "s" / "shard_00000.safetensors").stat().st_mtime_ns
    with pytest.raises(AnalysisError, match="already holds an activation store; pass resume=True"):
        write_activations(gpt2, batches, ["transformer.h.0"], tmp_path / "s")
    store = write_activations(gpt2, batches, ["transformer.h.0"], tmp_path / "s", resume=True)
    assert len(store) == 10 and (tmp_path / "s" / "shard_00000.safetensors").stat().st_mtime_ns == first
    direct = torch.cat([read_sites(gpt2, b, ["transformer.h.0"])["transformer.h.0"] for b in batches])
    torch.testing.assert_close(store.read("transformer.h.0"), direct)
