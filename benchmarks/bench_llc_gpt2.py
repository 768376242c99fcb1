"""The LLC of a subset of a GPT-2-sized model's weights, all chains in one batch, against the floor.

A randomly initialised GPT-2 (default the small shape: 12 layers, d_model 768, 12 heads, the
50,257-token vocabulary; dropout off) on random token sequences, the language-model loss, and
``LLCEstimator(params=[...])`` sampling only the chosen weights (default the last block's MLP,
4.7M parameters) with the rest held at w*. For each number of chains it prints the seconds per
SGLD step (every chain advanced once on its own minibatch; from the difference of a run of 1
and of 1 + draws steps, so it leaves out the L(w*) pass and includes a MALA check every 10th
step), the floor (one plain forward pass
of the same chains x batch sequences and the backward pass to the sampled weights only, what a
step has to compute at least), their ratio, and on CUDA the peak memory. The estimate itself means nothing
at a random initialisation; the timing is the point.

Run: ``python benchmarks/bench_llc_gpt2.py [--device cuda] [--chains 4 16 64]``; a quick CPU check:
``python benchmarks/bench_llc_gpt2.py --layers 2 --d-model 128 --vocab 1000 --chains 2 4 --draws 3``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from torch.nn import functional as F

from nerve.analysis.llc.estimator import LLCEstimator


def lm_loss(out, ids: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--chains", type=int, nargs="+", default=[4, 16, 64])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--d-model", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8, help="sequences per chain per step")
    ap.add_argument("--params", nargs="+", default=None, help="default: the last block's MLP")
    args = ap.parse_args()
    import transformers

    warnings.filterwarnings("ignore", message=".*batching rule.*")  # SDPA on CPU under vmap
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=args.layers, n_embd=args.d_model, n_head=max(args.d_model // 64, 1), vocab_size=args.vocab,
        n_positions=max(args.seq, 16), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    model = transformers.GPT2LMHeadModel(config).to(args.device)
    params = args.params or [f"transformer.h.{args.layers - 1}.mlp"]
    n_sampled = sum(p.numel() for n, p in model.named_parameters() if any(n.startswith(q) for q in params))
    total = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, args.vocab, (max(512, args.batch * 4), args.seq), generator=g).to(args.device)
    print(
        f"GPT-2 {args.layers} layers, d_model {args.d_model}, {total / 1e6:.1f}M parameters; sampling "
        f"{params}: {n_sampled / 1e6:.2f}M; {args.batch} x {args.seq} tokens a chain a step; {args.device}"
    )
    print(f"{'chains':>6} {'s/step':>9} {'floor s':>9} {'ratio':>6} {'peak GiB':>9} {'llc':>10}")
    for chains in args.chains:
        est = LLCEstimator(
            epsilon=1e-5, gamma=100.0, nbeta="batch", n_chains=chains, n_draws=1, batch_size=args.batch,
            params=params, init_loss_samples=args.batch, device=args.device,
        )  # fmt: skip
        est.fit(model, (ids, ids), loss_fn=lm_loss)  # warm-up: kernels, vmap tracing
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = {}
        for draws in (1, 1 + args.draws):  # the difference leaves out L(w*) and the first step's MALA check
            est.n_draws = draws
            sync(args.device)
            t0 = time.perf_counter()
            est.fit(model, (ids, ids), loss_fn=lm_loss)
            sync(args.device)
            seconds[draws] = time.perf_counter() - t0
        step = (seconds[1 + args.draws] - seconds[1]) / args.draws
        peak = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else float("nan")
        batch = ids[: args.batch].repeat(chains, 1)
        sampled = [p for n, p in model.named_parameters() if any(n.startswith(q) for q in params)]
        torch.autograd.grad(lm_loss(model(batch), batch), sampled)  # warm-up
        sync(args.device)
        t0 = time.perf_counter()
        reps = 3
        for _ in range(reps):  # autograd differentiates only the paths that reach `sampled`
            torch.autograd.grad(lm_loss(model(batch), batch), sampled)
        sync(args.device)
        floor = (time.perf_counter() - t0) / reps
        llc = est.result_.llc_mean
        print(f"{chains:>6} {step:>9.4f} {floor:>9.4f} {step / floor:>6.2f} {peak:>9.2f} {llc:>10.4g}")


if __name__ == "__main__":
    main()
