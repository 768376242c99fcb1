"""Hugging Face causal LMs as sources (random configs, nothing downloaded): GPT-2 and Llama blocks
found and read, the pretrained path through save_pretrained and safetensors only (a pickled
checkpoint refused unopened), chosen words' activations equal to unpadded reads, and a circle
planted in the months' embeddings found by TokenCircles where an unplanted model shows none."""

import math
import pickle

import pytest
import torch

from nerve import NerveError
from nerve.analysis import TokenCircles
from nerve.errors import AnalysisError
from nerve.sites import decoder_layers, load_pretrained, read_sites, token_activations, write_activations

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]  # fmt: skip
WORDS = [
    "<pad>",
    "<unk>",
    "<eos>",
    "the",
    "in",
    "of",
    "late",
    "early",
    "since",
    "until",
    "we",
    "met",
    "on",
    "x",
    *MONTHS,
]
TEMPLATES = [
    "{}",
    "in {}",
    "the {}",
    "late in {}",
    "we met in early {}",
    "since {} x",
    "until late {}",
    "of {}",
]


def word_tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )


def gpt2(seed=0):
    config = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=4, vocab_size=len(WORDS), n_positions=16, bos_token_id=2, eos_token_id=2
    )
    torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def llama():
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def test_decoder_layers_of_gpt2_and_llama(llama):
    assert decoder_layers(gpt2()) == ["transformer.h.0", "transformer.h.1"]
    assert decoder_layers(llama) == ["model.layers.0", "model.layers.1", "model.layers.2"]
    with pytest.raises(AnalysisError, match=r"has no ModuleList"):
        decoder_layers(torch.nn.Linear(2, 2))


def test_llama_blocks_are_its_residual_stream_and_stream_to_a_store(llama, tmp_path):
    ids = torch.randint(0, len(WORDS), (3, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        hidden = llama(ids, output_hidden_states=True).hidden_states  # embeddings, layers..., last after norm
    sites = decoder_layers(llama)
    acts = read_sites(llama, ids, sites)
    for i, site in enumerate(sites[:-1]):
        torch.testing.assert_close(acts[site], hidden[i + 1])
    torch.testing.assert_close(llama.model.norm(acts[sites[-1]]), hidden[-1])
    store = write_activations(llama, [ids[:2], ids[2:]], sites[:2], tmp_path / "store")
    assert len(store) == 3
    torch.testing.assert_close(store.read("model.layers.1"), hidden[2])


def test_the_pretrained_path_reads_what_save_pretrained_wrote(tmp_path):
    model, tokenizer = gpt2(), word_tokenizer()
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    loaded, tok = load_pretrained(tmp_path / "ckpt")
    assert not loaded.training and tok("in May")["input_ids"] == tokenizer("in May")["input_ids"]
    ids = torch.tensor([tokenizer("we met in early June")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    half, _ = load_pretrained(tmp_path / "ckpt", dtype=torch.bfloat16)
    assert next(half.parameters()).dtype == torch.bfloat16


class _Tripwire:
    """Unpickling this writes a file: proof that a checkpoint was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickled_checkpoint_is_refused_unopened(tmp_path):
    ckpt = tmp_path / "pickled"
    gpt2().config.save_pretrained(ckpt)
    word_tokenizer().save_pretrained(ckpt)
    tripwire = tmp_path / "unpickled"
    with open(ckpt / "pytorch_model.bin", "wb") as f:
        pickle.dump({"x": _Tripwire(tripwire)}, f)
    with pytest.raises(
        NerveError, match=r"`name_or_path` \(=.*pickled.*\) could not be loaded .* safetensors"
    ):
        load_pretrained(ckpt)
    assert not tripwire.exists()
    with pytest.raises(NerveError, match=r"`name_or_path` \(=.*nowhere.*\)"):
        load_pretrained(tmp_path / "nowhere")


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_token_activations_equal_unpadded_reads(which, llama):
    model, tokenizer = (gpt2() if which == "gpt2" else llama), word_tokenizer()
    site = decoder_layers(model)[1]
    words = ["May", "October", "June"]
    acts = token_activations(model, tokenizer, words, site, templates=TEMPLATES, batch_size=5)
    assert acts.shape == (3, len(TEMPLATES), 32) and acts.dtype == torch.float32
    for i, w in enumerate(words):
        for j, t in enumerate(TEMPLATES):
            ids = torch.tensor([tokenizer(t.format(w))["input_ids"]])
            at = ids[0].tolist().index(tokenizer.convert_tokens_to_ids(w))  # the word, not what follows
            alone = read_sites(model, ids, [site])[site][0, at]
            torch.testing.assert_close(acts[i, j], alone, rtol=1e-5, atol=1e-5)


def test_token_activations_refuse_bad_input(llama):
    tok = word_tokenizer()
    with pytest.raises(AnalysisError, match=r"`templates` \(\['in May'\]\) must each hold one"):
        token_activations(llama, tok, ["May"], "model.layers.0", templates=["in May"])
    with pytest.raises(AnalysisError, match=r"`words` is empty"):
        token_activations(llama, tok, [], "model.layers.0")
    with pytest.raises(AnalysisError, match=r"model.layers.9"):
        token_activations(llama, tok, ["May"], "model.layers.9")


def plant_circle(model, tokenizer, radius=1.0):
    """The months' token embeddings on a circle in a random plane, in calendar order."""
    ids = tokenizer.convert_tokens_to_ids(MONTHS)
    plane = torch.linalg.qr(torch.randn(32, 2, generator=torch.Generator().manual_seed(3)))[0]
    a = torch.arange(12.0)
    circle = radius * torch.stack([torch.cos(2 * math.pi * a / 12), torch.sin(2 * math.pi * a / 12)], 1)
    with torch.no_grad():
        model.transformer.wte.weight[ids] = circle @ plane.T


def test_a_circle_planted_in_the_months_is_found_after_a_block_and_none_without_it():
    tok = word_tokenizer()
    planted = gpt2(seed=1)
    plant_circle(planted, tok)
    X = token_activations(planted, tok, MONTHS, "transformer.h.0", templates=TEMPLATES)
    r = TokenCircles().fit(X, tokens=MONTHS).result_
    first = r.circles[0]
    assert r.found == (1,) and first.frequency == 1
    assert first.fraction > 0.9 and first.angle_agreement > 0.99 and first.loop_agreement > 0.95
    assert first.p_value == 1 / 1000  # no random order of the months comes close
    plain = token_activations(gpt2(seed=1), tok, MONTHS, "transformer.h.0", templates=TEMPLATES)
    control = TokenCircles().fit(plain, tokens=MONTHS).result_
    assert control.found == () and control.circles[0].fraction < 0.5
    assert control.circles[0].p_value > 0.05  # the calendar order is not in random embeddings
