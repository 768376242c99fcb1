"""Time to analyse the fixture runs: one checkpoint, and every checkpoint of a run.

1. ``FourierAnalysis`` of the final nanda2023 checkpoint (a+b mod 113, 512 neurons), against
   its floor, one forward pass over all 12,769 pairs; and its neuron decomposition against
   what one writes by hand for a cyclic group, ``torch.fft.fft2`` of the neurons with the
   power summed per frequency (cyclic groups only: nerve's transform works for any group).
2. ``ProgressMeasures`` over all of nanda2023's checkpoints, against one forward pass per
   checkpoint.
3. ``FourierAnalysis`` of the chughtai2023 MLP on S5, if that fixture is present.

Run: ``python benchmarks/bench_analysis.py``. Medians of a few calls, one process.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

import nerve
from nerve.analysis import FourierAnalysis, view
from nerve.analysis.fourier.irreps import neuron_spectrum
from nerve.analysis.fourier.progress import ProgressMeasures
from nerve.training import RunDir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fft2_by_frequency(neurons: torch.Tensor) -> torch.Tensor:
    """``[p // 2 + 1, H]``: each neuron's fraction of variance in the terms of frequency k in a,
    in b, or in both (k ≠ 0), as one writes it by hand from a 2-D FFT (Nanda et al.'s notebooks)."""
    p = neurons.shape[0]
    power = torch.fft.fft2(neurons - neurons.mean((0, 1)), dim=(0, 1)).abs() ** 2  # [p, p, H]
    out = power.new_zeros(p // 2 + 1, power.shape[-1])
    for k in range(1, p // 2 + 1):
        cells = {(k, 0), (-k, 0), (0, k), (0, -k), (k, k), (-k, -k), (k, -k), (-k, k)}
        out[k] = sum(power[a % p, b % p] for a, b in cells)
    return out / power.sum((0, 1))


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    run = nerve.load(FIXTURES / "nanda2023")
    pairs, _ = run.task.enumerate()
    v = view(run.model)
    forward = median_time(lambda: v.run(pairs), 5)
    fit = median_time(lambda: FourierAnalysis().fit(run.model, run.task), 3)
    print("\n1. nanda2023, final checkpoint (a+b mod 113, 512 neurons)")
    print(f"forward pass over all pairs {forward * 1e3:8.1f} ms")
    print(f"FourierAnalysis().fit       {fit * 1e3:8.1f} ms   ratio to the forward pass {fit / forward:5.1f}")
    _, neurons = v.run(pairs)
    neurons = neurons.reshape(113, 113, -1)
    G = run.task.group
    ours = neuron_spectrum(neurons, G.irreps(), 0)
    theirs = fft2_by_frequency(neurons)
    assert torch.allclose(ours[1:], theirs[1:], atol=1e-9), "the two decompositions disagree"
    t_ours = median_time(lambda: neuron_spectrum(neurons, G.irreps(), 0), 3)
    t_fft2 = median_time(lambda: fft2_by_frequency(neurons), 3)
    print(f"neuron decomposition: nerve {t_ours * 1e3:.1f} ms, fft2 by hand {t_fft2 * 1e3:.1f} ms,")
    print(f"  ratio nerve / fft2 {t_ours / t_fft2:.2f} (same numbers to 1e-9)")

    steps = run.checkpoints
    t0 = time.perf_counter()
    ProgressMeasures().fit(run)
    measures = time.perf_counter() - t0
    t0 = time.perf_counter()
    for step in steps:
        view(run.model_at(step)).run(pairs)
    floor = time.perf_counter() - t0
    print(f"\n2. nanda2023, all {len(steps)} checkpoints")
    print(f"load + forward pass per checkpoint {floor:6.2f} s")
    print(f"ProgressMeasures().fit             {measures:6.2f} s   ratio {measures / floor:5.1f}")

    if RunDir(FIXTURES / "chughtai2023").holds_run:
        run = nerve.load(FIXTURES / "chughtai2023")
        pairs, _ = run.task.enumerate()
        v = view(run.model)
        forward = median_time(lambda: v.run(pairs), 5)
        fit = median_time(lambda: FourierAnalysis().fit(run.model, run.task), 3)
        print("\n3. chughtai2023, final checkpoint (S5, 128 neurons)")
        print(f"forward pass over all pairs {forward * 1e3:8.1f} ms")
        print(f"FourierAnalysis().fit       {fit * 1e3:8.1f} ms   ratio {fit / forward:5.1f}")


if __name__ == "__main__":
    main()
