"""Sweeps: a grid of runs with results in SQLite, identical under one process and a pool, and a
sweep killed halfway finishes on restart without redoing finished runs."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import nerve
from nerve.analysis.fourier.universality import key_labels
from nerve.sweep import load_spec, run_sweep, summary
from nerve.training.config import ConfigError

TINY = {
    "base": {"task": {"kind": "modular", "p": 7}, "model": {"kind": "mlp", "d_embed": 8, "d_hidden": 16},
             "steps": 40, "eval_every": 10, "checkpoint_every": 10, "train_fraction": 0.5},
    "grid": {"seed": [0, 1, 2, 3], "lr": [1e-3, 3e-3]},
    "analyses": ["train", "fourier"],
}  # fmt: skip


def results(rows):
    return {(r["run_id"], r["analysis"]): r["result"] for r in rows}


# Oracles for a+b mod p, written from the definitions with explicit trigonometric functions in
# numpy (nerve's analysis uses a 2-D FFT and its group Fourier transform; neither is used here).


def _on_every_pair(run):
    """The neurons (post-ReLU) ``[p, p, H]`` and logits ``[p, p, p]`` of a run's last checkpoint."""
    p = run.task.group.order
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    pairs = torch.tensor(np.stack([a.ravel(), b.ravel()], 1))
    captured = []
    hook = run.model.act.register_forward_hook(lambda module, inputs, output: captured.append(output))
    with torch.no_grad():
        logits = run.model(pairs)
    hook.remove()
    return captured[0].double().numpy().reshape(p, p, -1), logits.double().numpy().reshape(p, p, p)


