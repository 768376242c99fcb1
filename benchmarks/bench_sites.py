"""Activation capture on a GPT-2-sized model: nerve.sites against a plain forward pass,
TransformerLens's ``run_with_cache`` and nnsight, one run on this CPU.

The model: GPT-2 small's shape (12 layers, d_model 768, 12 heads, vocabulary 50,257), randomly
initialised from its config (nothing is downloaded): ``transformers.GPT2LMHeadModel`` for the
plain pass, nerve and nnsight; TransformerLens's ``HookedTransformer`` built from the same sizes
(its own random weights). Input: 8 x 256 random tokens. What is asked for: the residual stream
after each of the 12 blocks (12 x 8 x 256 x 768 float32 = 75.5 MB).

Each mode runs in its own process: build the model; a first call under a 2 ms RSS sampler gives
the peak memory (largest RSS during the call minus the RSS after the build: the weights are not
counted; a first call, because the allocator keeps what a call freed, so later calls would hide
their growth); then the best of 5 timed calls. Modes:

- ``plain``: ``model(ids)`` under ``no_grad``; ``plain-base``: the body without the LM head.
- ``nerve``: ``read_sites`` of the 12 blocks with ``stop_early=False`` (the whole forward, head
  included: the overhead of the hooks); ``nerve-stop``: the default, which stops after block 12.
- ``nnsight``: ``NNsight(model).trace`` saving the 12 block outputs.
- ``tl-plain``: HookedTransformer's forward; ``tl-cache``: ``run_with_cache`` (everything, its
  default); ``tl-filter``: ``run_with_cache`` with ``names_filter`` for the 12 ``resid_post``.

glibc's malloc raises its mmap threshold after large frees (up to 32 MB), after which freed
activation buffers stay in the heap and a kept tensor makes the process grow by far more than its
size. ``--fixed-mmap`` runs every mode with ``MALLOC_MMAP_THRESHOLD_=1048576`` (a fixed threshold:
buffers over 1 MiB are mapped and returned on free), where RSS measures what a call keeps.

``--cuda``: the HF model on the GPU, in one process, nerve against the plain pass only (neither
TransformerLens nor nnsight is on the GPU machine); memory from the CUDA allocator's peak
(``max_memory_allocated``) over what the weights and inputs hold; time with CUDA events via
synchronisation, best of 20 after 3 warm-ups.

Run: ``python benchmarks/bench_sites.py [--fixed-mmap | --cuda]`` (needs transformers,
transformer-lens, nnsight).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import psutil
import torch

MODES = ["plain", "plain-base", "nerve", "nerve-stop", "nnsight", "tl-plain", "tl-cache", "tl-filter"]
BATCH, CTX = 8, 256


class PeakRSS:
    """The largest resident set size seen while inside the block, sampled every 2 ms."""

    def __enter__(self):
        self.proc, self.peak, self.running = psutil.Process(), 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def hf_model():
    import transformers

    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()


def tl_model():
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    config = HookedTransformerConfig(
        n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, d_vocab=50257, n_ctx=1024,
        act_fn="gelu_new", normalization_type="LN", seed=0,
    )  # fmt: skip
    return HookedTransformer(config).eval()


def nnsight_call(model, ids):
    from nnsight import NNsight

    traced = NNsight(model)
    saved = []
    with torch.no_grad(), traced.trace(ids):
        for i in range(12):
            saved.append(traced.transformer.h[i].output.save())
    return saved


def run_mode(mode: str) -> dict:
    ids = torch.randint(0, 50257, (BATCH, CTX), generator=torch.Generator().manual_seed(0))
    sites = [f"transformer.h.{i}" for i in range(12)]
    if mode.startswith("tl-"):
        model = tl_model()
        resid = lambda name: name.endswith("resid_post")  # noqa: E731
        call = {
            "tl-plain": lambda: model(ids),
            "tl-cache": lambda: model.run_with_cache(ids),
            "tl-filter": lambda: model.run_with_cache(ids, names_filter=resid),
        }[mode]
    else:
        from nerve.sites import read_sites

        model = hf_model()
        call = {
            "plain": lambda: model(ids),
            "plain-base": lambda: model.transformer(ids),
            "nerve": lambda: read_sites(model, ids, sites, stop_early=False),
            "nerve-stop": lambda: read_sites(model, ids, sites),
            "nnsight": lambda: nnsight_call(model, ids),
        }[mode]
    with torch.no_grad():
        base = psutil.Process().memory_info().rss
        with PeakRSS() as peak:
            out = call()
        del out
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            out = call()
            times.append(time.perf_counter() - t0)
            del out
    return {"mode": mode, "seconds": min(times), "peak_mb": (peak.peak - base) / 2**20}


def cuda_table() -> None:
    from nerve.sites import read_sites

    model = hf_model().cuda()
    ids = torch.randint(0, 50257, (BATCH, CTX), generator=torch.Generator().manual_seed(0)).cuda()
    sites = [f"transformer.h.{i}" for i in range(12)]
    calls = {
        "plain": lambda: model(ids),
        "plain-base": lambda: model.transformer(ids),
        "nerve (kept on GPU)": lambda: read_sites(model, ids, sites, to=None, stop_early=False),
        "nerve-stop (on GPU)": lambda: read_sites(model, ids, sites, to=None),
        "nerve-stop (to CPU)": lambda: read_sites(model, ids, sites, to="cpu"),
    }
    print(f"{torch.cuda.get_device_name()}, torch {torch.version.cuda and torch.__version__}")
    print("mode                  ms    vs plain  peak over weights+inputs (MB)")
    rows = {}
    with torch.no_grad():
        for name, call in calls.items():
            for _ in range(3):
                call()
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            out = call()
            torch.cuda.synchronize()
            peak = (torch.cuda.max_memory_allocated() - base) / 2**20
            del out
            times = []
            for _ in range(20):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = call()
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
                del out
            rows[name] = min(times)
            print(
                f"{name:20s} {1000 * rows[name]:7.2f} {rows[name] / rows['plain']:9.3f}  {peak:10.0f}",
                flush=True,
            )


def main() -> None:
    if "--cuda" in sys.argv:
        cuda_table()
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--mode":
        print(json.dumps(run_mode(sys.argv[2])))
        return
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, threads {threads}; GPT-2 small shape, {BATCH} x {CTX} tokens")
    env = dict(os.environ)
    if "--fixed-mmap" in sys.argv:
        env["MALLOC_MMAP_THRESHOLD_"] = "1048576"
        print("glibc malloc with a fixed mmap threshold of 1 MiB")
    rows = {}
    for mode in MODES:
        done = subprocess.run(
            [sys.executable, __file__, "--mode", mode], capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            print(f"{mode:11s} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        rows[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print("mode         seconds  vs its plain pass  peak over the weights (MB)")
    for mode, r in rows.items():
        plain = rows.get("tl-plain" if mode.startswith("tl-") else "plain")
        ratio = f"{r['seconds'] / plain['seconds']:.3f}" if plain else "-"
        print(f"{mode:11s} {r['seconds']:8.2f}  {ratio:>17s}  {r['peak_mb']:10.0f}", flush=True)


if __name__ == "__main__":
    main()
