"""Issue 14's training defects, each as its smallest reproduction: nondeterminism with two
threads, a corrupt checkpoint, two writers, NaN where a number is promised, silent defaults."""

import json
import math
import multiprocessing

import pytest
import torch
from test_trainer import TINY  # the trainer tests' small run (tests/training is on sys.path)

from nerve import LockedError, NerveWarning, TrainingError
from nerve._io import exclusive
from nerve.models import MLP, MLPConfig
from nerve.training import (
    PRESETS,
    CheckpointError,
    ConfigError,
    load,
    resume,
    train,
)
from nerve.training._resources import estimate_run


def _files(run_dir):
    return {p.name: p.read_bytes() for p in sorted((run_dir / "checkpoints").glob("step_*.safetensors"))}


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_factored_step_gives_the_same_gradients_every_time_with_two_threads(two_threads):
    # on the old t[x] gather the 20 repeats differed by up to 4e-7 (atomic adds in index_put_)
    model = MLP(MLPConfig(n_vocab=59, n_classes=59, d_embed=128, d_hidden=128), seed=0)
    x = torch.cartesian_prod(torch.arange(59), torch.arange(59))[:1740]

    def grads():
        model.zero_grad()
        model.forward_factored(x).double().logsumexp(-1).sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    first = grads()
    for _ in range(20):
        assert all(torch.equal(a, b) for a, b in zip(first, grads()))


