"""The interval interpreter (issue 19) against a plain float32 forward pass on the same prompts.

A random-weight model of GPT-2 small's shape (transformers' default ``GPT2Config``: 12 layers,
d_model 768, 12 heads, vocabulary 50,257; 124M parameters) reads prompts of 16 tokens; both
sides compute the next-token logits of every prompt (``logits_to_keep=1``). The float32 pass is
what a user checking the model's answers runs; the interval pass bounds the real-number network
on the same prompts with every float64 rounding accounted for. The graph is exported once per
prompt shape (timed apart: it is paid once per length, not per batch). Printed: the best of 3
wall times of each, their ratio, the median and largest interval width relative to the
largest logit, and 'vacuous' where an interval is as wide as that logit (it decides nothing).
Also Llama-shaped (d 768, 12 layers, 12 heads, 4 KV heads, SiLU MLP 2,048,
rotary): the architectures differ in the elementwise work the intervals pay for.

Run: ``python benchmarks/bench_interpreter.py [--batch 32] [--length 16] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from nerve.proofs.interpreter import IntervalProgram
from nerve.proofs.language import NextTokenLogits


def best(f, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times), out


def verdict(width: torch.Tensor) -> str:
    """'vacuous' where an interval is as wide as the largest logit (or unbounded): it decides nothing."""
    worst = float(width.max())
    return "vacuous" if not worst < 1.0 else "informative"


def model_of(kind: str) -> torch.nn.Module:
    import transformers

    torch.manual_seed(0)
    if kind == "gpt2-small":
        return transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    config = transformers.LlamaConfig(
        vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
        num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=128,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config).eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
    print("model        prompts  float32 (s)  export (s)  intervals (s)  intervals/float32  "
          "width/|logit| median  max  bounds")  # fmt: skip
    for kind in ("gpt2-small", "llama-shaped"):
        model = NextTokenLogits(model_of(kind)).to(args.device)
        ids = torch.randint(0, 30000, (args.batch, args.length), generator=torch.Generator().manual_seed(0))
        ids = ids.to(args.device)
        with torch.no_grad():
            t32, logits = best(lambda m=model, x=ids: m(x))
        program = IntervalProgram(model)
        t0 = time.perf_counter()
        program.export(ids)
        t_export = time.perf_counter() - t0
        t_int, bounds = best(lambda p=program, x=ids: p(x))
        width = (bounds.hi - bounds.lo) / logits.double().abs().max()
        print(f"{kind:12s} {args.batch:7d} {t32:12.3f} {t_export:11.2f} {t_int:14.2f} {t_int / t32:18.1f}  "
              f"{float(width.median()):.2e}  {float(width.max()):.2e}  {verdict(width)}",
              flush=True)  # fmt: skip
    print("\nwidth against depth (GPT-2 small's width, random init, the same prompts; intervals only)")
    print("layers  width/|logit| median  max  bounds")
    for layers in (1, 2, 3, 4, 6):
        import transformers

        torch.manual_seed(0)
        lm = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=layers)).eval()
        model = NextTokenLogits(lm).to(args.device)
        with torch.no_grad():
            logits = model(ids)
        bounds = IntervalProgram(model)(ids)
        width = (bounds.hi - bounds.lo) / logits.double().abs().max()
        print(
            f"{layers:6d}  {float(width.median()):.2e}  {float(width.max()):.2e}  {verdict(width)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