def oracle_key_frequencies(run, clean=0.5, min_share=0.02):
    """Frequency k is key when more than `clean` of the variance of at least `min_share` of the live
    neurons lies in the span of cos/sin(ωka), cos/sin(ωkb) and their four products."""
    neurons, _ = _on_every_pair(run)
    p = neurons.shape[0]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    centred = neurons - neurons.mean((0, 1))
    total = (centred**2).sum((0, 1))
    live = total > 1e-20 * max(total.max(), 1e-300)
    owned = {}
    for k in range(1, (p - 1) // 2 + 1):
        w = 2 * np.pi * k / p
        ca, sa, cb, sb = np.cos(w * a), np.sin(w * a), np.cos(w * b), np.sin(w * b)
        span = [ca, sa, cb, sb, ca * cb, ca * sb, sa * cb, sa * sb]  # orthogonal on the p x p grid
        owned[k] = sum((np.tensordot(f, centred, 2)) ** 2 / (f**2).sum() for f in span) / np.where(
            live, total, 1
        )
    counts = {k: int(((share > clean) & live).sum()) for k, share in owned.items()}
    return [f"k={k}" for k, n in counts.items() if n / max(live.sum(), 1) >= min_share]


def oracle_logit_fractions(run):
    """Each frequency's share of the logit variance (centred over c) along 2cos(ωk(a+b-c))."""
    _, logits = _on_every_pair(run)
    p = logits.shape[0]
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    centred = logits - logits.mean(-1, keepdims=True)
    out = {}
    for k in range(1, (p - 1) // 2 + 1):
        x = 2 * np.cos(2 * np.pi * k * (a + b - c) / p)
        out[f"k={k}"] = (centred * x).sum() ** 2 / ((x**2).sum() * (centred**2).sum())
    return out


def test_a_grid_of_eight_runs_gives_the_same_table_in_one_process_and_in_a_pool(tmp_path):
    spec = load_spec(TINY)
    assert len(spec.configs) == 8 and spec.grid_keys == ("seed", "lr")
    one = run_sweep(spec, tmp_path / "one", workers=1)
    pool = run_sweep(spec, tmp_path / "pool", workers=2)
    assert len(one) == 16 and results(one) == results(pool)
    assert {r["analysis"] for r in one} == {"train", "fourier"}
    for row in (r for r in one if r["analysis"] == "fourier"):
        # each row is the Fourier analysis' result, whose key irreps the oracle finds in the model
        assert row["result"]["format"] == "nerve-fourier/1"
        run = nerve.load(tmp_path / "one" / "runs" / row["run_id"])
        assert key_labels(row["result"]) == oracle_key_frequencies(run)
    assert any(key_labels(r["result"]) for r in one if r["analysis"] == "fourier")  # not all empty
    assert results(summary(tmp_path / "one")) == results(one)


@pytest.mark.slow  # starting a local Ray cluster takes ~10 s of the default run's three minutes
def test_the_same_sweep_on_a_local_ray_cluster_gives_the_same_table(tmp_path):
    pytest.importorskip("ray")
    spec = load_spec(TINY)
    local = run_sweep(spec, tmp_path / "local")
    on_ray = run_sweep(spec, tmp_path / "ray", ray_address="local")
    assert len(on_ray) == 16 and results(on_ray) == results(local)


def test_a_killed_sweep_restarts_without_redoing_finished_runs(tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({**TINY, "base": {**TINY["base"], "steps": 300}}))
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "nerve", "sweep", str(spec_file), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    finished = 0
    while time.time() < deadline and finished < 3:
        time.sleep(0.2)
        if (out / "sweep.sqlite").exists():
            try:
                with sqlite3.connect(out / "sweep.sqlite") as db:
                    finished = db.execute("SELECT COUNT(DISTINCT run_id) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {(r["run_id"], r["analysis"]): r["finished"] for r in summary(out)}
    assert 3 <= len({k[0] for k in before}) < 8  # killed halfway
    after = run_sweep(load_spec(spec_file), out)
    assert len({r["run_id"] for r in after}) == 8
    for r in after:  # the finished runs were not redone: their rows are untouched
        if (r["run_id"], r["analysis"]) in before:
            assert r["finished"] == before[(r["run_id"], r["analysis"])]
    fresh = run_sweep(load_spec(spec_file), tmp_path / "fresh")
    assert results(after) == results(fresh)  # resuming loses nothing and changes nothing


def test_spec_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"grid key 'task.q' is not a config field"):
        load_spec({**TINY, "grid": {"task.q": [1]}})
    with pytest.raises(ConfigError, match=r"`analyses` names \['topology'\]"):
        load_spec({**TINY, "analyses": ["topology"]})
    with pytest.raises(ConfigError, match=r"`base` \(='nanda2024'\) must be a preset"):
        load_spec({"base": "nanda2024"})
    with pytest.raises(ConfigError, match=r"holds no sweep"):
        summary(tmp_path)


def test_the_learning_order_rows_and_the_universality_page(tmp_path):
    from typer.testing import CliRunner

    from nerve.cli import app
    from nerve.sweep import learning_orders, logit_key_counts

    spec = {**TINY, "grid": {"seed": [0, 1]}, "analyses": ["fourier", "learning_order"]}
    table = run_sweep(load_spec(spec), tmp_path)
    got = results(table)
    for rid in {r["run_id"] for r in table}:
        order = got[(rid, "learning_order")]
        assert order["steps"] == list(nerve.load(tmp_path / "runs" / rid).checkpoints)  # every checkpoint
        assert order["key_irreps"][-1] == key_labels(got[(rid, "fourier")])  # the last is the final analysis
        assert sorted(order["order"]) == sorted(order["key_irreps"][-1])
        logged = [(m["step"], m["test_acc"]) for m in nerve.load(tmp_path / "runs" / rid).metrics()]
        assert order["generalised_at"] == next((s for s, a in logged if a >= 0.99), None)
    orders = learning_orders(table)
    assert [o["seed"] for o in orders] == [0, 1]
    # the logit rule: in how many runs an irrep has >= threshold of the final logit variance,
    # the variance measured by the oracle on each run's final model
    finals = [
        oracle_logit_fractions(nerve.load(tmp_path / "runs" / rid)) for rid in {r["run_id"] for r in table}
    ]

    def counted(threshold):
        labels = {label for f in finals for label in f}
        return {x: n for x in labels if (n := sum(f[x] >= threshold for f in finals))}

    half = max(max(f.values()) for f in finals) / 2  # 40 steps learn little: a threshold some reach
    assert logit_key_counts(table) == counted(0.05) and logit_key_counts(table, half) == counted(half) != {}
    assert logit_key_counts(table, threshold=1.0) == {}
    with pytest.raises(
        nerve.AnalysisError, match=r"`threshold` \(=0\) must be a share of variance in \(0, 1\]"
    ):
        logit_key_counts(table, threshold=0)
    out = CliRunner().invoke(app, ["sweep", "summary", str(tmp_path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "seed 0" in out.output and "learned its key irreps in the order" in out.output
    assert "irreps with >= 0.05 of the final logit variance: " in out.output
    page = (tmp_path / "universality.html").read_text()
    assert "Universality across 2 runs of C7" in page and "figure-learning-order" in page
    for o in orders:
        assert o["run_id"] in page


ONE = {**TINY, "grid": {"seed": [0]}, "analyses": ["train"]}


def test_a_restart_sets_a_corrupt_checkpoint_aside_and_deletes_nothing(tmp_path):
    out = tmp_path / "sweep"
    (row,) = run_sweep(load_spec(ONE), out)
    run_dir = out / "runs" / row["run_id"]
    good = {p.name: p.read_bytes() for p in (run_dir / "checkpoints").iterdir()}
    last = run_dir / "checkpoints" / "step_40.safetensors"
    last.write_bytes(b"\x00" * 64)  # as if the disk lost it
    (run_dir / "mine.txt").write_text("the user's own file")
    with sqlite3.connect(out / "sweep.sqlite") as db:  # as if killed before its row was recorded
        db.execute("DELETE FROM results")
    with pytest.warns(nerve.NerveWarning, match=r"step_40\.safetensors is corrupt; set aside"):
        (again,) = run_sweep(load_spec(ONE), out)
    assert again["result"] == row["result"]
    assert (run_dir / "mine.txt").read_text() == "the user's own file"
    assert (run_dir / "checkpoints" / "step_40.safetensors.corrupt").read_bytes() == b"\x00" * 64
    assert {p.name: p.read_bytes() for p in (run_dir / "checkpoints").glob("step_*.safetensors")} == good


def test_a_repeated_grid_point_is_trained_once(tmp_path):
    counts = []
    table = run_sweep(load_spec({**ONE, "grid": {"seed": [0, 0]}}), tmp_path / "sweep",
                      progress=lambda _, done, total: counts.append((done, total)))  # fmt: skip
    assert counts == [(1, 1)] and len({r["run_id"] for r in table}) == 1


def test_a_second_sweep_into_the_same_directory_is_refused(tmp_path):
    from nerve._io import exclusive

    with (
        exclusive(tmp_path / "sweep", "sweep directory"),
        pytest.raises(nerve.LockedError, match=r"sweep directory .*sweep is in use by pid \d+"),
    ):
        run_sweep(load_spec(ONE), tmp_path / "sweep")
    assert not (tmp_path / "sweep" / "runs").exists()


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", r"is not JSON"),
        (b"\x80\x04\x95 pickle", r"is not JSON"),
        (b'{"base": ', r"is not JSON"),
        (b"[1, 2]", r"must be a JSON object"),
        (b'{"analyses": "fourier"}', r"`analyses` \(='fourier'\) must be a list"),
    ],
)
def test_a_spec_file_that_is_not_a_spec_is_refused(tmp_path, content, rule):
    (tmp_path / "spec.json").write_bytes(content)
    with pytest.raises(ConfigError, match=rule):
        load_spec(tmp_path / "spec.json")


def test_a_file_that_is_not_a_sweep_table_is_refused_not_overwritten(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(ConfigError, match=r"sweep\.sqlite is not a nerve sweep database"):
        summary(tmp_path / "sweep")
    with pytest.raises(ConfigError, match=r"sweep\.sqlite is not a nerve sweep database"):
        run_sweep(load_spec(ONE), tmp_path / "sweep")
    assert (tmp_path / "sweep" / "sweep.sqlite").read_bytes() == b"not a database at all" * 10


def test_an_address_where_no_cluster_answers_is_refused_not_waited_on(tmp_path):
    with pytest.raises(ConfigError, match=r"`ray_address` \(='127.0.0.1:1'\): no Ray cluster answers there"):
        run_sweep(load_spec(ONE), tmp_path / "sweep", ray_address="127.0.0.1:1")
    assert not (tmp_path / "sweep").exists()


def test_a_sweep_run_twice_with_two_threads_gives_the_same_table(tmp_path):
    # the demo model with two threads: on the old factored gather its losses differed from step 1
    from nerve.training import torch_threads

    spec = load_spec(
        {"base": "demo", "grid": {"seed": [0], "steps": [100]}, "analyses": ["train", "fourier"]}
    )
    with torch_threads(2):
        first, second = run_sweep(spec, tmp_path / "a"), run_sweep(spec, tmp_path / "b")
    assert results(first) == results(second) and len(first) == 2
