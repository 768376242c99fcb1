"""The local learning coefficient: SGLD around a trained point, with every chain in one batched pass.

Lau, Furman, Wang, Murfet & Wei, "The local learning coefficient: a singularity-aware
complexity measure" (2023/2025). For a loss ``L_n`` on n samples and a point w* (the trained
weights), the estimator (their eq. 12) is

    λ̂(w*) = nβ · (E_w[L_n(w)] − L_n(w*)),

the expectation over the tempered posterior localised at w*,

    p(w) ∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²),

which SGLD samples (Welling & Teh 2011; Lau et al. eq. 13) with a minibatch loss L_m:

    Δw = −(ε/2) (nβ ∇L_m(w) + γ (w − w*)) + N(0, ε).

E_w[L_n(w)] is the mean over the draws of the minibatch loss at the point each step starts
from (an unbiased estimate of L_n there); L_n(w*) is computed on the whole dataset, not on a
minibatch (the noisy baseline of devinterp#39/#58). For a quadratic minimum with d parameters
λ̂ → d/2 for any nβ, once γ is small against the curvature; for singular models the theory
takes β = 1/log n.

The chains advance together: the parameters carry a leading chain dimension and one
``vmap(grad(functional_call))`` per step gives every chain its loss and gradient on its own
minibatch.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap
from torch.utils.data import TensorDataset

from nerve.errors import AnalysisError

__all__ = ["LLCEstimator", "LLCResult", "default_nbeta", "rrr_learning_coefficient"]

LossFn = Callable[..., Tensor]


def default_nbeta(rule: str, *, n: int, batch_size: int) -> float:
    """nβ by a named rule: ``"batch"``: m / log m with m the batch size (devinterp's default);
    ``"dataset"``: n / log n, that is β* = 1 / log n (Watanabe's WBIC; Lau et al.).

    >>> round(default_nbeta("batch", n=10_000, batch_size=100), 3)
    21.715
    >>> round(default_nbeta("dataset", n=10_000, batch_size=100), 1)
    1085.7
    """
    size = {"batch": batch_size, "dataset": n}.get(rule)
    if size is None:
        raise AnalysisError(f"`nbeta` (={rule!r}) must be a positive number, 'batch' or 'dataset'.")
    if size < 2:
        raise AnalysisError(f"`nbeta` (={rule!r}) needs a size of at least 2 to take its log; got {size}.")
    return size / math.log(size)


def rrr_learning_coefficient(M: int, N: int, H: int, r: int) -> float:
    """The learning coefficient of reduced-rank regression ``y = B A x`` (A: ``[H, M]``, B:
    ``[N, H]``) at a truth of rank r, by Aoyagi & Watanabe 2005 (Neural Networks 18, Main
    Theorem): with s = 2(H+r)(M+N) − (M−N)² − (H+r)²,

    - if M + H < N + r: (HM − Hr + Nr) / 2; if N + H < M + r: (HN − Hr + Mr) / 2;
    - if M + N < H + r: MN / 2 (the regular full linear map);
    - otherwise s / 8 when M + H + N + r is even, (s + 1) / 8 when it is odd.

    >>> rrr_learning_coefficient(4, 4, 3, 1), rrr_learning_coefficient(5, 3, 2, 2)
    (6.0, 6.0)
    """
    for name, value in (("M", M), ("N", N), ("H", H)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` (={value!r}) must be a positive integer.")
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= H:
        raise ValueError(f"`r` (={r!r}) must be an integer from 0 to H (={H}): the true rank.")
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    if M + N < H + r:
        return M * N / 2
    s = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    return (s + (M + H + N + r) % 2) / 8


@dataclass(frozen=True)
class LLCResult:
    """What an LLC estimate found, with its diagnostics.

    **Attributes:**

    - `llc_mean`, `llc_std`: over chains (the standard deviation with ddof 1; 0 for one chain).
    - `llc_per_chain`: λ̂ of each chain: nβ (mean of its draws' losses − `init_loss`).
    - `init_loss`: L_n(w*) on `init_loss_samples` samples (the whole dataset by default).
    - `nbeta`, `epsilon`, `gamma`, `num_chains`, `num_draws`, `num_burnin`, `batch_size`,
      `n_samples`: what made it.
    - `divergent_chains`: chains whose loss became non-finite or rose above `init_loss` by more
      than `max_loss_increase`; they are kept in the mean, never dropped.
    - `fraction_below_init`: the fraction of draws (over all chains) whose loss is below
      `init_loss`. Many draws below it mean w* is not a local minimum, or ε is too large.
    - `mala_acceptance`: the mean Metropolis–Hastings acceptance probability of the SGLD
      proposals, measured every few steps on the step's own minibatch (MALA, Roberts &
      Tweedie 1996). Near 1: ε is small enough that the discretisation hardly biases.
    """

    llc_mean: float
    llc_std: float
    llc_per_chain: tuple[float, ...]
    init_loss: float
    init_loss_samples: int
    nbeta: float
    epsilon: float
    gamma: float
    num_chains: int
    num_draws: int
    num_burnin: int
    batch_size: int
    n_samples: int
    divergent_chains: tuple[int, ...]
    fraction_below_init: float
    mala_acceptance: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> LLCResult:
        data = json.loads(text)
        data["llc_per_chain"] = tuple(data["llc_per_chain"])
        data["divergent_chains"] = tuple(data["divergent_chains"])
        return cls(**data)


class LLCEstimator:
    """λ̂(w*) = nβ · (E_w[L_n(w)] − L_n(w*)) by SGLD localised at the model's weights w*.

    **Arguments** (keyword-only):

    - `epsilon`: the SGLD step size ε.
    - `gamma`: the localisation strength γ, pulling each chain back towards w*.
    - `nbeta`: nβ, a number, or ``"batch"`` (m / log m, devinterp's default, the default here)
      or ``"dataset"`` (n / log n: β* = 1 / log n of Lau et al. and Watanabe's WBIC).
    - `num_chains`, `num_draws`, `num_burnin`: chains, draws kept per chain, steps discarded
      before them (one step per draw).
    - `batch_size`: m, the minibatch of each chain at each step (each chain its own shuffle).
    - `init_loss_samples`: on how many samples, the first ones, L_n(w*) is computed (default: all).
    - `max_loss_increase`: a chain whose loss exceeds L_n(w*) by more than this is divergent.
    - `mala_every`: measure the MALA acceptance every this many steps (one extra batched
      gradient each time).
    - `seed`, `device`: randomness and where the chains run (default: the model's device).

    ``fit(model, dataset, loss_fn=...)``: `dataset` is a :class:`~torch.utils.data.TensorDataset`
    or a sequence of tensors with a common first dimension n; the first tensor is the model's
    input and the rest go to ``loss_fn(output, *rest)``, which returns the mean loss over the
    batch (default: cross-entropy). The model runs in eval mode while sampling (dropout off,
    batch norm on its running statistics) and is left as it was found. Fitted: ``result_``
    (:class:`LLCResult`), ``llc_mean_``, ``llc_std_``, ``llc_per_chain_`` ``[C]``,
    ``loss_trace_`` ``[C, burnin + draws]`` (the minibatch loss at each step's start),
    ``llc_trace_`` ``[C, draws]`` (nβ (loss − L_n(w*)) of each draw).

    >>> torch.manual_seed(0) and None
    >>> X = torch.randn(2000, 3); y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + torch.randn(2000, 1)
    >>> model = nn.Linear(3, 1, bias=False)
    >>> model.weight.data = torch.linalg.lstsq(X, y).solution.T   # the minimum w*
    >>> est = LLCEstimator(epsilon=5e-3, gamma=1.0, nbeta=20.0, num_chains=16, num_draws=500,
    ...                    num_burnin=100, batch_size=2000, seed=0)
    >>> 1.2 < est.fit(model, (X, y), loss_fn=nn.functional.mse_loss).llc_mean_ < 1.8   # d/2 = 1.5
    True
    """

    def __init__(
        self,
        *,
        epsilon: float = 1e-3,
        gamma: float = 100.0,
        nbeta: float | str = "batch",
        num_chains: int = 4,
        num_draws: int = 200,
        num_burnin: int = 0,
        batch_size: int = 32,
        init_loss_samples: int | None = None,
        max_loss_increase: float = 10.0,
        mala_every: int = 10,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.gamma = gamma
        self.nbeta = nbeta
        self.num_chains = num_chains
        self.num_draws = num_draws
        self.num_burnin = num_burnin
        self.batch_size = batch_size
        self.init_loss_samples = init_loss_samples
        self.max_loss_increase = max_loss_increase
        self.mala_every = mala_every
        self.seed = seed
        self.device = device

    def _check_params(self) -> None:
        for name in ("epsilon", "max_loss_increase"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise AnalysisError(f"`{name}` (={value!r}) must be a positive number.")
        if isinstance(self.gamma, bool) or not isinstance(self.gamma, (int, float)) or not self.gamma >= 0:
            raise AnalysisError(f"`gamma` (={self.gamma!r}) must be a number >= 0.")
        named = isinstance(self.nbeta, str) and self.nbeta in ("batch", "dataset")
        number = isinstance(self.nbeta, (int, float)) and not isinstance(self.nbeta, bool) and self.nbeta > 0
        if not (named or number):
            raise AnalysisError(f"`nbeta` (={self.nbeta!r}) must be a positive number, 'batch' or 'dataset'.")
        for name, least in (("num_chains", 1), ("num_draws", 1), ("num_burnin", 0), ("batch_size", 1),
                            ("mala_every", 1)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise AnalysisError(f"`{name}` (={value!r}) must be an integer >= {least}.")

    def fit(self, model: nn.Module, dataset: Any, *, loss_fn: LossFn | None = None) -> LLCEstimator:
        """Sample around the weights of `model` and estimate its LLC; returns ``self``."""
        self._check_params()
        loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
        _refuse_stateful(model)
        tensors = _tensors(dataset)
        n = tensors[0].shape[0]
        if self.batch_size > n:
            raise AnalysisError(
                f"`batch_size` (={self.batch_size}) must be at most the dataset's size ({n})."
            )
        nbeta = default_nbeta(self.nbeta, n=n, batch_size=self.batch_size) if isinstance(self.nbeta, str) \
            else float(self.nbeta)  # fmt: skip
        params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
        if not params:
            raise AnalysisError("`model` has no parameter that requires grad: there is nothing to sample.")
        device = torch.device(self.device) if self.device is not None else next(iter(params.values())).device
        params = {k: p.to(device) for k, p in params.items()}
        buffers = {k: b.to(device) for k, b in model.named_buffers()}
        tensors = [t.to(device) for t in tensors]
        was_training = model.training
        model.eval()
        try:
            self._sample(model, params, buffers, tensors, loss_fn, nbeta, device)
        finally:
            model.train(was_training)
        return self

    def _sample(self, model, params, buffers, tensors, loss_fn, nbeta, device) -> None:
        C, m, eps, gamma = self.num_chains, self.batch_size, float(self.epsilon), float(self.gamma)
        n = tensors[0].shape[0]

        def loss_of(p: dict[str, Tensor], x: Tensor, *rest: Tensor) -> Tensor:
            return loss_fn(functional_call(model, (p, buffers), (x,)), *rest)

        # one batched forward and backward for all chains, each on its own minibatch
        full = m == n  # full batch: every chain sees the same data, no gather, no shuffle
        step_grad = vmap(grad_and_value(loss_of), in_dims=(0,) + (None if full else 0,) * len(tensors))
        init_loss, init_n = self._init_loss(loss_of, params, tensors, n)

        g = torch.Generator(device=device).manual_seed(self.seed)
        star = {k: p.unsqueeze(0) for k, p in params.items()}
        w = {k: p.expand(C, *p.shape).clone() for k, p in params.items()}
        batches = _Minibatches(n, C, m, generator=g, device=device)
        total = self.num_burnin + self.num_draws
        losses = torch.empty(C, total, dtype=torch.float64)
        accept: list[Tensor] = []
        for t in range(total):
            if full:
                batch = tensors
            else:
                idx = batches.next().flatten()  # [C·m]
                batch = [x.index_select(0, idx).view(C, m, *x.shape[1:]) for x in tensors]
            grads, loss = step_grad(w, *batch)
            losses[:, t] = loss.detach().double().cpu()
            drift = {k: nbeta * grads[k] + gamma * (w[k] - star[k]) for k in w}
            new = {
                k: w[k] - 0.5 * eps * drift[k]
                + math.sqrt(eps) * torch.randn(w[k].shape, generator=g, device=device, dtype=w[k].dtype)
                for k in w
            }  # fmt: skip
            if t % self.mala_every == 0:
                accept.append(self._mala(step_grad, w, new, drift, loss, batch, star, nbeta, gamma, eps))
            w = new
        self._finish(losses, init_loss, init_n, nbeta, accept, n)

    def _init_loss(self, loss_of, params, tensors, n) -> tuple[float, int]:
        """L_n(w*) on the first `init_loss_samples` samples, in batches, as a weighted mean."""
        k = n if self.init_loss_samples is None else min(int(self.init_loss_samples), n)
        total, chunk = 0.0, max(self.batch_size, 4096)
        with torch.no_grad():
            for start in range(0, k, chunk):
                part = [x[start : min(start + chunk, k)] for x in tensors]
                total += float(loss_of(params, *part)) * part[0].shape[0]
        return total / k, k

    def _mala(self, step_grad, w, new, drift, loss, batch, star, nbeta, gamma, eps) -> Tensor:
        """``[C]``: min(1, p(w')q(w|w') / p(w)q(w'|w)) with U = nβ L_m + (γ/2)‖w − w*‖² on this batch."""
        grads_new, loss_new = step_grad(new, *batch)

        def potential(p: dict[str, Tensor], value: Tensor) -> Tensor:
            return nbeta * value.double() + 0.5 * gamma * sum(_sq(p[k] - star[k]) for k in p)

        drift_new = {k: nbeta * grads_new[k] + gamma * (new[k] - star[k]) for k in new}
        forward = sum(_sq(new[k] - w[k] + 0.5 * eps * drift[k]) for k in w) / (2 * eps)  # −log q(w'|w)
        backward = sum(_sq(w[k] - new[k] + 0.5 * eps * drift_new[k]) for k in w) / (2 * eps)  # −log q(w|w')
        log_ratio = potential(w, loss) - potential(new, loss_new) + forward - backward
        return torch.exp(torch.clamp(log_ratio.nan_to_num(-math.inf), max=0.0)).cpu()

    def _finish(self, losses: Tensor, init_loss: float, init_n: int, nbeta: float, accept, n: int) -> None:
        draws = losses[:, self.num_burnin :]
        per_chain = nbeta * (draws.mean(1) - init_loss)
        excess = losses - init_loss
        divergent = tuple(
            int(c) for c in range(losses.shape[0])
            if not torch.isfinite(losses[c]).all() or bool((excess[c] > self.max_loss_increase).any())
        )  # fmt: skip
        if divergent:
            warnings.warn(
                f"LLC chains {list(divergent)} diverged (a non-finite loss, or one more than "
                f"`max_loss_increase` (={self.max_loss_increase:g}) above L(w*) = {init_loss:.4g}); they are "
                "kept in llc_mean_. Lower `epsilon` or raise `gamma`.",
                stacklevel=3,
            )
        std = float(per_chain.std()) if len(per_chain) > 1 else 0.0
        self.loss_trace_ = losses
        self.llc_trace_ = nbeta * (draws - init_loss)
        self.llc_per_chain_ = per_chain
        self.llc_mean_ = float(per_chain.mean())
        self.llc_std_ = std
        self.result_ = LLCResult(
            llc_mean=self.llc_mean_,
            llc_std=std,
            llc_per_chain=tuple(float(x) for x in per_chain),
            init_loss=init_loss,
            init_loss_samples=init_n,
            nbeta=nbeta,
            epsilon=float(self.epsilon),
            gamma=float(self.gamma),
            num_chains=self.num_chains,
            num_draws=self.num_draws,
            num_burnin=self.num_burnin,
            batch_size=self.batch_size,
            n_samples=n,
            divergent_chains=divergent,
            fraction_below_init=float((draws < init_loss).double().mean()),
            mala_acceptance=float(torch.cat(accept).mean()) if accept else math.nan,
        )


class _Minibatches:
    """``[C, m]`` indices: each chain walks its own random permutation of the n samples."""

    def __init__(self, n: int, chains: int, m: int, *, generator: torch.Generator, device: torch.device):
        self.n, self.chains, self.m, self.g, self.device = n, chains, m, generator, device
        self.order, self.pos = self._shuffle(), 0

    def _shuffle(self) -> Tensor:
        return torch.rand(self.chains, self.n, generator=self.g, device=self.device).argsort(1)

    def next(self) -> Tensor:
        if self.pos + self.m > self.n:
            self.order, self.pos = self._shuffle(), 0
        idx = self.order[:, self.pos : self.pos + self.m]
        self.pos += self.m
        return idx


def _sq(x: Tensor) -> Tensor:
    """``[C]``: the squared norm of each chain's slice of ``x [C, ...]``, in float64."""
    return x.double().flatten(1).pow(2).sum(1)


def _tensors(dataset: Any) -> list[Tensor]:
    if isinstance(dataset, TensorDataset):
        tensors = list(dataset.tensors)
    elif isinstance(dataset, Sequence) and dataset and all(isinstance(t, Tensor) for t in dataset):
        tensors = list(dataset)
    else:
        raise AnalysisError(
            f"`dataset` (a {type(dataset).__name__}) must be a TensorDataset or a sequence of tensors "
            "(inputs first, then what loss_fn takes after the output)."
        )
    sizes = [t.shape[0] if t.ndim else None for t in tensors]
    if None in sizes or len(set(sizes)) != 1:
        raise AnalysisError(f"`dataset`'s tensors must share their first dimension; got sizes {sizes}.")
    return tensors


def _refuse_stateful(model: nn.Module) -> None:
    """Batch norm in training mode updates running statistics in forward; in eval mode (which
    the sampler uses) it is a fixed function, so only modules that cannot be evaluated are refused."""
    if not isinstance(model, nn.Module):
        raise AnalysisError(f"`model` (a {type(model).__name__}) must be a torch.nn.Module.")
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not module.track_running_stats:
            raise AnalysisError(
                f"`model` has batch norm {name!r} without running statistics: its output depends on "
                "the whole batch even in eval mode, so a sample's loss is not a function of the weights. "
                "Build it with track_running_stats=True or without batch norm."
            )
