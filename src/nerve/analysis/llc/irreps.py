"""The LLC refined by representation: for each key irrep of a group-task model, the local learning
coefficient of the weights restricted to that irrep's Fourier components in the embeddings and
the unembedding (:mod:`nerve.analysis.llc.subspaces`), at every checkpoint: how the model's
complexity at w* is shared among the irreps it uses, and when each part forms."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from nerve._estimator import Estimator, Progress
from nerve._results import Result
from nerve.analysis.llc.estimator import LLCEstimator, overrides
from nerve.analysis.llc.subspaces import irrep_subspace
from nerve.analysis.llc.trajectory import cross_entropy64, no_fixed_dataset, training_data
from nerve.analysis.registry import Analysis, Drawing, checkpoint_steps, register
from nerve.errors import AnalysisError, NerveWarning

__all__ = ["IrrepLLC", "IrrepLLCResult"]


@dataclass(frozen=True)
class IrrepLLCResult(Result):
    """The LLC in each irrep's subspace through training; grids are indexed ``[irrep][checkpoint]``.

    - `steps`; `irreps` (labels; the last is ``"complement"``, every other irrep's part together,
      when the estimator was asked for it) and `dims` (each subspace's dimension per column, d²
      for an irrep of real type); `llc_mean`, `llc_std` (over chains), `converged`.
    - `rhat`, `ess_bulk`, `mala_acceptance`, `verdict`: each estimate's diagnostics and verdict
      (:class:`~nerve.analysis.LLCResult`); empty in a file written before they were kept.
    - `estimator`: the hyperparameters of the :class:`~nerve.analysis.LLCEstimator` used;
      `row_params`: those that differed for some rows, by row label (empty: none did).
    """

    FORMAT = "nerve-llc-irreps/1"

    steps: tuple[int, ...]
    irreps: tuple[str, ...]
    dims: tuple[int, ...]
    llc_mean: tuple[tuple[float, ...], ...]
    llc_std: tuple[tuple[float, ...], ...]
    converged: tuple[tuple[bool, ...], ...]
    estimator: dict[str, float | int | str | None]
    rhat: tuple[tuple[float, ...], ...] = ()
    ess_bulk: tuple[tuple[float, ...], ...] = ()
    mala_acceptance: tuple[tuple[float, ...], ...] = ()
    verdict: tuple[tuple[str, ...], ...] = ()
    row_params: dict[str, dict[str, float | int | str | None]] = field(default_factory=dict)


class IrrepLLC(Estimator):
    """λ̂ in the subspace of each of `irreps` (labels; default: the key irreps of the Fourier
    analysis of the last checkpoint, given to ``fit`` as `fourier`) at each of `steps` (default:
    every checkpoint), each estimate by `estimator` with ``subspace=irrep_subspace(...)``; with
    `complement` (default), one more row: the part of every irrep not among them, so that the rows'
    subspaces together are the whole of the embeddings and unembedding.

    `row_params` (``{row label: {hyperparameter: value}}``) changes the estimator for some rows. The
    rows need not share a step size: on the nanda2023 transformer a key irrep's subspace is nearly
    flat once memorisation has made the training loss small (moving along the frequencies the network
    uses changes the loss by a factor of itself, not by an amount), so at the whole model's ε its
    chains, held only by γ, take ~10⁴ steps to relax, while the complement stays stiff and biases λ̂
    at a step 25 times larger (benchmarks/RESULTS.md, issue 17).

    ``fit(run, fourier=None, progress=None)`` returns ``self`` with ``result_``.
    """

    def __init__(
        self,
        *,
        estimator: LLCEstimator | None = None,
        irreps: Sequence[str] | None = None,
        steps: Sequence[int] | None = None,
        complement: bool = True,
        row_params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.estimator = estimator
        self.irreps = irreps
        self.steps = steps
        self.complement = complement
        self.row_params = row_params

    def fit(self, run: Any, *, fourier: Any = None, progress: Progress | None = None) -> IrrepLLC:
        why = _not_applicable(run)
        if why is not None:
            raise AnalysisError(f"`run` ({run.path}): {why}.")
        group = run.task.group
        if self.irreps is not None:
            labels = tuple(self.irreps)
        elif fourier is not None:
            labels = tuple(fourier.irreps[i] for i in fourier.key_irreps)
        else:
            raise AnalysisError(
                "`irreps` is not given and no Fourier result (`fourier`) names the key irreps."
            )
        steps = checkpoint_steps(run, self.steps)
        base = self.estimator if self.estimator is not None else LLCEstimator()
        params = {k: v for k, v in base.get_params().items() if k not in ("subspace", "params", "device")}
        data = training_data(run)
        # the subspaces depend on the architecture and the group, not on the weights: built once
        first = run.model_at(steps[0])
        subspaces = [irrep_subspace(first, group, label) for label in labels]
        rest = [r.label for r in group.irreps() if r.label not in labels]
        if self.complement and rest:
            subspaces.append(irrep_subspace(first, group, rest))
            labels = (*labels, "complement")
        changed = overrides("row_params", self.row_params, labels, params, what="row")
        fields = ("llc_mean", "llc_std", "converged", "rhat", "ess_bulk", "mala_acceptance", "verdict")
        grids: dict[str, list[list[Any]]] = {f: [[None] * len(steps) for _ in labels] for f in fields}
        for j, step in enumerate(steps):
            model = first if j == 0 else run.model_at(step)
            for i, subspace in enumerate(subspaces):
                est = LLCEstimator(**{**params, **changed.get(labels[i], {})}, subspace=subspace)
                with warnings.catch_warnings():  # one warning for all, below
                    warnings.simplefilter("ignore", NerveWarning)
                    r = est.fit(model, data, loss_fn=cross_entropy64).result_
                for f in fields:
                    grids[f][i][j] = getattr(r, f)
            if progress is not None:
                progress("LLC by irrep", j + 1, len(steps))
        bad = sum(not x for row in grids["converged"] for x in row)
        if bad:
            warnings.warn(
                f"{bad} of {len(labels) * len(steps)} irrep LLC estimates are not converged; calibrate "
                "the estimator (`nerve llc --calibrate`) and give it more draws.",
                NerveWarning,
                stacklevel=2,
            )
        self.result_ = IrrepLLCResult(
            steps=steps,
            irreps=labels,
            dims=tuple(int(next(iter(sub.values())).shape[1]) for sub in subspaces),
            estimator={k: v for k, v in params.items() if not isinstance(v, Tensor)},
            row_params=changed,
            **{f: tuple(map(tuple, grid)) for f, grid in grids.items()},
        )
        return self


def _fit(run: Any, fitted: Any, progress: Any) -> IrrepLLCResult:
    return IrrepLLC().fit(run, fourier=fitted["fourier"], progress=progress).result_


def _not_applicable(run: Any) -> str | None:
    if run.config.model.kind == "gpt2":
        return "its model is a Hugging Face GPT-2, whose embeddings' Fourier subspaces are not read yet"
    if getattr(run.task, "group", None) is None:
        return f"it trains {run.task.name}, which has no group: the LLC by irrep needs a group task"
    return no_fixed_dataset(run)


def _figures(result: IrrepLLCResult, drawing: Drawing) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, dim, mean, std, ok in zip(result.irreps, result.dims, result.llc_mean, result.llc_std,
                                          result.converged):  # fmt: skip
        fig.add_trace(go.Scatter(
            x=list(result.steps), y=list(mean), name=f"{label} (dim {dim} per column)", mode="lines+markers",
            error_y={"type": "data", "array": list(std), "visible": True},
            marker={"symbol": ["circle" if x else "circle-open" for x in ok]},
        ))  # fmt: skip
    drawing.mark(fig)
    fig.update_xaxes(title_text="step")
    # the rows can differ by orders of magnitude (a key irrep's λ̂ near 0 after clean-up beside the
    # complement's tens): a log axis, where every estimate is positive and so can be drawn on one
    positive = all(m > 0 for row in result.llc_mean for m in row)
    fig.update_yaxes(title_text="λ̂ in the irrep's subspace", type="log" if positive else "linear")
    fig.update_layout(title="LLC by irrep: each key irrep's Fourier components (open: not converged)",
                      height=420)  # fmt: skip
    return [("llc-irreps", fig)]


def _rows(result: IrrepLLCResult, drawing: Drawing) -> list[tuple[str, str]]:
    last = ", ".join(f"{label} {row[-1]:.3g}" for label, row in zip(result.irreps, result.llc_mean))
    n_ok = sum(x for row in result.converged for x in row)
    total = len(result.irreps) * len(result.steps)
    return [("LLC by irrep at the last checkpoint", f"{last} ({n_ok} of {total} estimates converged)")]


LLC_IRREPS = register(Analysis(
    name="llc_irreps",
    title="LLC by irrep: the complexity in each key irrep's Fourier components",
    result=IrrepLLCResult,
    fit=_fit,
    applies=_not_applicable,
    needs=("fourier",),
    figures=_figures,
    rows=_rows,
    default=False,  # an LLC per key irrep per checkpoint: `nerve analyze RUN -a llc_irreps`
    order=55,
))  # fmt: skip
