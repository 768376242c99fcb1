"""Training steps per second of the nanda2023 model on CPU, nerve against TransformerLens.

The same architecture (one layer, d_model 128, 4 heads of 32, d_mlp 512, ReLU, no LayerNorm,
p + 1 = 114 input tokens, 113 outputs, 3 positions) as nerve's ``Transformer`` and as a
TransformerLens ``HookedTransformer`` (3.x; 4.x removed it), trained the same way: a full
batch of the 3,830 training pairs of a+b mod 113, float64 cross-entropy at the last position,
AdamW(1e-3, weight decay 1, betas (0.9, 0.98)). TransformerLens's attention and unembedding
biases are frozen at zero, as Nanda et al. did, so both train the same parameters.

The two are timed in alternating rounds in one process so that load on the machine hits both.

With ``--mlp``: the chughtai2023 MLP (S5, 5,760 training pairs, full batch), the trainer's
factored first layer (``MLP.forward_factored``) against the plain ``forward`` (embed, concatenate,
one linear layer): the tool a user would otherwise write.

Run: ``pip install "transformer-lens<4"`` then ``python benchmarks/bench_training.py [--mlp]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from importlib.metadata import version

import torch
import torch.nn.functional as F

from nerve.tasks import split_indices
from nerve.training import PRESETS, make_model, make_task

ROUNDS, STEPS_PER_ROUND, WARMUP = 5, 10, 3


def hooked_transformer(seed: int):
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(
        n_layers=1, d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu", normalization_type=None,
        d_vocab=114, d_vocab_out=113, n_ctx=3, device="cpu", seed=seed,
    )  # fmt: skip
    model = HookedTransformer(cfg)
    for name, param in model.named_parameters():
        if name.startswith("blocks.0.attn.b_") or name == "unembed.b_U":
            param.requires_grad_(False)
    return model


def stepper(model, forward, targets):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))

    def step():
        loss = F.cross_entropy(forward().double(), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, sum(p.numel() for p in params)


def race(contenders: dict) -> dict[str, float]:
    """Steps per second of each contender, median of alternating rounds."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for step, _ in contenders.values():
        for _ in range(WARMUP):
            step()
    for _ in range(ROUNDS):
        for name, (step, _) in contenders.items():
            t0 = time.perf_counter()
            for _ in range(STEPS_PER_ROUND):
                step()
            times[name].append((time.perf_counter() - t0) / STEPS_PER_ROUND)
    return {name: 1 / statistics.median(t) for name, t in times.items()}


def training_set(preset: str):
    """The preset's config, task, and its training pairs and targets."""
    config = PRESETS[preset]
    task = make_task(config.task)
    inputs, labels = task.enumerate()
    train = split_indices(task.size, config.train_fraction, seed=config.seed).train
    return config, task, inputs[train], labels[train]


def mlp_main() -> None:
    config, task, pairs, targets = training_set("chughtai2023")
    plain, factored = make_model(config.model, task, seed=0), make_model(config.model, task, seed=0)
    contenders = {
        "MLP.forward (embed, concat, linear)": stepper(plain, lambda: plain(pairs), targets),
        "MLP.forward_factored (the trainer's)": stepper(
            factored, lambda: factored.forward_factored(pairs), targets
        ),
    }
    rate = race(contenders)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    batch = f"full batch of {len(targets)} pairs"
    print(f"chughtai2023: S5, {batch}, median of {ROUNDS} rounds of {STEPS_PER_ROUND} steps")
    for name, (_, n_params) in contenders.items():
        print(f"{name:<38} {n_params:>8} params  {rate[name]:6.2f} steps/s")
    names = list(contenders)
    print(f"ratio factored / plain: {rate[names[1]] / rate[names[0]]:.2f}")


def main() -> None:
    config, task, pairs, targets = training_set("nanda2023")
    tokens = torch.cat([pairs, torch.full_like(pairs[:, :1], task.n_vocab)], dim=1)  # a, b, '='

    ours = make_model(config.model, task, seed=0)
    theirs = hooked_transformer(seed=0)
    contenders = {
        "nerve Transformer": stepper(ours, lambda: ours(pairs), targets),
        "TransformerLens HookedTransformer": stepper(theirs, lambda: theirs(tokens)[:, -1], targets),
    }
    rate = race(contenders)
    versions = f"torch {torch.__version__}, transformer-lens {version('transformer-lens')}"
    print(f"{versions}, {torch.get_num_threads()} threads")
    print(f"full batch of {len(targets)} pairs, median of {ROUNDS} rounds of {STEPS_PER_ROUND} steps")
    for name, (_, n_params) in contenders.items():
        print(f"{name:<36} {n_params:>8} trainable params  {rate[name]:6.2f} steps/s")
    ratio = rate["nerve Transformer"] / rate["TransformerLens HookedTransformer"]
    print(f"ratio nerve / TransformerLens: {ratio:.2f}")


if __name__ == "__main__":
    mlp_main() if "--mlp" in sys.argv[1:] else main()
