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

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap
from torch.utils.data import TensorDataset

from nerve._estimator import Estimator
from nerve._memory import available_memory, format_bytes
from nerve._results import Result
from nerve.analysis.llc.diagnostics import diagnose
from nerve.errors import AnalysisError, MemoryBudgetError, NerveWarning

__all__ = ["LLCEstimator", "LLCResult", "default_nbeta"]

LossFn = Callable[..., Tensor]

#: the samplers :class:`LLCEstimator` runs (its `sampler` argument)
SAMPLERS = ("sgld", "rmsprop_sgld")

# [C, P] tensors of the parameters' dtype alive at the peak of a step: the chains w, the new point,
# the gradients and, in a MALA step, the gradients at the new point, both drifts and two
# temporaries of the proposal densities; _sq adds two float64 [C, P] (the difference and its square).
CHAIN_VECTORS = 8  # RMSProp-SGLD adds two: the running mean square V and the preconditioner G
CHAIN_VECTORS_FLOAT64 = 2


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


@dataclass(frozen=True)
class LLCResult(Result):
    """What an LLC estimate found, with its diagnostics.

    **Attributes:**

    - `llc_mean`, `llc_std`: over chains (the standard deviation with ddof 1; 0 for one chain).
    - `llc_per_chain`: λ̂ of each chain: nβ (mean of its draws' losses − `init_loss`).
    - `init_loss`: L_n(w*) on `init_loss_samples` samples (the whole dataset by default).
    - `nbeta`, `epsilon`, `gamma`, `n_chains`, `n_draws`, `n_burnin`, `batch_size`,
      `n_samples`: what made it.
    - `divergent_chains`: chains whose loss became non-finite or rose above `init_loss` by more
      than `max_loss_increase`; they are kept in the mean, never dropped.
    - `fraction_below_init`: the fraction of draws (over all chains) whose loss is below
      `init_loss`. Many draws below it mean w* is not a local minimum, or ε is too large.
    - `mala_acceptance`: the mean Metropolis–Hastings acceptance probability of the SGLD
      proposals, measured every few steps on the step's own minibatch (MALA, Roberts &
      Tweedie 1996). Near 1: ε is small enough that the discretisation hardly biases.
    - `rhat`, `ess_bulk`: rank-normalised split-R̂ and bulk ESS of the draws' loss traces
      (:mod:`nerve.analysis.llc.diagnostics`); `tau`: ``2/(εγ)``, the chains' relaxation time in
      a flat direction, in steps.
    - `sampler`: ``"sgld"`` or ``"rmsprop_sgld"``.
    - `converged` and `verdict`: whether the estimate has converged by the rule
      :data:`~nerve.analysis.llc.diagnostics.RULE`, and if not, every rule it failed and what to
      change. An estimate read from a file written before nerve diagnosed estimates says
      ``converged=False``, "not diagnosed".
    """

    FORMAT = "nerve-llc/1"

    llc_mean: float
    llc_std: float
    llc_per_chain: tuple[float, ...]
    init_loss: float
    init_loss_samples: int
    nbeta: float
    epsilon: float
    gamma: float
    n_chains: int
    n_draws: int
    n_burnin: int
    batch_size: int
    n_samples: int
    divergent_chains: tuple[int, ...]
    fraction_below_init: float
    mala_acceptance: float
    rhat: float = math.nan
    ess_bulk: float = math.nan
    tau: float = math.nan
    converged: bool = False
    verdict: str = "not diagnosed (written before nerve diagnosed LLC estimates)"
    sampler: str = "sgld"


