"""Every result nerve writes is JSON, with a NaN or infinite number written as null (bare `NaN`
is not JSON: Python writes it, strict readers refuse it), and reads back (issue 14)."""

import dataclasses
import json
import math

import pytest
import torch

from nerve.analysis import FourierAnalysis, PersistentHomology, ProgressMeasures
from nerve.analysis.fourier.irreps import FourierResult
from nerve.analysis.fourier.progress import ProgressResult
from nerve.analysis.topology.homology import TopologyResult
from nerve.training import ModelConfig, TaskConfig, TrainConfig, train


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"bare {name} in the JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = TrainConfig(task=TaskConfig(kind="modular", p=7), model=ModelConfig(kind="mlp", d_embed=8, d_hidden=16),
                         steps=20, eval_every=10, checkpoint_every=10, checkpoint_log_points=0, train_fraction=0.5)  # fmt: skip
    return train(config, tmp_path_factory.mktemp("run") / "run")


def test_a_fourier_result_with_nan_is_strict_json_and_reads_back(run):
    result = FourierAnalysis().fit(run.model, run.task).result_
    broken = dataclasses.replace(
        result, loss=math.inf, neuron_fraction=(math.nan, *result.neuron_fraction[1:])
    )
    data = _strict(broken.to_json())
    assert data["loss"] is None and data["neuron_fraction"][0] is None
    back = FourierResult.from_json(broken.to_json())
    assert math.isnan(back.neuron_fraction[0]) and back.neuron_fraction[1:] == result.neuron_fraction[1:]


def test_progress_and_topology_results_with_nan_are_strict_json(run):
    progress = ProgressMeasures(key_irreps=("k=1",)).fit(run).result_
    name = next(f.name for f in dataclasses.fields(progress) if isinstance(getattr(progress, f.name), tuple)
                and getattr(progress, f.name) and isinstance(getattr(progress, f.name)[0], float))  # fmt: skip
    values = getattr(progress, name)
    broken = dataclasses.replace(progress, **{name: (math.nan, *values[1:])})
    assert _strict(broken.to_json())[name][0] is None
    assert math.isnan(getattr(ProgressResult.from_json(broken.to_json()), name)[0])

    t = torch.linspace(0, 2 * math.pi, 41)[:-1]
    topology = PersistentHomology().fit(torch.stack([t.cos(), t.sin()], 1)).result_
    broken = dataclasses.replace(topology, total_persistence=(math.nan, *topology.total_persistence[1:]))
    data = _strict(broken.to_json())
    assert data["total_persistence"][0] is None and any(d is None for _, d in data["diagrams"][0])  # inf bar
    back = TopologyResult.from_json(broken.to_json())
    assert math.isnan(back.total_persistence[0]) and back.diagrams == topology.diagrams
