"""The trainer: resume reproduces an uninterrupted run, bad files are named, nothing is unpickled."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import nerve
from nerve.training import (
    PRESETS,
    CheckpointError,
    ConfigError,
    ModelConfig,
    TaskConfig,
    TrainConfig,
    load,
    resume,
    schedule,
    thin,
    train,
)

TINY = TrainConfig(
    task=TaskConfig(kind="modular", p=11),
    model=ModelConfig(kind="mlp", d_embed=8, d_hidden=16),
    steps=60,
    lr=3e-3,
    train_fraction=0.5,
    eval_every=10,
    checkpoint_every=20,
    checkpoint_log_points=3,
)


def _weights(run):
    return {k: v.clone() for k, v in run.model.state_dict().items()}


def _interrupt_at(step):
    def callback(done, total, metrics):
        if done == step:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize(
    "config",
    [
        TINY,
        TINY.replace(batch_size=16),
        TINY.replace(
            model__kind="transformer", model__d_model=8, model__n_heads=2, model__d_head=4, model__d_mlp=16
        ),
        TINY.replace(
            task__kind="superposition",
            task__n_features=6,
            model__kind="superposition",
            model__n_hidden=2,
            batch_size=32,
        ),
    ],
    ids=["full-batch", "minibatch", "transformer", "superposition"],
)
def test_resume_after_an_interrupt_gives_exactly_the_uninterrupted_weights(tmp_path, config):
    straight = train(config, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", callback=_interrupt_at(33))  # last checkpoint: step 20
    resumed = resume(tmp_path / "cut")
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.checkpoints == straight.checkpoints
    # metrics are not duplicated by the replayed steps
    steps = [m["step"] for m in resumed.metrics()]
    assert steps == [m["step"] for m in straight.metrics()] == list(range(0, 61, 10))
    seconds = [m["seconds"] for m in resumed.metrics()]
    assert seconds == sorted(seconds)  # elapsed time carries over the resume
    keys = ("train_loss", "test_loss")
    assert [[m.get(k) for k in keys] for m in resumed.metrics()] == [
        [m.get(k) for k in keys] for m in straight.metrics()
    ]


def _cli(args, env):
    return [sys.executable, "-m", "nerve", "train", *args]


def test_resume_after_a_kill_of_the_command(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100"}
    args = [
        "--task",
        "modadd",
        "--p",
        "23",
        "--model",
        "mlp",
        "--steps",
        "2000",
        "--train-fraction",
        "0.5",
        "--seed",
        "3",
    ]
    # the uninterrupted run in this process: the config those flags make, with the one thread the
    # command gets (the run records it, and the same count gives the same bits)
    straight = TrainConfig().replace(
        task__kind="modular", task__p=23, model__kind="mlp", steps=2000, train_fraction=0.5, seed=3
    )
    train(straight, tmp_path / "straight", threads=1)
    proc = subprocess.Popen(
        _cli([*args, "--out", str(tmp_path / "killed")], env),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = tmp_path / "killed" / "checkpoints" / "step_1000.safetensors"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists(), "the run did not reach its first regular checkpoint"
    assert not (tmp_path / "killed" / "checkpoints" / "step_2000.safetensors").exists()
    done = subprocess.run(
        _cli(["--resume", str(tmp_path / "killed")], env), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    a, b = load(tmp_path / "straight"), load(tmp_path / "killed")
    assert a.config == b.config
    assert all(torch.equal(a.model.state_dict()[k], b.model.state_dict()[k]) for k in a.model.state_dict())


def test_run_directory_layout_and_config_round_trip(tmp_path):
    run = train(TINY, tmp_path / "run")
    assert run.checkpoints == tuple(schedule(TINY)) == (0, 1, 8, 20, 40, 60)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["nerve_version"] == nerve.__version__
    assert TrainConfig.from_dict(saved["config"]) == TINY
    assert run.metrics()[-1]["train_acc"] >= run.metrics()[0]["train_acc"]
    torch.testing.assert_close(
        run.model_at(60).state_dict()["hidden.weight"], run.model.state_dict()["hidden.weight"]
    )
    with pytest.raises(CheckpointError, match=r"has no checkpoint at step 7; it has \[0, 1, 8, 20, 40, 60\]"):
        run.model_at(7)


def test_a_truncated_checkpoint_is_reported_not_loaded(tmp_path):
    train(TINY, tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "step_60.safetensors"
    last.write_bytes(last.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"step_60.safetensors is corrupt or truncated"):
        load(tmp_path / "run")


def test_a_checkpoint_that_does_not_fit_the_config_is_named(tmp_path):
    train(TINY, tmp_path / "run")
    path = tmp_path / "run" / "config.json"
    saved = json.loads(path.read_text())
    saved["config"]["model"]["d_hidden"] = 32
    path.write_text(json.dumps(saved))
    with pytest.raises(
        CheckpointError,
        match=r"step_60.safetensors does not match the model: hidden.weight has shape \(16, 16\)",
    ):
        load(tmp_path / "run")


def test_a_pickle_is_never_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "exploited",))

    train(TINY, tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "step_60.safetensors").write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(CheckpointError, match=r"step_60\.safetensors is corrupt or truncated"):
        load(tmp_path / "run")
    assert not (tmp_path / "exploited").exists()


def test_bad_configs_and_directories(tmp_path):
    with pytest.raises(ConfigError, match=r"`steps` \(=0\) must be a positive integer"):
        TINY.replace(steps=0)
    with pytest.raises(ConfigError, match=r"unknown TrainConfig fields \['stepz'\]"):
        TrainConfig.from_dict({**TINY.to_dict(), "stepz": 3})
    with pytest.raises(ConfigError, match="does not fit task"):
        train(TINY.replace(model__kind="superposition"), tmp_path / "x")
    train(TINY, tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run; resume it or choose another directory"):
        train(TINY, tmp_path / "run")
    with pytest.raises(CheckpointError, match="is not a run directory"):
        load(tmp_path / "nowhere")


def test_presets_are_the_published_setups():
    nanda, chughtai = PRESETS["nanda2023"], PRESETS["chughtai2023"]
    assert (nanda.task.p, nanda.train_fraction, nanda.batch_size, nanda.lr, nanda.weight_decay) == (
        113,
        0.3,
        None,
        1e-3,
        1.0,
    )
    assert (nanda.betas, nanda.warmup_steps, nanda.steps) == ((0.9, 0.98), 10, 40_000)
    assert (nanda.model.d_model, nanda.model.n_heads, nanda.model.d_head, nanda.model.d_mlp) == (
        128,
        4,
        32,
        512,
    )
    assert (chughtai.task.group, chughtai.model.kind, chughtai.train_fraction) == ("S5", "mlp", 0.4)
    assert (chughtai.model.d_embed, chughtai.model.d_hidden, chughtai.lr, chughtai.weight_decay) == (
        256,
        128,
        1e-3,
        1.0,
    )


def test_thinning_keeps_the_ends_and_spreads_the_rest(tmp_path):
    run = train(TINY.replace(steps=200, checkpoint_every=10, checkpoint_log_points=10), tmp_path / "run")
    thinned = thin(tmp_path / "run", tmp_path / "fixture", n_checkpoints=6)
    assert thinned.checkpoints[0] == 0 and thinned.checkpoints[-1] == 200
    assert 4 <= len(thinned.checkpoints) <= 8 and set(thinned.checkpoints) <= set(run.checkpoints)
    assert any(s <= 10 for s in thinned.checkpoints[1:]) and any(50 <= s < 200 for s in thinned.checkpoints)
    assert not (tmp_path / "fixture" / "state.safetensors").exists()
    assert torch.equal(thinned.model.state_dict()["hidden.weight"], run.model.state_dict()["hidden.weight"])
    assert thinned.metrics() == run.metrics()


def test_extending_a_finished_run_gives_the_weights_of_the_longer_run(tmp_path):
    longer = train(TINY.replace(steps=90), tmp_path / "long")
    train(TINY, tmp_path / "short")
    extended = resume(tmp_path / "short", steps=90)
    assert extended.config.steps == 90 and extended.checkpoints[-1] == 90
    a, b = longer.model.state_dict(), extended.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match=r"`steps` \(=10\) cannot shorten the run"):
        resume(tmp_path / "short", steps=10)


def test_a_config_saved_before_n_layers_existed_loads_and_keeps_its_hash():
    """`n_layers` came with the gpt2 model: configs without it are one-layer runs, and a one-layer
    config writes no `n_layers`, so sweep ids (hashes of the dict) and saved configs stay as they were."""
    from nerve.sweep import run_id
    from nerve.training import PRESETS, TrainConfig

    old = PRESETS["nanda2023"].to_dict()
    assert "n_layers" not in old["model"]
    assert TrainConfig.from_dict(old, complete=True) == PRESETS["nanda2023"]
    assert run_id(PRESETS["nanda2023"]) == run_id(TrainConfig.from_dict(old))
    gpt2 = PRESETS["gpt2_addition"].to_dict()
    assert (
        gpt2["model"]["n_layers"] == 2
        and TrainConfig.from_dict(gpt2, complete=True) == PRESETS["gpt2_addition"]
    )
    with pytest.raises(ConfigError, match=r"`n_layers` \(=2\) is the gpt2 model's"):
        PRESETS["nanda2023"].replace(model__n_layers=2)


def test_the_gpt2_preset_builds_a_transformers_model_with_the_tasks_vocabulary_and_equals():
    from nerve.models import GPT2Task
    from nerve.training import PRESETS
    from nerve.training.config import make_model, make_task

    config = PRESETS["gpt2_addition"]
    model = make_model(config.model, make_task(config.task), seed=0)
    assert isinstance(model, GPT2Task) and model.lm.config.vocab_size == 24 and model.lm.config.n_layer == 2
    assert model(torch.tensor([[1, 2]])).shape == (1, 24)


def test_the_fourier_analyses_say_why_they_skip_a_gpt2_run():
    from types import SimpleNamespace

    from nerve.analysis.registry import get
    from nerve.training import PRESETS
    from nerve.training.config import make_task

    config = PRESETS["gpt2_addition"]
    run = SimpleNamespace(config=config, task=make_task(config.task))
    for name in ("fourier", "progress", "circles", "learning_order", "llc_irreps"):
        assert "Hugging Face GPT-2" in get(name).applies(run)
    assert get("llc").applies(run) is None  # the LLC reads any model through the trainer's loss
