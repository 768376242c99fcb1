"""Timings for nerve.groups: building real irreps, and the batched group Fourier transform.

1. Irreps: S6 (720 elements, exact construction) and the simple group of order 168 given only
   by two generators (irreps split numerically from the regular representation). Each
   repetition builds a fresh group, because ``irreps()`` is cached on the group object; group
   construction and irreps are timed separately.
2. Fourier transform on S5 of 10^4 functions at once, ``f`` of shape ``[120, 10000]``.
   ``ft.forward(f)`` is ``ft.matrix.T @ f`` with ``ft.matrix`` ``[|G|, Σ d²] = [120, 120]``
   plus bookkeeping (splitting into per-irrep blocks, which are views). That one dense
   product of the same shape and dtype is therefore the floor: the transform cannot do less
   arithmetic than it, so its time is reported as a ratio to ``M.T @ f`` for a random
   ``[120, 120]`` ``M``. ``ft.power(f)`` adds squaring and a per-irrep sum, O(|G| B) more.
3. Functions of two arguments (a neuron on inputs (a, b)) on C59 × C59, ``f [59, 59, 512]``:
   nerve's separable transform (along each axis, then cutting tensor products into irreps)
   against the dense transform over the product group, one ``[3481, 3481]`` matrix product.

Run: ``python benchmarks/bench_groups.py``. Threads are left at torch's default.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch

from nerve.groups import FourierTransform, cyclic, direct_product, from_permutations, parse_group, symmetric

PSL27_GENERATORS = ["(0 1 2 3 4 5 6)", "(1 2)(3 6)"]


def median_time(fn: Callable[[], object], *, repeats: int, warmup: int) -> float:
    """Median wall time of ``fn()`` in seconds over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_irreps(make_group: Callable[[], object], *, repeats: int) -> tuple[float, float, int, int]:
    """Median seconds to build the group and to build its irreps; the group's order and irrep count."""
    build, irreps = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        G = make_group()
        t1 = time.perf_counter()
        reps = G.irreps()
        t2 = time.perf_counter()
        build.append(t1 - t0)
        irreps.append(t2 - t1)
    return statistics.median(build), statistics.median(irreps), G.order, len(reps)


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, python {platform.python_version()}")
    print()
    print("1. Real irreps (median of 5, fresh group each time)")
    print(f"{'group':<12}{'order':>6}{'irreps':>8}{'group (ms)':>13}{'irreps (ms)':>13}")
    cases = {"S6": lambda: symmetric(6), "PSL(2,7)": lambda: from_permutations(PSL27_GENERATORS)}
    for name, make in cases.items():
        make().irreps()  # warm-up: imports and first-call overheads
        t_group, t_irreps, order, count = bench_irreps(make, repeats=5)
        print(f"{name:<12}{order:>6}{count:>8}{1e3 * t_group:>13.1f}{1e3 * t_irreps:>13.1f}")

    print()
    n, batch, repeats = 120, 10_000, 30
    ft = FourierTransform(parse_group("S5"))
    print(f"2. Fourier transform on S5, f [{n}, {batch}] (median of {repeats}, 5 warm-up)")
    print(f"{'dtype':<9}{'M.T @ f (ms)':>14}{'forward (ms)':>14}{'ratio':>8}{'power (ms)':>12}{'ratio':>8}")
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float64, torch.float32):
        f = torch.randn(n, batch, generator=gen, dtype=dtype)
        M = torch.randn(n, n, generator=gen, dtype=dtype)
        coefficients = ft.forward(f)
        flat = torch.cat([c.reshape(-1, batch) for c in coefficients])
        torch.testing.assert_close(flat, ft.matrix.to(dtype).T @ f)  # forward is the matmul it claims
        t_floor = median_time(lambda f=f, M=M: M.T @ f, repeats=repeats, warmup=5)
        t_fwd = median_time(lambda f=f: ft.forward(f), repeats=repeats, warmup=5)
        t_pow = median_time(lambda f=f: ft.power(f), repeats=repeats, warmup=5)
        print(
            f"{str(dtype).removeprefix('torch.'):<9}{1e3 * t_floor:>14.2f}{1e3 * t_fwd:>14.2f}"
            f"{t_fwd / t_floor:>8.2f}{1e3 * t_pow:>12.2f}{t_pow / t_floor:>8.2f}"
        )

    print()
    p, batch = 59, 512
    G = cyclic(p)
    pair, dense = FourierTransform(G, arity=2), FourierTransform(direct_product(G, G), method="matmul")
    f = torch.randn(p, p, batch, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(pair.power(f), dense.power(f.reshape(p * p, batch)))  # the same transform
    t_dense = median_time(lambda: dense.forward(f.reshape(p * p, batch)), repeats=10, warmup=2)
    t_pair = median_time(lambda: pair.forward(f), repeats=10, warmup=2)
    print(f"3. Two-argument transform on C{p} x C{p}, f [{p}, {p}, {batch}] float64 (median of 10)")
    print(
        f"dense product-group matmul {1e3 * t_dense:.1f} ms, separable {1e3 * t_pair:.1f} ms, "
        f"speed-up {t_dense / t_pair:.1f}x"
    )


if __name__ == "__main__":
    main()
