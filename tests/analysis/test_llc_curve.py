"""The LLC through training: the trend-change rule, and the trajectory over a run's checkpoints."""

import json
import math

import pytest
import torch.nn.functional as F

import nerve
from nerve import AnalysisError
from nerve.analysis.llc.estimator import LLCEstimator
from nerve.analysis.llc.trajectory import LLCTrajectory, LLCTrajectoryResult, trend_changes
from nerve.tasks import split_indices
from nerve.training import PRESETS, train


def test_trend_changes_finds_the_turns_and_ignores_wiggles_and_plateaus():
    rise_fall_rise = [1, 2, 4, 8, 9, 6, 3, 2, 2.5, 5, 7]
    assert trend_changes(rise_fall_rise) == (4, 7)
    assert trend_changes([5.0] * 6) == ()  # flat: no stage
    assert trend_changes([0, 1, 2, 3, 3.01, 3.0, 3.02, 4, 5]) == ()  # a wiggle below 5% of the range
    assert trend_changes([0, 10, 0], tolerance=0.05) == (1,)
    assert trend_changes([1, math.nan, 2]) == ()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    config = PRESETS["demo"].replace(task__p=7, steps=40, checkpoint_every=10, eval_every=10)
    return train(config, tmp_path_factory.mktemp("llc") / "run")


def test_the_trajectory_estimates_every_checkpoint_on_the_training_split(small_run):
    est = LLCEstimator(n_chains=2, n_draws=10, batch_size=8, nbeta=5.0)
    curve = LLCTrajectory(estimator=est, batched=False).fit(small_run).result_
    assert curve.steps == small_run.checkpoints
    assert len(curve.llc_mean) == len(curve.llc_std) == len(curve.mala_acceptance) == len(curve.steps)
    assert all(b in curve.steps for b in curve.boundaries)
    assert curve.estimator["n_chains"] == 2 and curve.estimator["nbeta"] == 5.0
    assert LLCTrajectoryResult.from_json(curve.to_json()) == curve
    # the last point is a fresh estimator's answer at the final checkpoint, on the training split
    # and the trainer's float64 cross-entropy, with the same hyperparameters and seed
    inputs, targets = small_run.task.enumerate()
    split = split_indices(len(targets), small_run.config.train_fraction, seed=small_run.config.seed)
    again = LLCEstimator(n_chains=2, n_draws=10, batch_size=8, nbeta=5.0).fit(
        small_run.model_at(small_run.checkpoints[-1]),
        (inputs[split.train], targets[split.train]),
        loss_fn=lambda output, target: F.cross_entropy(output.double(), target),
    )
    assert again.result_.n_samples == round(PRESETS["demo"].train_fraction * 49)
    assert curve.llc_mean[-1] == pytest.approx(again.llc_mean_, rel=1e-12)


def test_batched_checkpoints_are_one_run_each_localised_at_its_own_weights(small_run, monkeypatch):
    import nerve.analysis.llc.trajectory as trajectory

    calls = []
    real = trajectory._run_chains
    monkeypatch.setattr(trajectory, "_run_chains", lambda *a, **k: calls.append(1) or real(*a, **k))
    est = LLCEstimator(n_chains=4, n_draws=200, batch_size=8, nbeta=5.0, epsilon=3e-4)
    steps = (0, 3, 10, 20, 40)
    batched = LLCTrajectory(estimator=est, steps=steps).fit(small_run).result_
    assert len(calls) == 1  # every checkpoint's chains in one run
    looped = LLCTrajectory(estimator=est, steps=steps, batched=False).fit(small_run).result_
    assert batched.steps == looped.steps and batched.llc_mean != looped.llc_mean  # other random numbers
    assert batched.batched is True and looped.batched is False  # the file says which
    # the same estimate up to the sampling noise at every checkpoint, though λ̂ moves ~3x along the run
    for b, sb, lo, sl in zip(batched.llc_mean, batched.llc_std, looped.llc_mean, looped.llc_std):
        assert abs(b - lo) <= 3 * math.hypot(sb, sl) / 2 + 0.05 * abs(lo), (b, lo)
    assert max(looped.llc_mean) > 2 * min(looped.llc_mean)