def test_two_demo_runs_with_two_threads_write_the_same_bits(tmp_path, two_threads):
    config = PRESETS["demo"].replace(steps=150)
    train(config, tmp_path / "a")
    train(config, tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 5
    assert [name for name in a if a[name] != b[name]] == []
    assert json.loads((tmp_path / "a" / "config.json").read_text())["threads"] == 2


def test_a_resume_uses_the_threads_the_run_recorded(tmp_path):
    train(TINY, tmp_path / "run", threads=2)
    seen = []
    resume(tmp_path / "run", steps=80, callback=lambda *_: seen.append(torch.get_num_threads()))
    assert set(seen) == {2}
    with pytest.raises(ConfigError, match=r"`threads` \(=1\) differs from the 2 the run .* was trained with"):
        resume(tmp_path / "run", steps=100, threads=1)


def test_a_corrupt_last_checkpoint_is_set_aside_and_the_run_resumes_from_the_one_before(tmp_path):
    straight = train(TINY, tmp_path / "straight")
    train(TINY, tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "step_60.safetensors"
    last.write_bytes(last.read_bytes()[:100])  # truncated
    (tmp_path / "run" / "notes.txt").write_text("mine")
    kept = _files(tmp_path / "run")
    with pytest.warns(
        NerveWarning, match=r"step_60\.safetensors is corrupt; set aside as step_60\.safetensors\.corrupt"
    ):
        train(TINY, tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "run" / "checkpoints" / "step_60.safetensors.corrupt").read_bytes() == kept[
        "step_60.safetensors"
    ]
    now = _files(tmp_path / "run")
    assert all(now[name] == data for name, data in kept.items() if name != "step_60.safetensors")
    assert now == _files(tmp_path / "straight")  # the replayed steps give the same bits
    assert load(tmp_path / "run").metrics() == [
        {**m, "seconds": n["seconds"]} for m, n in zip(straight.metrics(), load(tmp_path / "run").metrics())
    ]


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_zero(tmp_path):
    straight = train(TINY, tmp_path / "straight")
    train(TINY, tmp_path / "run")
    for path in (tmp_path / "run" / "checkpoints").iterdir():
        path.unlink()
    for name in ("state.safetensors", "state.previous.safetensors"):
        (tmp_path / "run" / name).unlink()
    run = train(TINY, tmp_path / "run", resume=True)
    assert _files(tmp_path / "run") == _files(tmp_path / "straight")
    assert [m["step"] for m in run.metrics()] == [m["step"] for m in straight.metrics()]


def _hold_lock(path, ready, release):
    with exclusive(path, "run directory"):
        ready.set()
        release.wait(30)


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    train(TINY, tmp_path / "run")
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path / "run", ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        before = (tmp_path / "run" / "metrics.jsonl").read_text()
        with pytest.raises(LockedError, match=rf"run directory .*run is in use by pid {holder.pid} on "):
            resume(tmp_path / "run", steps=80)
        assert (tmp_path / "run" / "metrics.jsonl").read_text() == before
    finally:
        release.set()
        holder.join()
    resume(tmp_path / "run", steps=80)  # the lock went with its process


def test_the_lock_refuses_a_second_holder_in_the_same_process(tmp_path):
    with (
        exclusive(tmp_path, "sweep directory"),
        pytest.raises(LockedError, match="sweep directory"),
        exclusive(tmp_path, "sweep directory"),
    ):
        pass
    with exclusive(tmp_path, "sweep directory"):  # released on exit
        pass


def test_numbers_that_are_not_numbers_are_refused_when_the_config_is_built():
    for field, value, rule in [
        ("lr", math.inf, r"`lr` \(=inf\) must be a finite number in \(0, 1e\+06\]"),
        ("lr", math.nan, r"`lr` \(=nan\) must be a finite number"),
        ("weight_decay", -1.0, r"`weight_decay` \(=-1.0\) must be a finite number in \[0, 1e\+06\]"),
        ("train_fraction", math.nan, r"`train_fraction` \(=nan\)"),
        ("betas", (0.9, 1.0), r"`betas` \(=\(0.9, 1.0\)\) must be two numbers in \[0, 1\)"),
        ("seed", -1, r"`seed` \(=-1\) must be an integer in \[0, 2\^32\)"),
        ("seed", 10**30, r"`seed` \(=10{30}"),
        ("steps", 10**12, r"schedules 50,000,000,005 checkpoints, more than 100,000; raise checkpoint_every"),
        ("steps", True, r"`steps` \(=True\) must be a positive integer"),
        ("task__kind", "modulr", r"`kind` \(='modulr'\) must be one of \['modular', 'group'"),
        ("model__d_hidden", -1, r"`d_hidden` \(=-1\) must be a positive integer"),
    ]:
        with pytest.raises(ConfigError, match=rule):
            TINY.replace(**{field: value})


def test_a_diverging_run_stops_with_an_error_and_keeps_its_checkpoints(tmp_path, monkeypatch):
    # a loss that turns NaN mid-run (as at too large a rate) stops training; nothing non-finite
    # is written to metrics.jsonl, and the checkpoints before it stay
    original = torch.nn.functional.cross_entropy
    calls = []

    def poisoned(logits, target, *args, **kwargs):
        calls.append(1)
        loss = original(logits, target, *args, **kwargs)
        return loss * math.nan if len(calls) > 30 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    with pytest.raises(TrainingError, match=r"training diverged (at|by) step \d+.*kept\. Lower `lr`"):
        train(TINY, tmp_path / "run")
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert lines and all(math.isfinite(v) for line in lines for v in json.loads(line).values())
    assert (tmp_path / "run" / "checkpoints" / "step_20.safetensors").exists()


def test_a_saved_config_missing_a_field_is_refused_not_defaulted(tmp_path):
    train(TINY, tmp_path / "run")
    path = tmp_path / "run" / "config.json"
    data = json.loads(path.read_text())
    del data["config"]["steps"]
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"TrainConfig fields \['steps'\] are missing"):
        resume(tmp_path / "run")


@pytest.mark.parametrize("dtype", [torch.float64, torch.int32])
def test_a_checkpoint_of_the_wrong_dtype_is_refused_not_cast(tmp_path, dtype):
    from safetensors.torch import load_file, save_file

    train(TINY, tmp_path / "run")
    path = tmp_path / "run" / "checkpoints" / "step_60.safetensors"
    tensors = load_file(str(path))
    if dtype == torch.int32:  # an I32 header over the float32 bytes: same length, other numbers
        tensors = {k: v.view(torch.int32) for k, v in tensors.items()}
    else:
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
    save_file(tensors, str(path))
    with pytest.raises(CheckpointError, match=rf"is {dtype}, the model holds torch.float32"):
        load(tmp_path / "run")


def test_sizes_are_estimated_before_anything_is_written(tmp_path):
    memory, disk = estimate_run(PRESETS["nanda2023"])
    assert 10 * 2**20 < memory < 4 * 2**30 and disk < 2**30
    huge = TINY.replace(task__p=9973, model__d_embed=4096, model__d_hidden=65536, batch_size=None)
    with pytest.raises(ConfigError, match=r"the run needs about [\d.]+ GiB of memory .* more than the"):
        train(huge, tmp_path / "huge")
    assert not (tmp_path / "huge").exists()


def test_an_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"`run_dir` \(.*file\) is a file"):
        train(TINY, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_a_refused_resume_changes_no_file(tmp_path):
    train(TINY, tmp_path / "run", threads=2)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"`threads` \(=1\) differs"):
        resume(tmp_path / "run", steps=100, threads=1)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before
    with pytest.raises(ConfigError, match=r"differs from the one saved .* with more `steps`, to extend"):
        train(TINY.replace(lr=0.5), tmp_path / "run", resume=True)
