"""The symmetry analysis of a run on images (the handwritten digits): at the last checkpoint, on the
held-out images, each layer's isotypic decomposition and equivariance under D4 (exact, on the
pixel grid) and SO(2) (rotations, bilinear); registered as ``symmetry`` for the report."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nerve._results import Result
from nerve.analysis.registry import Analysis, Drawing, register
from nerve.analysis.symmetry.actions import RotateImage
from nerve.analysis.symmetry.layers import LayerSymmetry, LayerSymmetryResult
from nerve.errors import NerveWarning
from nerve.groups import finite_subgroup, o2, so2
from nerve.tasks import DigitsTask, split_indices

__all__ = ["IMAGE_SITES", "ImageSymmetryResult", "image_symmetry"]

#: The CNN's sites, input side first: post-ReLU maps, the pooled map, the hidden units, the logits.
IMAGE_SITES = ("act1", "act2", "pool", "act", "unembed")


@dataclass(frozen=True)
class ImageSymmetryResult(Result):
    """`step` (the checkpoint), `n_images` (held-out), and one :class:`LayerSymmetryResult` per group:
    `d4` (exact) and `so2` (max degree 4, bilinear)."""

    FORMAT = "nerve-image-symmetry/1"

    step: int
    n_images: int
    d4: LayerSymmetryResult
    so2: LayerSymmetryResult


def image_symmetry(
    run: Any, *, sites: tuple[str, ...] = IMAGE_SITES, max_degree: int = 4
) -> ImageSymmetryResult:
    """The analysis of the last checkpoint of `run` on its held-out images (warnings about a layer's
    principal directions are kept in the result's `captured`, not raised)."""
    images, labels = run.task.enumerate()
    test = split_indices(len(labels), run.config.train_fraction, seed=run.config.seed).test
    model = run.last_model.eval()
    x = images[test]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NerveWarning)
        d4 = LayerSymmetry(RotateImage(finite_subgroup(o2(), "D4")), list(sites)).fit(model, x).result_
        rot = LayerSymmetry(RotateImage(so2()), list(sites), max_degree=max_degree).fit(model, x).result_
    return ImageSymmetryResult(step=run.checkpoints[-1], n_images=len(x), d4=d4, so2=rot)


def _not_images(run: Any) -> str | None:
    if not isinstance(run.task, DigitsTask):
        return f"it trains {run.task.name}, not images: the symmetry analysis rotates its inputs"
    return None


def _figure(result: ImageSymmetryResult, drawing: Drawing) -> go.Figure:
    fig = make_subplots(
        rows=1, cols=3, column_widths=[0.38, 0.38, 0.24],
        subplot_titles=("share of variance per D4 irrep", "per SO(2) frequency", "equivariance error"),
    )  # fmt: skip
    for col, r in ((1, result.d4), (2, result.so2)):
        fig.add_trace(
            go.Heatmap(
                z=[list(f) for f in r.fractions], x=list(r.labels), y=list(r.sites), zmin=0, zmax=1,
                colorscale="Viridis", showscale=col == 2,
                hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>",
            ),
            row=1, col=col,
        )  # fmt: skip
    for name, r in (("D4", result.d4), ("SO(2)", result.so2)):
        fig.add_trace(
            go.Scatter(x=list(r.equivariance_error), y=list(r.sites), mode="markers+lines", name=name),
            row=1, col=3,
        )  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        height=360, title=f"Symmetry of each layer at step {result.step} ({result.n_images} held-out images)"
    )
    return fig


def _rows(result: ImageSymmetryResult, drawing: Drawing) -> list[tuple[str, str]]:
    last = result.so2.sites[-1]
    return [
        (
            f"invariant share of {last} (SO(2) k=0, D4 trivial)",
            f"{result.so2.fractions[-1][0]:.3f}, {result.d4.fractions[-1][0]:.3f}",
        ),
        (
            f"equivariance error of {last} (SO(2), D4)",
            f"{result.so2.equivariance_error[-1]:.3f}, {result.d4.equivariance_error[-1]:.3f}",
        ),
    ]


SYMMETRY = register(Analysis(
    name="symmetry",
    title="Symmetry of each layer: irreps of D4 and SO(2) along the images' orbits",
    result=ImageSymmetryResult,
    fit=lambda run, fitted, progress: image_symmetry(run),
    applies=_not_images,
    figures=lambda result, drawing: [("symmetry", _figure(result, drawing))],
    rows=_rows,
    order=70.0,
))  # fmt: skip