def test_a_checkpoint_with_its_own_hyperparameters_is_that_estimator_alone(small_run, monkeypatch):
    import nerve.analysis.llc.trajectory as trajectory

    est = LLCEstimator(n_chains=2, n_draws=30, batch_size=8, nbeta=5.0)
    own = {"sampler": "rmsprop_sgld", "epsilon": 1e-5, "n_burnin": 7, "seed": 3}
    steps = (0, 10, 40)
    plain = LLCTrajectory(estimator=est, steps=steps, batched=False).fit(small_run).result_
    curve = (
        LLCTrajectory(estimator=est, steps=steps, batched=False, step_params={10: own}).fit(small_run).result_
    )
    alone = (
        LLCTrajectory(estimator=LLCEstimator(**{**est.get_params(), **own}), steps=[10])
        .fit(small_run)
        .result_
    )
    # looped, the other checkpoints are the plain curve's bits and step 10 the other estimator's
    assert curve.llc_mean == (plain.llc_mean[0], alone.llc_mean[0], plain.llc_mean[2])
    assert curve.rhat[1] == alone.rhat[0] and curve.rhat[1] != plain.rhat[1]
    assert curve.step_params == {10: own} and plain.step_params == {}
    assert curve.estimator == plain.estimator  # the shared hyperparameters are the flags'
    back = LLCTrajectoryResult.from_json(curve.to_json())
    assert back == curve and list(back.step_params) == [10]  # the key reads back as the step, an int
    # batched, the others share one run and the checkpoint with its own hyperparameters has its own
    calls = []
    real = trajectory._run_chains
    monkeypatch.setattr(trajectory, "_run_chains", lambda *a, **k: calls.append(1) or real(*a, **k))
    batched = LLCTrajectory(estimator=est, steps=steps, step_params={10: own}).fit(small_run).result_
    assert len(calls) == 1 and batched.batched is True
    assert batched.llc_mean[1] == alone.llc_mean[0]


@pytest.mark.parametrize(
    "step_params, message",
    [
        (
            {12345: {"epsilon": 1e-5}},
            r"`step_params` names the checkpoint 12345; the checkpoints are \[0, 10",
        ),
        ({10: {"subspace": None}}, r"`step_params\[10\]` sets \['subspace'\], which are not hyperparameters"),
        ({10: {"sampler": "hmc"}}, r"`sampler` \(='hmc'\) must be one of"),
    ],
)
def test_step_params_are_refused_with_the_step_and_the_rule(small_run, step_params, message):
    with pytest.raises(AnalysisError, match=message):
        LLCTrajectory(steps=[0, 10], step_params=step_params).fit(small_run)


def test_the_trajectory_refuses_steps_the_run_does_not_have(small_run):
    with pytest.raises(
        AnalysisError, match=r"`steps` \(=\[12345\]\) must be non-empty checkpoints.*\[12345\] are not among"
    ):
        LLCTrajectory(steps=[12345]).fit(small_run)


def test_sampled_data_has_no_dataset_to_estimate_on(tmp_path):
    config = PRESETS["demo"].replace(task__kind="superposition", model__kind="superposition", steps=2)
    run = train(config, tmp_path / "s")
    with pytest.raises(AnalysisError, match=r"trains on sampled superposition data"):
        LLCTrajectory().fit(nerve.load(run.path))


def test_the_curve_json_is_strict_and_reads_back():
    curve = LLCTrajectoryResult(steps=(0, 10), llc_mean=(1.5, math.nan), llc_std=(0.1, math.inf), divergent_chains=((), (0, 1)),
                     mala_acceptance=(0.9, 0.0), boundaries=(), rule="r", estimator={"epsilon": 1e-4})  # fmt: skip
    text = curve.to_json()
    data = json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token} in JSON"))
    assert data["llc_mean"] == [1.5, None] and data["llc_std"] == [0.1, None]
    back = LLCTrajectoryResult.from_json(text)
    assert back.llc_mean[0] == 1.5 and math.isnan(back.llc_mean[1]) and math.isnan(back.llc_std[1])
    assert back.to_json() == text
