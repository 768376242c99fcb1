"""The algorithm a network learned on a group task, read in the group's irreducible representations.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability") found
that a transformer trained on a+b mod p embeds each input on a few circles (key frequencies),
that each MLP neuron reads one frequency, and that the logits are a sum of
``cos(ω_k(a+b−c))``. Chughtai, Chan & Nanda 2023 ("A toy model of universality") showed the
same for any finite group: key irreps ρ, neurons that each read one ρ, and logits a sum of
characters ``χ_ρ(a·b·c⁻¹)``. :class:`FourierAnalysis` measures all of it on any model of a
group task, one forward pass over the whole domain and one group Fourier transform.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from nerve._estimator import Estimator
from nerve._results import Result
from nerve.analysis.fourier._pairs import GroupTask, cross_entropy, not_a_group_task
from nerve.analysis.fourier._views import ModelView, view
from nerve.analysis.registry import Analysis, Drawing, register
from nerve.errors import AnalysisError
from nerve.groups import FourierTransform
from nerve.tasks import BinaryOperationTask

__all__ = ["ClockPizza", "FourierAnalysis", "FourierResult"]


@dataclass(frozen=True)
class ClockPizza:
    """The two metrics of Zhong et al. 2023 ("The clock and the pizza", §4) for a+b mod p.

    - `gradient_symmetricity`: the mean over sampled triples (a, b, c) of the cosine between
      ``∂Q_abc/∂E_a`` and ``∂Q_abc/∂E_b`` (Q_abc the logit of c on (a, b)). Near 1 for the
      pizza algorithm, whose logits depend on ``E_a + E_b``; lower for the clock. Only defined
      when both inputs share one embedding (the two gradients live in the same space): None
      for a model with separate embeddings W_a and W_b, like Chughtai et al.'s MLP.
    - `distance_irrelevance`: the mean over d of the standard deviation of the correct logit
      over the pairs with ``a − b = d``, divided by its standard deviation over all pairs.
      Near 1 when the distance a − b does not matter (clock), small when it does (pizza).
    """

    gradient_symmetricity: float | None
    distance_irrelevance: float
    n_triples: int


@dataclass(frozen=True)
class FourierResult(Result):
    """What :class:`FourierAnalysis` found; fractions are of variance, per irrep of the group.

    Irreps are indexed as in ``group.irreps()`` (`irreps`, `dims`, `types` give their labels,
    dimensions and Frobenius–Schur types); the trivial irrep, which carries the mean, gets
    fraction 0 everywhere, and fractions over the rest sum to 1.

    **Attributes:**

    - `embeddings`: name (``W_E``, or ``W_a`` and ``W_b``) → fraction of the embedding's
      variance over tokens in each irrep.
    - `unembedding`: the same for ``W_U`` (its rows, one per class).
    - `neuron_irrep`: each hidden neuron's dominant irrep (-1 for a dead neuron); a neuron, a
      function on G × G, counts as reading ρ through its components in ρ⊗1, 1⊗ρ and ρ⊗ρ
      (``cos ωa``, ``cos ωb`` and the products for a cyclic group).
    - `neuron_fraction`: the fraction of that neuron's variance in its dominant irrep (NaN if dead).
    - `neuron_share`: for each irrep, the fraction of live neurons that it dominates.
    - `key_irreps`, `key_rule`: the key irreps and the rule that chose them.
    - `logit_similarity`: cosine between the logits (centred over classes) and ``χ_ρ(t(a,b)·c⁻¹)``.
    - `logit_fractions`: the fraction of logit variance along each character, the square of
      the similarity (the characters are orthogonal, so these add up).
    - `key_logit_fraction`: the sum of `logit_fractions` over the key irreps.
    - `logit_law_fraction`: the fraction of logit variance that is a function of
      ``t(a,b)·c⁻¹`` at all, which bounds the sum of all `logit_fractions` (equal when that
      function is a class function). The rest depends on (a, b, c) otherwise.
    - `key_neuron_fraction`: the fraction of the hidden layer's variance (summed over neurons)
      that reads the key irreps (Chughtai et al.'s "MLP" fraction of variance explained).
    - `loss`, `accuracy`: on the whole domain; `clock_pizza`: for a+b mod p, else None.
    """

    FORMAT = "nerve-fourier/1"

    group: str
    task: str
    irreps: tuple[str, ...]
    dims: tuple[int, ...]
    types: tuple[str, ...]
    embeddings: dict[str, tuple[float, ...]]
    unembedding: tuple[float, ...]
    neuron_irrep: tuple[int, ...]
    neuron_fraction: tuple[float, ...]
    neuron_share: tuple[float, ...]
    key_irreps: tuple[int, ...]
    key_rule: str
    logit_similarity: tuple[float, ...]
    logit_fractions: tuple[float, ...]
    key_logit_fraction: float
    logit_law_fraction: float
    key_neuron_fraction: float
    loss: float
    accuracy: float
    clock_pizza: ClockPizza | None = field(default=None)

    @property
    def key_labels(self) -> tuple[str, ...]:
        return tuple(self.irreps[i] for i in self.key_irreps)

    def clean_neuron_fraction(self, threshold: float = 0.85) -> float:
        """The fraction of live neurons with more than `threshold` of their variance in one irrep."""
        live = [f for f, i in zip(self.neuron_fraction, self.neuron_irrep) if i >= 0]
        return sum(f > threshold for f in live) / max(len(live), 1)

    def clean_share(self, clean: float = 0.5) -> tuple[float, ...]:
        """For each irrep, the fraction of live neurons with more than `clean` of their variance in
        it: what the key rule compares with ``min_share`` (at the analysis' `clean`, 0.5 by default)."""
        return _clean_share(self.neuron_irrep, self.neuron_fraction, len(self.irreps), clean)


def _clean_share(
    dominant: Sequence[int], fraction: Sequence[float], n_irreps: int, clean: float
) -> tuple[float, ...]:
    """Per irrep, the fraction of live neurons (dominant irrep >= 0) holding more than `clean` of
    their variance in it."""
    counts, n_live = [0] * n_irreps, 0
    for i, f in zip(dominant, fraction):
        if i >= 0:
            n_live += 1
            counts[i] += f > clean
    return tuple(c / max(n_live, 1) for c in counts)


class FourierAnalysis(Estimator):
    r"""Read a model of a group task in the irreps of its group (Nanda et al. 2023; Chughtai et al. 2023).

    An irrep ρ is *key* when it is the dominant irrep, with more than `clean` of the
    variance, of at least `min_share` of the live neurons: the circuits the network built,
    counted by the neurons that implement them.

    **Arguments:**

    - `clean`: the fraction of a neuron's variance an irrep must hold for the neuron to count
      towards that irrep being key (default 0.5: a majority).
    - `min_share`: the fraction of live neurons an irrep needs to be key (default 0.02).
    - `n_triples`: triples (a, b, c) sampled for the gradient symmetricity (a+b mod p only).
    - `seed`: for that sample.
    - `batch_size`: pairs per forward pass.

    ``fit(model, task)`` returns ``self`` with ``result_`` (a :class:`FourierResult`) and the
    tensors ``logits_ [|G|, |G|, |G|]`` and ``neurons_ [|G|, |G|, d_hidden]``.

    >>> import torch
    >>> from nerve.models import MLP, MLPConfig
    >>> from nerve.tasks import group_composition
    >>> task = group_composition("S3")
    >>> fa = FourierAnalysis().fit(MLP(MLPConfig(n_vocab=6, n_classes=6), seed=0), task)
    >>> fa.result_.irreps, round(sum(fa.result_.logit_fractions), 6) <= 1
    (('[3]', '[2,1]', '[1,1,1]'), True)
    """

    def __init__(
        self,
        *,
        clean: float = 0.5,
        min_share: float = 0.02,
        n_triples: int = 1000,
        seed: int = 0,
        batch_size: int = 4096,
    ) -> None:
        self.clean = clean
        self.min_share = min_share
        self.n_triples = n_triples
        self.seed = seed
        self.batch_size = batch_size

    @property
    def key_rule(self) -> str:
        """The rule that makes an irrep key, in words, with this analysis' thresholds."""
        return (
            f"an irrep is key when it holds more than {self.clean:g} of the variance of at least "
            f"{self.min_share:g} of the live neurons"
        )

    def _check_params(self) -> None:
        for name in ("clean", "min_share"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise AnalysisError(f"`{name}` (={value!r}) must be in [0, 1).")
        for name in ("n_triples", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AnalysisError(f"`{name}` (={value!r}) must be a positive integer.")

    def fit(self, model: nn.Module | ModelView, task: BinaryOperationTask) -> FourierAnalysis:
        """Analyse `model` (a module, or its :func:`~nerve.analysis.view`) on `task`."""
        self._check_params()
        gt = GroupTask(task)
        v = model if isinstance(model, ModelView) else view(model, n_vocab=task.n_vocab)
        n, G = gt.order, gt.group
        _check_fits(v, task)
        was_training = v.model.training
        v.model.eval()
        try:
            logits, neurons = v.run(gt.pairs, batch_size=self.batch_size)
            clock_pizza = self._clock_pizza(v, gt, logits) if _is_modular_addition(task) else None
        finally:
            v.model.train(was_training)
        self.logits_ = logits.reshape(n, n, n)
        self.neurons_ = neurons.reshape(n, n, -1)
        ft = gt.ft

        embeddings = {name: _spectrum(ft, W.double()) for name, W in v.embeddings.items()}
        unembedding = _spectrum(ft, v.unembedding.double())

        aligned, total_power = neuron_power(self.neurons_, G.irreps(), ft.trivial)  # [r, H], [H]
        by_irrep = _fractions(aligned, total_power, self.neurons_)
        live = ~torch.isnan(by_irrep).any(0)
        dominant = torch.where(live, by_irrep.nan_to_num(-1).argmax(0), -1)
        fraction = torch.where(live, by_irrep.nan_to_num(-1).max(0).values, torch.nan)
        n_live = max(int(live.sum()), 1)
        share = torch.bincount(dominant[live], minlength=len(G.irreps())).double() / n_live
        clean_share = _clean_share(dominant.tolist(), fraction.tolist(), len(G.irreps()), self.clean)
        key = tuple(i for i, x in enumerate(clean_share) if x >= self.min_share)

        centred = self.logits_ - self.logits_.mean(-1, keepdim=True)
        inner, norm2 = gt.character_products(centred)
        total = float((centred**2).sum())
        sim = inner / (norm2.sqrt() * math.sqrt(total)) if total > 0 else torch.full_like(inner, math.nan)
        sim[ft.trivial] = 0.0  # Σ_c χ_1 = |G| is constant in c: centring removes it
        logit_fractions = sim**2

        self.result_ = FourierResult(
            group=G.name,
            task=task.name,
            irreps=tuple(r.label for r in G.irreps()),
            dims=tuple(r.dim for r in G.irreps()),
            types=tuple(r.type for r in G.irreps()),
            embeddings={k: _floats(x) for k, x in embeddings.items()},
            unembedding=_floats(unembedding),
            neuron_irrep=tuple(int(i) for i in dominant),
            neuron_fraction=_floats(fraction),
            neuron_share=_floats(share),
            key_irreps=key,
            key_rule=self.key_rule,
            logit_similarity=_floats(sim),
            logit_fractions=_floats(logit_fractions),
            key_logit_fraction=float(logit_fractions[list(key)].sum()) if key else 0.0,
            logit_law_fraction=gt.law_fraction(self.logits_),
            key_neuron_fraction=float(aligned[list(key)].sum() / total_power.sum()) if key else 0.0,
            loss=cross_entropy(logits, gt.targets),
            accuracy=float((logits.argmax(-1) == gt.targets).double().mean()),
            clock_pizza=clock_pizza,
        )
        return self

    def _clock_pizza(self, v: ModelView, gt: GroupTask, logits: Tensor) -> ClockPizza:
        n = gt.order
        correct = logits.gather(1, gt.targets[:, None]).reshape(n, n)
        shared = len(v.embeddings) == 1
        return ClockPizza(
            gradient_symmetricity(v, n, n_triples=self.n_triples, seed=self.seed, batch_size=self.batch_size)
            if shared
            else None,
            distance_irrelevance(correct),
            self.n_triples,
        )


def gradient_symmetricity(
    v: ModelView, n: int, *, n_triples: int, seed: int, batch_size: int = 4096
) -> float:
    """The mean over `n_triples` uniform triples (a, b, c) of ``cos(∂Q_abc/∂E_a, ∂Q_abc/∂E_b)``
    (Zhong et al. 2023, §4), with inputs and classes below `n`."""
    gen = torch.Generator().manual_seed(seed)
    triples = torch.randint(n, (n_triples, 3), generator=gen)
    cosines = []
    for chunk in triples.split(batch_size):
        ga, gb = v.embedding_gradients(chunk[:, :2], chunk[:, 2])
        cosines.append(torch.nn.functional.cosine_similarity(ga, gb, dim=1))
    return float(torch.cat(cosines).mean())


def distance_irrelevance(correct: Tensor) -> float:
    """``mean_d std{Q(a, b) : a − b ≡ d} / std{Q(a, b)}`` for the correct logits ``Q [p, p]``
    (Zhong et al. 2023, §4; population standard deviations). 1 when ``a − b`` tells nothing
    about Q, 0 when Q is a function of ``a − b``.

    >>> p = 7
    >>> a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    >>> q_pizza, q_clock = torch.cos(2 * torch.pi * (a - b) / p), torch.cos(2 * torch.pi * a / p)
    >>> round(distance_irrelevance(q_pizza), 9), round(distance_irrelevance(q_clock), 9)
    (0.0, 1.0)
    """
    p = correct.shape[0]
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    distance = ((a - b) % p).flatten()
    values = correct.double().flatten()
    by_distance = torch.stack([values[distance == d].std(correction=0) for d in range(p)])
    overall = values.std(correction=0)
    return float(by_distance.mean() / overall) if overall > 0 else math.nan


def neuron_spectrum(neurons: Tensor, irreps, trivial: int) -> Tensor:
    """``[r, H]``: the fraction of each neuron's variance (``neurons [|G|, |G|, H]``, functions of
    the pair) that reads each irrep ρ of G: its components in ρ⊗1, 1⊗ρ and ρ⊗ρ over G × G.

    Components ρ⊗σ with ρ ≠ σ both non-trivial count for no irrep, so a column sums to at
    most 1. Dead neurons (no variance) get NaN.
    """
    return _fractions(*neuron_power(neurons, irreps, trivial), neurons)


def _fractions(aligned: Tensor, total: Tensor, neurons: Tensor) -> Tensor:
    """``aligned / total``, NaN for a neuron whose variance is rounding noise of its values."""
    order = neurons.shape[0]
    noise = (64 * torch.finfo(torch.float64).eps) ** 2 * order**2 * neurons.double().pow(2).sum((0, 1))
    return torch.where(total > noise, aligned / total.clamp_min(1e-300), torch.nan)


def neuron_power(neurons: Tensor, irreps, trivial: int) -> tuple[Tensor, Tensor]:
    """``(aligned [r, H], total [H])``: the variance of each neuron in the components that read
    each irrep (see :func:`neuron_spectrum`), and its whole variance (Plancherel: Σ (h − mean)²)."""
    group = irreps[0].group
    if (group.family or ("",))[0] == "cyclic":
        return _cyclic_neuron_power(neurons.double(), irreps)
    return _group_neuron_power(neurons, irreps, trivial)


def _group_neuron_power(neurons: Tensor, irreps, trivial: int) -> tuple[Tensor, Tensor]:
    """:func:`neuron_power` for any group, with the Fourier transform over G × G."""
    group = irreps[0].group
    ft2 = FourierTransform(group, arity=2)
    power = ft2.power(neurons.double())  # [components of G × G, H]
    total = power.sum(0) - power[ft2.trivial]
    r = len(irreps)
    owner = torch.full((len(ft2.components),), -1)
    for k, comp in enumerate(ft2.components):
        i, j = comp.factors
        if i == j != trivial:
            owner[k] = i
        elif trivial in (i, j) and i != j:
            owner[k] = j if i == trivial else i
    aligned = power.new_zeros(r, power.shape[1])
    keep = owner >= 0
    aligned.index_add_(0, owner[keep], power[keep])
    return aligned, total


def _cyclic_neuron_power(neurons: Tensor, irreps) -> tuple[Tensor, Tensor]:
    """:func:`neuron_power` for C_n by one 2-D FFT, several times faster than the general
    path: the term ``e^{2πi(k a + l b)/n}`` reads frequency |k| when l = ±k or l = 0, and
    frequency |l| when k = 0 (frequencies k and −k make one real irrep)."""
    n = neurons.shape[0]
    power = torch.fft.fft2(neurons, dim=(0, 1)).abs().pow(2) / n**2  # Σ over (k, l) = Σ h²
    k = torch.arange(n)
    k = torch.minimum(k, n - k)  # e^{±2πika/n} make one real irrep
    ka, kb = k[:, None].expand(n, n), k[None, :].expand(n, n)
    owner = torch.where((ka == kb) | (ka == 0) | (kb == 0), torch.maximum(ka, kb), -1).flatten()
    keep = owner > 0
    by_frequency = power.new_zeros(n // 2 + 1, power.shape[-1])
    by_frequency.index_add_(0, owner[keep], power.reshape(n * n, -1)[keep])
    index = {f"k={f}": f for f in range(n // 2 + 1)}
    aligned = by_frequency[[index[rho.label] for rho in irreps]]
    return aligned, power.sum((0, 1)) - power[0, 0]


def _check_fits(v: ModelView, task: BinaryOperationTask) -> None:
    """The model's vocabulary and classes must be the task's: a model trained on another task
    would otherwise index out of range, or be read against the wrong group."""
    sizes = {f"embedding {name}": W.shape[0] for name, W in v.embeddings.items()}
    sizes["unembedding"] = v.unembedding.shape[0]
    wanted = {name: (task.n_classes if name == "unembedding" else task.n_vocab) for name in sizes}
    wrong = {name: size for name, size in sizes.items() if size != wanted[name]}
    if wrong:
        raise AnalysisError(
            f"`model` does not fit `task` ({task.name}: {task.n_vocab} tokens, {task.n_classes} classes): "
            + ", ".join(f"its {name} has {size} rows, not {wanted[name]}" for name, size in wrong.items())
            + ". Analyse a model with the task it was trained on."
        )


def _spectrum(ft: FourierTransform, W: Tensor) -> Tensor:
    """``[r]``: the fraction of the variance of ``W [|G|, d]`` (d functions on G) in each irrep."""
    power = ft.power(W).sum(-1)
    power[ft.trivial] = 0
    total = power.sum()
    return power / total if total > 0 else torch.full_like(power, math.nan)


def _floats(x: Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in x)


def _is_modular_addition(task: BinaryOperationTask) -> bool:
    G = task.group
    return G is not None and (G.family or ("",))[0] == "cyclic" and bool(torch.equal(task.table, G.table))


def _number(x: float | None, fmt: str = ".3g") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _rows(result: FourierResult, drawing: Drawing) -> list[tuple[str, str]]:
    rows = [
        ("group", f"{result.group} ({len(result.irreps)} real irreps)"),
        ("checkpoint analysed", f"step {drawing.run.checkpoints[-1]}"),
        ("accuracy on every pair", _number(result.accuracy, ".2%")),
        ("loss on every pair", _number(result.loss)),
        ("key irreps", ", ".join(result.key_labels) or "none"),
        ("rule for key irreps", result.key_rule),
        ("logit variance along the key characters χ(t(a,b)·c⁻¹)", _number(result.key_logit_fraction, ".1%")),
        ("logit variance that is a function of t(a,b)·c⁻¹", _number(result.logit_law_fraction, ".1%")),
        ("neurons with > 85% of their variance in one irrep", _number(result.clean_neuron_fraction(), ".1%")),
    ]
    for name, fractions in [*result.embeddings.items(), ("W_U", result.unembedding)]:
        share = sum(fractions[i] for i in result.key_irreps)
        rows.append((f"{name} variance in the key irreps", _number(share, ".1%")))
    rows.append(("neuron variance in the key irreps", _number(result.key_neuron_fraction, ".1%")))
    if result.clock_pizza is not None:
        cp = result.clock_pizza
        rows.append(("gradient symmetricity (Zhong et al.)", _number(cp.gradient_symmetricity)))
        rows.append(("distance irrelevance (Zhong et al.)", _number(cp.distance_irrelevance)))
    return rows


def _figures(result: FourierResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.fourier.figures import logits_figure, neurons_figure, spectrum_figure

    return [("spectrum", spectrum_figure(result)), ("neurons", neurons_figure(result)),
            ("logits", logits_figure(result))]  # fmt: skip


FOURIER = register(Analysis(
    name="fourier",
    title="Irreps of the weights, neurons and logits (Nanda et al. 2023; Chughtai, Chan & Nanda 2023)",
    result=FourierResult,
    fit=lambda run, fitted, progress: FourierAnalysis().fit(run.last_model, run.task).result_,
    applies=not_a_group_task,
    figures=_figures,
    rows=_rows,
    order=10,
))  # fmt: skip
