"""Timings for continuous symmetry (issue 18): SO(3)'s irreps against e3nn, and a layer's isotypic
decomposition in one batched pass against a loop over group elements.

1. Irreps of SO(3) for ℓ = 0 … 10 at 1,000 rotations: nerve's ``so3().irrep(f"l={ℓ}")(g)`` (the
   rotation vector of g, then one batched matrix exponential of ω·A per ℓ) against e3nn's
   ``Irreps(f"{ℓ}e").D_from_matrix(g)`` (Euler angles, then three matrix exponentials per ℓ), both
   in float64 with e3nn's default dtype set to float64 (in float32 its D is a homomorphism only to
   1e-6). Both agree to a change of basis (``tests/groups/test_compact_groups.py``); the homomorphism error
   of each is printed.
2. The isotypic decomposition of a small CNN's layers (conv 8 and 16 channels) under SO(2) (max
   degree 4, 17 quadrature rotations, bilinear) over 256 images 28×28: the inputs of every node
   read in one batched pass (4,096 rows at a time), as ``LayerSymmetry`` does, against the loop a
   user would write by hand: one rotation and one forward per group element, then the same
   transform. The two give the same fractions (checked); ``LayerSymmetry.fit``, which also fits
   the equivariance and Lie errors, is timed beside them.

Run: ``python benchmarks/bench_symmetry.py``. Threads are left at torch's default.
"""

from __future__ import annotations

import platform

import torch
from bench_groups import median_time  # the benchmarks' one timer (this folder is on sys.path)
from torch import nn

from nerve.analysis.symmetry import LayerSymmetry, RotateImage
from nerve.groups import CompactFourierTransform, so2, so3
from nerve.sites import read_sites


def bench_irreps(repeats: int) -> None:
    from e3nn import o3

    torch.set_default_dtype(torch.float64)
    g, h = so3().sample(1000, seed=0), so3().sample(1000, seed=1)
    irreps = [so3().irrep(f"l={ell}") for ell in range(11)]
    theirs = [o3.Irreps(f"{ell}e").D_from_matrix for ell in range(11)]
    t_nerve = median_time(lambda: [rho(g) for rho in irreps], repeats=repeats)
    t_e3nn = median_time(lambda: [d(g) for d in theirs], repeats=repeats)
    err_nerve = max(float((rho(g) @ rho(h) - rho(g @ h)).abs().max()) for rho in irreps)
    err_e3nn = max(float((d(g) @ d(h) - d(g @ h)).abs().max()) for d in theirs)
    torch.set_default_dtype(torch.float32)
    print("| SO(3) irreps l = 0..10 at 1,000 rotations (float64) | s | max homomorphism error |")
    print("|---|---:|---:|")
    print(f"| nerve | {t_nerve:.4f} | {err_nerve:.1e} |")
    print(f"| e3nn | {t_e3nn:.4f} | {err_e3nn:.1e} |")
    print(f"e3nn / nerve: {t_e3nn / t_nerve:.2f}\n")


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(16 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


def fractions_of(
    per_node: list[dict[str, torch.Tensor]], sites: list[str], ft: CompactFourierTransform, b: int
) -> list[torch.Tensor]:
    out = []
    for s in sites:
        a = torch.stack([acts[s].reshape(b, -1).double() for acts in per_node])
        mean = torch.einsum("n,nbd->d", ft.weights, a) / a.shape[1]
        power = ft.power(a - mean).sum((1, 2))
        out.append(power / power.sum())
    return out


def bench_decomposition(repeats: int) -> None:
    torch.manual_seed(0)
    model = SmallCNN().eval()
    images = torch.randn(256, 1, 28, 28)
    sites = ["conv1", "conv2", "pool", "fc"]
    ft = CompactFourierTransform(so2(), 4)
    action = RotateImage(so2())
    b, n = len(images), len(ft.nodes)

    def loop() -> list[torch.Tensor]:  # one rotation and one forward per group element
        return fractions_of([read_sites(model, action(g, images), sites) for g in ft.nodes], sites, ft, b)

    def batched() -> list[torch.Tensor]:  # every element's rotated inputs in one pass, 4096 rows at a time
        x = torch.cat([action(g, images) for g in ft.nodes])
        parts = [read_sites(model, x[i : i + 4096], sites) for i in range(0, len(x), 4096)]
        acts = {s: torch.cat([p[s] for p in parts]).reshape(n, b, -1) for s in sites}
        return fractions_of([{s: acts[s][i] for s in sites} for i in range(n)], sites, ft, b)

    t_loop = median_time(loop, repeats=repeats)
    t_batched = median_time(batched, repeats=repeats)
    estimator = LayerSymmetry(action, sites, max_degree=4)
    t_full = median_time(lambda: estimator.fit(model, images), repeats=repeats)
    gap = max(float((x - y).abs().max()) for x, y in zip(loop(), batched(), strict=True))
    ours = estimator.result_.fractions
    gap_full = max(float((torch.tensor(x) - y).abs().max()) for x, y in zip(ours, batched(), strict=True))
    print(f"| the fractions of 4 layers, {b} images × {n} rotations | s |")
    print("|---|---:|")
    print(f"| one rotation and one forward per group element | {t_loop:.2f} |")
    print(f"| every element in one batched pass (4,096 rows a forward) | {t_batched:.2f} |")
    print(f"| LayerSymmetry.fit (batched, with the equivariance and Lie errors) | {t_full:.2f} |")
    print(
        f"loop / batched: {t_loop / t_batched:.2f}; largest difference in the fractions: {gap:.1e} "
        f"(LayerSymmetry's: {gap_full:.1e})"
    )


def main() -> None:
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    bench_irreps(repeats=5)
    bench_decomposition(repeats=3)


if __name__ == "__main__":
    main()