class LLCEstimator(Estimator):
    """λ̂(w*) = nβ · (E_w[L_n(w)] − L_n(w*)) by SGLD localised at the model's weights w*.

    **Arguments** (keyword-only):

    - `epsilon`: the SGLD step size ε, finite and > 0, with εγ < 4 (at εγ >= 4 the localisation
      alone multiplies w − w* by 1 − εγ/2 <= −1 each step, so the chains cannot settle).
    - `gamma`: the localisation strength γ >= 0, pulling each chain back towards w*.
    - `nbeta`: nβ, a number, or ``"batch"`` (m / log m, devinterp's default, the default here)
      or ``"dataset"`` (n / log n: β* = 1 / log n of Lau et al. and Watanabe's WBIC).
    - `n_chains`, `n_draws`, `n_burnin`: chains, draws kept per chain, steps discarded
      before them (one step per draw).
    - `batch_size`: m, the minibatch of each chain at each step (each chain its own shuffle).
    - `init_loss_samples`: on how many samples, the first ones, L_n(w*) is computed (from 1 to n;
      default: all).
    - `max_loss_increase`: a chain whose loss exceeds L_n(w*) by more than this is divergent. When
      every chain crosses it and they agree (R̂), the crossings are the stationary distribution's
      (its mean excess is λ/nβ), the tempered posterior is not local to w*, and the verdict says to
      raise nβ rather than lower ε.
    - `mala_every`: measure the MALA acceptance every this many steps (one extra batched
      gradient each time).
    - `sampler`: ``"sgld"`` (the update above) or ``"rmsprop_sgld"``, preconditioned SGLD (Li, Chen,
      Carlson & Carin 2016, as devinterp 2.x's ``rmsprop_sgld``): per parameter,
      ``V ← αV + (1 − α) (∇L_m)²``, ``G = 1 / (√V + δ)`` and
      ``Δw = −(ε/2) G (nβ ∇L_m + γ (w − w*)) + √(εG) ξ``, with α = `rmsprop_alpha` (0.99) and
      δ = `rmsprop_eps` (0.1); V starts at 0, so G starts at 1/δ. It takes larger steps where the
      loss is flat and smaller where it is steep, which is what mixes the flat directions of a
      singular model (Hitchcock & Hoogland 2025 found it the most faithful of the samplers they
      compared). The plain sampler is exact in the limit ε → 0 and simpler to reason about; use the
      preconditioned one when the calibration finds no converged cell for SGLD at a budget you can
      afford, and compare both where you can. With it, `tau` is ``2 / (εγ Ḡ)`` with Ḡ the median
      preconditioner at the last step, and the MALA acceptance treats G as fixed within a step.
    - `params`: sample only these parameters (names, or prefixes such as ``"mlp"``); the rest stay
      at w*. The LLC of a subset of the weights (Wang et al. 2024's refined LLCs); default: all.
    - `subspace`: sample only a linear subspace of the weights: ``{name: Q}`` with Q
      ``[rows of the parameter, r]`` orthonormal columns; that parameter moves as ``p* + Q Z`` (Z
      ``[r, ...]``, the rest of its shape) and every parameter not named stays at w*. The chains
      live in the coordinates Z (the localisation ``γ/2 ‖Q Z‖² = γ/2 ‖Z‖²``), so this is the LLC
      of the restriction of the loss to ``w* + span``; `params` with Q = I is the special case.
      :func:`~nerve.analysis.llc.subspaces.irrep_subspace` gives the subspace of one irrep's
      Fourier components in a group-task model's embeddings and unembedding. Not with `params`.
    - `seed`, `device`: randomness (an integer from 0 to 2⁶⁴ − 1) and where the chains run
      (default: the model's device).

    Every hyperparameter is checked when ``fit`` starts: integers must be ints in range, numbers
    finite (NaN and ±inf are refused). Before any chain is allocated, their memory (``n_chains``
    × sampled parameters × :data:`CHAIN_VECTORS` tensors, the loss traces, the minibatches) is
    estimated against the memory available on the device; more is a
    :class:`~nerve.analysis.MemoryBudgetError`.

    ``fit(model, dataset, loss_fn=...)``: `dataset` is a :class:`~torch.utils.data.TensorDataset`
    or a sequence of tensors with a common first dimension n; the first tensor is the model's
    input and the rest go to ``loss_fn(output, *rest)``, which returns the mean loss over the
    batch (default: cross-entropy). The model runs in eval mode while sampling (dropout off,
    batch norm on its running statistics) and is left as it was found. Fitted: ``result_``
    (:class:`LLCResult`), ``llc_mean_``, ``llc_std_``, ``llc_per_chain_`` ``[C]``,
    ``loss_trace_`` ``[C, burnin + draws]`` (the minibatch loss at each step's start),
    ``llc_trace_`` ``[C, draws]`` (nβ (loss − L_n(w*)) of each draw), ``delta_trace_``
    ``[C, burnin + draws]`` (the loss less w*'s on the same minibatch: the trace the verdict
    diagnoses beside the loss, free of the minibatch's noise).

    >>> torch.manual_seed(0) and None
    >>> X = torch.randn(2000, 3); y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + torch.randn(2000, 1)
    >>> model = nn.Linear(3, 1, bias=False)
    >>> model.weight.data = torch.linalg.lstsq(X, y).solution.T   # the minimum w*
    >>> est = LLCEstimator(epsilon=1e-2, gamma=1.0, nbeta=20.0, n_chains=8, n_draws=1000,
    ...                    n_burnin=100, batch_size=2000, seed=0)
    >>> est = est.fit(model, (X, y), loss_fn=nn.functional.mse_loss)
    >>> 1.2 < est.llc_mean_ < 1.8, est.result_.verdict   # d/2 = 1.5
    (True, 'converged')
    """

    def __init__(
        self,
        *,
        # ε = 1e-4, the benchmarks' ε: there the nanda2023 transformer's MALA acceptance is already 0.87
        # (fixtures/nanda2023/analysis/llc_calibration.json); m = 64, the batch of that fixture's LLC
        epsilon: float = 1e-4,
        gamma: float = 100.0,
        nbeta: float | str = "batch",
        n_chains: int = 4,
        n_draws: int = 200,
        n_burnin: int = 0,
        batch_size: int = 64,
        init_loss_samples: int | None = None,
        max_loss_increase: float = 10.0,
        mala_every: int = 10,
        sampler: str = "sgld",
        rmsprop_alpha: float = 0.99,
        rmsprop_eps: float = 0.1,
        params: Sequence[str] | None = None,
        subspace: Mapping[str, Tensor] | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.gamma = gamma
        self.nbeta = nbeta
        self.n_chains = n_chains
        self.n_draws = n_draws
        self.n_burnin = n_burnin
        self.batch_size = batch_size
        self.init_loss_samples = init_loss_samples
        self.max_loss_increase = max_loss_increase
        self.mala_every = mala_every
        self.sampler = sampler
        self.rmsprop_alpha = rmsprop_alpha
        self.rmsprop_eps = rmsprop_eps
        self.params = params
        self.subspace = subspace
        self.seed = seed
        self.device = device

    def _check_params(self) -> None:
        """Refuse, by name, any hyperparameter out of its range (see the class docstring)."""
        for name in ("epsilon", "max_loss_increase"):
            value = getattr(self, name)
            if not _is_finite_number(value) or not value > 0:
                raise AnalysisError(f"`{name}` (={value!r}) must be a positive number (finite, not NaN).")
        if not _is_finite_number(self.gamma) or not self.gamma >= 0:
            raise AnalysisError(f"`gamma` (={self.gamma!r}) must be a number >= 0 (finite, not NaN).")
        _check_step(self.epsilon, self.gamma)
        if self.sampler not in SAMPLERS:
            raise AnalysisError(f"`sampler` (={self.sampler!r}) must be one of {list(SAMPLERS)}.")
        if not _is_finite_number(self.rmsprop_alpha) or not 0 <= self.rmsprop_alpha < 1:
            raise AnalysisError(f"`rmsprop_alpha` (={self.rmsprop_alpha!r}) must be a number in [0, 1).")
        if not _is_finite_number(self.rmsprop_eps) or not self.rmsprop_eps > 0:
            raise AnalysisError(f"`rmsprop_eps` (={self.rmsprop_eps!r}) must be a positive number.")
        named = isinstance(self.nbeta, str) and self.nbeta in ("batch", "dataset")
        positive = not isinstance(self.nbeta, str) and _is_finite_number(self.nbeta) and self.nbeta > 0
        if not (named or positive):
            raise AnalysisError(f"`nbeta` (={self.nbeta!r}) must be a positive number, 'batch' or 'dataset'.")
        for name, least in (("n_chains", 1), ("n_draws", 1), ("n_burnin", 0), ("batch_size", 1),
                            ("mala_every", 1)):  # fmt: skip
            value = getattr(self, name)
            if not _is_int(value) or value < least:
                raise AnalysisError(f"`{name}` (={value!r}) must be an integer >= {least}.")
        k = self.init_loss_samples
        if k is not None and (not _is_int(k) or k < 1):
            raise AnalysisError(
                f"`init_loss_samples` (={k!r}) must be an integer >= 1 (the samples L(w*) is computed on), "
                "or None for the whole dataset."
            )
        if not _is_int(self.seed) or not 0 <= self.seed < 2**64:
            raise AnalysisError(f"`seed` (={self.seed!r}) must be an integer from 0 to 2**64 - 1.")
        if self.params is not None and self.subspace is not None:
            raise AnalysisError("`params` and `subspace` both choose what to sample; give one of them.")
        if self.params is not None and (
            isinstance(self.params, str) or not isinstance(self.params, Sequence)
            or not self.params or not all(isinstance(x, str) for x in self.params)
        ):  # fmt: skip
            raise AnalysisError(
                f"`params` (={self.params!r}) must be a non-empty list of parameter names or prefixes."
            )
        if self.device is not None:
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise AnalysisError(
                    f"`device` (={self.device!r}) must name a torch device ('cpu', 'cuda:0', ...)."
                ) from None

    def fit(self, model: nn.Module, dataset: Any, *, loss_fn: LossFn | None = None) -> LLCEstimator:
        """Sample around the weights of `model` and estimate its LLC; returns ``self``."""
        self._check_params()
        setup = _Setup(self, model, dataset, loss_fn)
        C = self.n_chains
        _check_memory(setup, self, C, what=f"`n_chains` (={C})")
        nbeta = setup.nbeta(self.nbeta)
        eps = torch.full((C,), float(self.epsilon), dtype=torch.float64)
        sampled = _run_chains(self, setup, eps, torch.full((C,), nbeta, dtype=torch.float64))
        result = _summarise(self, sampled, range(C), nbeta=nbeta, epsilon=float(self.epsilon))
        if result.verdict != "converged" and not result.divergent_chains:  # a caveat too
            warnings.warn(f"the LLC estimate is {result.verdict}.", NerveWarning, stacklevel=2)
        if result.divergent_chains:
            warnings.warn(
                f"LLC chains {list(result.divergent_chains)} diverged (a non-finite loss, or one more than "
                f"`max_loss_increase` (={self.max_loss_increase:g}) above L(w*) = {result.init_loss:.4g}); "
                f"they are kept in llc_mean_. The estimate is {result.verdict}.",
                NerveWarning,
                stacklevel=2,
            )
        self.loss_trace_ = sampled.losses
        self.delta_trace_ = sampled.deltas
        self.llc_trace_ = nbeta * (sampled.losses[:, self.n_burnin :] - sampled.init_loss)
        self.llc_per_chain_ = torch.tensor(result.llc_per_chain, dtype=torch.float64)
        self.llc_mean_ = result.llc_mean
        self.llc_std_ = result.llc_std
        self.result_ = result
        return self


class _Setup:
    """What every sampler run on one model and dataset shares: the parameters as one flat
    vector, the buffers, the data on the device, the loss, and L_n(w*)."""

    def __init__(self, est: LLCEstimator, model: nn.Module, dataset: Any, loss_fn: LossFn | None) -> None:
        loss_fn = cast(LossFn, nn.functional.cross_entropy) if loss_fn is None else loss_fn
        _refuse_stateful(model)
        tensors = _tensors(dataset)
        self.n = n = tensors[0].shape[0]
        self.batch_size = est.batch_size
        if est.batch_size > n:
            raise AnalysisError(f"`batch_size` (={est.batch_size}) must be at most the dataset's size ({n}).")
        params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
        if not params:
            raise AnalysisError("`model` has no parameter that requires grad: there is nothing to sample.")
        device = torch.device(est.device) if est.device is not None else next(iter(params.values())).device
        self.device = device
        flat: _Flat | _Subspace
        if est.subspace is not None:
            chosen = set(est.subspace)
            flat = _Subspace({k: p.to(device) for k, p in params.items()}, est.subspace, device)
        else:
            chosen = _choose(params, est.params)
            flat = _Flat({k: p.to(device) for k, p in params.items() if k in chosen})
        self.flat = flat
        # the parameters not sampled stay at w* and enter the forward pass like buffers
        buffers = {k: b.to(device) for k, b in model.named_buffers()}
        buffers |= {k: p.to(device) for k, p in params.items() if k not in chosen}
        self.tensors = [t.to(device) for t in tensors]
        self.model = model

        def loss_of(w: Tensor, x: Tensor, *rest: Tensor) -> Tensor:
            return loss_fn(functional_call(model, (flat.unflatten(w), buffers), (x,)), *rest)

        self.loss_of = loss_of
        k = n if est.init_loss_samples is None else est.init_loss_samples
        if k > n:
            raise AnalysisError(f"`init_loss_samples` (={k}) must be at most the dataset's size ({n}).")
        self.init_n = k
        self.init_loss = self.full_loss(flat.star)

    def full_loss(self, w: Tensor) -> float:
        """L_n(w) on the first `init_n` samples, in chunks, as a weighted mean (the model in eval mode)."""
        was_training = self.model.training
        self.model.eval()
        try:
            total, chunk = 0.0, max(self.batch_size, 4096)
            with torch.no_grad():
                for start in range(0, self.init_n, chunk):
                    part = [x[start : min(start + chunk, self.init_n)] for x in self.tensors]
                    total += float(self.loss_of(w, *part)) * part[0].shape[0]
        finally:
            self.model.train(was_training)
        return total / self.init_n

    def nbeta(self, rule: float | str) -> float:
        return default_nbeta(rule, n=self.n, batch_size=self.batch_size) if isinstance(rule, str) \
            else float(rule)  # fmt: skip


@dataclass
class _Sampled:
    losses: Tensor  # [C, burnin + draws], float64, on the CPU
    deltas: Tensor  # [C, burnin + draws]: L_m(w_t) − L_m(w*) on each step's own minibatch, float64, CPU
    mala: Tensor  # [C]: mean acceptance probability of each chain
    precond: Tensor  # [C]: each chain's median preconditioner at the last step (1 for plain SGLD)
    init_loss: float
    init_n: int
    n: int


def _run_chains(
    est: LLCEstimator,
    setup: _Setup,
    eps: Tensor,
    nbeta: Tensor,
    centre: Tensor | None = None,
    gamma: Tensor | None = None,
) -> _Sampled:
    """Advance ``len(eps)`` chains together, chain c with step size ``eps[c]``, ``nbeta[c]`` and
    localisation ``gamma[c]`` (default: the estimator's γ for all), localised at ``centre[c]``
    (``[C, P]``: each chain its own w*, as for the checkpoints of a run; default: the setup's w*).

    The chains' parameters are one ``[C, P]`` tensor: one ``vmap(grad)`` per step gives every
    chain its loss and gradient on its own minibatch, and the update is a few whole-tensor passes.
    """
    model, device, tensors = setup.model, setup.device, setup.tensors
    C, m, n = len(eps), est.batch_size, setup.n
    star = setup.flat.star
    top = torch.finfo(star.dtype).max
    star = star.expand(C, -1) if centre is None else centre.to(device=device, dtype=star.dtype)
    for name, values in (("epsilon", eps), ("nbeta", nbeta)):
        if bool((values > top).any()):
            raise AnalysisError(
                f"`{name}` (={float(values.max()):g}) overflows the parameters' dtype {star.dtype} "
                f"(largest {top:g}); the sampler computes in that dtype."
            )
    eps = eps.to(device=device, dtype=star.dtype)[:, None]
    gamma = (torch.full((C,), float(est.gamma)) if gamma is None else gamma).to(device, star.dtype)[:, None]
    nbeta = nbeta.to(device=device, dtype=star.dtype)[:, None]
    full = m == n  # full batch: every chain sees the same data, no gather, no shuffle
    step_grad = vmap(grad_and_value(setup.loss_of), in_dims=(0,) + (None if full else 0,) * len(tensors))
    star_loss = vmap(setup.loss_of, in_dims=(0,) + (None if full else 0,) * len(tensors))
    g = torch.Generator(device=device).manual_seed(est.seed)
    w = star.clone()
    batches = _Minibatches(n, C, m, generator=g, device=device)
    total = est.n_burnin + est.n_draws
    losses = torch.empty(C, total, dtype=torch.float64, device=device)
    deltas = torch.empty_like(losses)  # the loss less w*'s on the same batch: no minibatch noise
    accept: list[Tensor] = []
    # w' = w − (ε/2)(nβ ∇L_m(w) + γ (w − w*)) + √ε ξ  =  √ε ξ + (1 − εγ/2) w + (εγ/2) w* − (εnβ/2) ∇L_m(w)
    noise, keep, pull, push = eps.sqrt(), 1.0 - 0.5 * eps * gamma, 0.5 * eps * gamma, -0.5 * eps * nbeta
    rmsprop = est.sampler == "rmsprop_sgld"
    V = torch.zeros_like(w) if rmsprop else None  # the running mean square of the gradients
    G = None
    was_training = model.training
    model.eval()
    try:
        for t in range(total):
            if full:
                batch = tensors
            else:
                idx = batches.next().flatten()  # [C·m]
                batch = [x.index_select(0, idx).view(C, m, *x.shape[1:]) for x in tensors]
            grads, loss = step_grad(w, *batch)
            losses[:, t] = loss.detach()
            if full:
                deltas[:, t] = loss.detach() - setup.init_loss
            else:
                with torch.no_grad():
                    deltas[:, t] = loss.detach() - star_loss(star, *batch)
            new = torch.randn(w.shape, generator=g, device=device, dtype=w.dtype)
            if V is None:
                new.mul_(noise).addcmul_(w, keep).addcmul_(star, pull).addcmul_(grads, push)
            else:  # w − (ε/2) G (nβ ∇L + γ (w − w*)) + √(εG) ξ
                V.mul_(est.rmsprop_alpha).addcmul_(grads, grads, value=1 - est.rmsprop_alpha)
                G = V.sqrt().add_(est.rmsprop_eps).reciprocal_()
                drift = (w - star).mul_(gamma).addcmul_(grads, nbeta)
                new.mul_((eps * G).sqrt_()).add_(w).addcmul_(G * drift, eps, value=-0.5)
            if t % est.mala_every == 0:
                accept.append(_mala(step_grad, w, new, grads, loss, batch, star, nbeta, gamma, eps, G))
            w = new
    finally:
        model.train(was_training)
    precond = torch.ones(C, dtype=torch.float64) if G is None else G.double().median(1).values.cpu()
    return _Sampled(
        losses.cpu(), deltas.cpu(), torch.stack(accept).mean(0).cpu(), precond, setup.init_loss,
        setup.init_n, n,
    )  # fmt: skip


def _check_step(epsilon: float, gamma: float, *, name: str = "epsilon") -> None:
    """Refuse ε with εγ >= 4: each step multiplies w − w* by 1 − εγ/2 from the localisation alone,
    plus −(ε nβ/2) ∇²L; where ∇²L has an eigenvalue >= 0 (at any minimum, along any flat direction)
    that factor is <= −1, so the chain does not contract towards w* and diverges."""
    if gamma > 0 and epsilon * gamma >= 4:
        raise AnalysisError(
            f"`{name}` (={epsilon:g}) with `gamma` (={gamma:g}) gives εγ = {epsilon * gamma:g} >= 4: each "
            "SGLD step multiplies w − w* by 1 − εγ/2 <= −1, so the chains must diverge. Use epsilon < "
            f"{4 / gamma:g} (`calibrate_llc` finds the stable range below that)."
        )


def _chain_memory(setup: _Setup, est: LLCEstimator, chains: int) -> int:
    """Bytes the sampler allocates for `chains` chains: :data:`CHAIN_VECTORS` ``[C, P]`` tensors
    of the parameters' dtype and :data:`CHAIN_VECTORS_FLOAT64` of float64, the float64 loss trace
    ``[C, burnin + draws]``, and with minibatches each chain's permutation of the n samples
    (float32 keys, int64 order and argsort's int64 indices) and its gathered batch. The model's
    activations inside the batched gradient are not counted (they depend on the model)."""
    star = setup.flat.star
    P = star.numel()
    vectors = CHAIN_VECTORS + (2 if est.sampler == "rmsprop_sgld" else 0)
    per_chain = P * (vectors * star.element_size() + CHAIN_VECTORS_FLOAT64 * 8)
    per_chain += 8 * (est.n_burnin + est.n_draws)
    if setup.batch_size < setup.n:
        per_chain += 20 * setup.n
        per_chain += setup.batch_size * sum(t[:1].numel() * t.element_size() for t in setup.tensors)
    return chains * per_chain


def _memory_budget(device: torch.device) -> int:
    """Bytes available now on `device` (a GPU's free memory, or the host's)."""
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_memory()


def _check_memory(setup: _Setup, est: LLCEstimator, chains: int, *, what: str) -> None:
    """Refuse, before anything is allocated, `chains` chains whose memory exceeds what the device
    has available now (:func:`_chain_memory`)."""
    need = _chain_memory(setup, est, chains)
    device = setup.device
    budget = _memory_budget(device)
    if need > budget:
        per_chain = _chain_memory(setup, est, 1)
        if per_chain > budget:  # not the chains: one chain's loss trace of burn-in + draws
            steps = est.n_burnin + est.n_draws
            raise MemoryBudgetError(
                f"`n_burnin` + `n_draws` (={steps}): one chain's trace and state need about "
                f"{format_bytes(per_chain)}, over the budget of {format_bytes(budget)} (the memory available "
                f"now on {device}). Sample fewer steps."
            )
        raise MemoryBudgetError(
            f"{what}: {chains} SGLD chains of {setup.flat.star.numel()} parameters need about "
            f"{format_bytes(need)}, over the budget of {format_bytes(budget)} (the memory available now "
            f"on {device}). Use at most "
            f"{budget // per_chain} chains, or sample fewer parameters (`params`)."
        )


def _mala(step_grad, w, new, grads, loss, batch, star, nbeta, gamma, eps, G=None) -> Tensor:
    """``[C]``: min(1, p(w')q(w|w') / p(w)q(w'|w)) with U = nβ L_m + (γ/2)‖w − w*‖² on this batch
    (the Metropolis-adjusted Langevin acceptance, Roberts & Tweedie 1996); with a preconditioner
    `G` the proposals are ``N(w − (ε/2) G ∇U, εG)``, G held fixed within the step."""
    grads_new, loss_new = step_grad(new, *batch)
    nb, e, g = nbeta[:, 0].double(), eps[:, 0].double(), gamma[:, 0].double()

    def potential(p: Tensor, value: Tensor) -> Tensor:
        return nb * value.double() + 0.5 * g * _sq(p - star)

    drift = (w - star).mul_(gamma).addcmul_(grads, nbeta)
    drift_new = (new - star).mul_(gamma).addcmul_(grads_new, nbeta)
    if G is None:
        forward = _sq(new - w + 0.5 * eps * drift) / (2 * e)  # −log q(w'|w)
        backward = _sq(w - new + 0.5 * eps * drift_new) / (2 * e)  # −log q(w|w')
    else:  # the squared norms in the metric G⁻¹
        forward = _sq((new - w + 0.5 * eps * G * drift) / G.sqrt()) / (2 * e)
        backward = _sq((w - new + 0.5 * eps * G * drift_new) / G.sqrt()) / (2 * e)
    log_ratio = potential(w, loss) - potential(new, loss_new) + forward - backward
    return torch.exp(torch.clamp(log_ratio.nan_to_num(-math.inf), max=0.0))


def _summarise(est: LLCEstimator, sampled: _Sampled, chains: Sequence[int], *, nbeta: float,
               epsilon: float, gamma: float | None = None) -> LLCResult:  # fmt: skip
    """The :class:`LLCResult` of the chains `chains` (all run with `nbeta`, `epsilon` and `gamma`,
    by default the estimator's)."""
    gamma = float(est.gamma) if gamma is None else gamma
    rows = list(chains)
    losses, init_loss = sampled.losses[rows], sampled.init_loss
    draws = losses[:, est.n_burnin :]
    per_chain = nbeta * (draws.mean(1) - init_loss)
    excess = losses - init_loss
    divergent = tuple(
        int(c) for c in range(len(rows))
        if not torch.isfinite(losses[c]).all() or bool((excess[c] > est.max_loss_increase).any())
    )  # fmt: skip
    mala = float(sampled.mala[rows].mean())
    # every chain over the threshold, none non-finite: with R̂ good, the stationary distribution's crossings
    every = len(divergent) == len(rows) and bool(torch.isfinite(per_chain).all())
    hot = float(per_chain.mean()) / nbeta if every else None
    # τ = 2/(εγ), with RMSProp's median preconditioner scaling ε
    stepped = epsilon * float(sampled.precond[rows].mean())
    d = diagnose(draws.numpy(), epsilon=stepped, gamma=gamma, n_burnin=est.n_burnin,
                 divergent=len(divergent), mala=mala, hot=hot,
                 deltas=sampled.deltas[rows, est.n_burnin :].numpy())  # fmt: skip
    return LLCResult(
        llc_mean=float(per_chain.mean()),
        llc_std=float(per_chain.std()) if len(rows) > 1 else 0.0,
        llc_per_chain=tuple(float(x) for x in per_chain),
        init_loss=init_loss,
        init_loss_samples=sampled.init_n,
        nbeta=nbeta,
        epsilon=epsilon,
        gamma=gamma,
        n_chains=len(rows),
        n_draws=est.n_draws,
        n_burnin=est.n_burnin,
        batch_size=est.batch_size,
        n_samples=sampled.n,
        divergent_chains=divergent,
        fraction_below_init=float((draws < init_loss).double().mean()),
        mala_acceptance=mala,
        rhat=d.rhat,
        ess_bulk=d.ess_bulk,
        tau=d.tau,
        converged=d.converged,
        verdict=d.verdict,
        sampler=est.sampler,
    )


class _Subspace:
    """The chains' coordinates in a subspace: `star` is 0 (the origin is w*) and `unflatten(z)`
    gives ``{name: p* + Q Z}`` for each parameter in the subspace, Z read from z."""

    def __init__(self, params: dict[str, Tensor], bases: Mapping[str, Tensor], device: torch.device):
        if not isinstance(bases, Mapping) or not bases:
            raise AnalysisError(
                f"`subspace` (={bases!r}) must be a non-empty mapping of parameter names to bases."
            )
        self.names, self.bases, self.centres, self.shapes, self.sizes = [], [], [], [], []
        for name, Q in bases.items():
            if name not in params:
                raise AnalysisError(
                    f"`subspace` names {name!r}, which is no parameter of the model ({sorted(params)})."
                )
            p = params[name]
            if (
                not isinstance(Q, Tensor)
                or Q.ndim != 2
                or Q.shape[0] != p.shape[0]
                or not torch.isfinite(Q).all()
            ):
                raise AnalysisError(
                    f"`subspace[{name!r}]` must be a finite [rows, r] tensor with rows = {p.shape[0]} "
                    f"(the parameter's first dimension); got {getattr(Q, 'shape', type(Q).__name__)}."
                )
            Q = Q.to(device=device, dtype=p.dtype)
            gram = Q.T.double() @ Q.double()
            if not torch.allclose(gram, torch.eye(Q.shape[1], dtype=torch.float64), atol=1e-5):
                raise AnalysisError(f"`subspace[{name!r}]`'s columns must be orthonormal (QᵀQ = I).")
            self.names.append(name)
            self.bases.append(Q)
            self.centres.append(p)
            self.shapes.append((Q.shape[1], *p.shape[1:]))
            self.sizes.append(Q.shape[1] * p[0].numel())
        dtypes = {p.dtype for p in self.centres}
        if len(dtypes) > 1:
            raise AnalysisError(f"the parameters of `subspace` mix dtypes {sorted(map(str, dtypes))}.")
        self.star = torch.zeros(sum(self.sizes), dtype=self.centres[0].dtype, device=device)

    def unflatten(self, z: Tensor) -> dict[str, Tensor]:
        out = {}
        for name, Q, p, shape, part in zip(
            self.names, self.bases, self.centres, self.shapes, z.split(self.sizes)
        ):
            Z = part.view(shape[0], -1)
            out[name] = p + (Q @ Z).view(p.shape)
        return out


class _Flat:
    """The parameters as one flat vector: `star` ``[P]`` (w*) and `unflatten`, its inverse, which
    gives views of a flat vector in the parameters' shapes (inside vmap: of one chain's row)."""

    def __init__(self, params: dict[str, Tensor]):
        dtypes = {p.dtype for p in params.values()}
        if len(dtypes) > 1:
            raise AnalysisError(
                f"`model`'s parameters mix dtypes {sorted(map(str, dtypes))}; the sampler keeps them in "
                "one tensor, so cast the model to one dtype first (model.float() or model.double())."
            )
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        self.star = torch.cat([p.reshape(-1) for p in params.values()])

    def unflatten(self, w: Tensor) -> dict[str, Tensor]:
        return {k: t.view(s) for k, t, s in zip(self.names, w.split(self.sizes), self.shapes)}


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


def _choose(params: dict[str, Tensor], names: Sequence[str] | None) -> set[str]:
    """The parameters to sample: all, or those whose name is in `names` or starts with one of
    them followed by a dot (``"mlp"`` takes ``mlp.hidden.weight``)."""
    if names is None:
        return set(params)
    if isinstance(names, str) or not names:
        raise AnalysisError(f"`params` (={names!r}) must be a non-empty list of parameter names or prefixes.")
    chosen = set()
    for name in names:
        hit = {k for k in params if k == name or k.startswith(name + ".")}
        if not hit:
            known = sorted(params)
            raise AnalysisError(
                f"`params` names {name!r}, which is no parameter (or prefix of one) of {known}."
            )
        chosen |= hit
    return chosen


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is neither NaN nor ±inf."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _sq(x: Tensor) -> Tensor:
    """``[C]``: the squared norm of each row of ``x [C, P]``, in float64."""
    return x.double().pow(2).sum(1)


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


def overrides(
    name: str, given: Mapping[Any, Mapping[str, Any]] | None, keys: Sequence[Any], params: Mapping[str, Any],
    *, what: str,
) -> dict[Any, dict[str, Any]]:  # fmt: skip
    """`given` (``{key: {hyperparameter: value}}``, the argument `name`) checked against `keys` and
    the hyperparameters `params` that may change, as plain dicts; `what` names a key in errors.

    >>> overrides("row_params", {"a": {"epsilon": 1e-5}}, ["a", "b"], {"epsilon": 1e-4}, what="row")
    {'a': {'epsilon': 1e-05}}
    >>> overrides("step_params", {7: {}}, [0, 1], {}, what="checkpoint")
    Traceback (most recent call last):
    nerve.errors.AnalysisError: `step_params` names the checkpoint 7; the checkpoints are [0, 1].
    """
    changed: dict[Any, dict[str, Any]] = {}
    for key, values in (given or {}).items():
        if key not in keys:
            raise AnalysisError(f"`{name}` names the {what} {key!r}; the {what}s are {list(keys)}.")
        unknown = sorted(set(values) - set(params))
        if unknown:
            raise AnalysisError(
                f"`{name}[{key!r}]` sets {unknown}, which are not hyperparameters of the estimator "
                f"that a {what} may change: {sorted(params)}."
            )
        changed[key] = dict(values)
    return changed
