"""The `nerve` command line: help, version, `groups show`, and clean errors."""

import inspect
import json

import pytest
import torch
import typer
from typer.testing import CliRunner

import nerve
from nerve.analysis.llc.calibration import calibrate_llc
from nerve.analysis.llc.estimator import LLCEstimator
from nerve.analysis.llc.trajectory import LLCTrajectory
from nerve.cli import app
from nerve.sweep import run_sweep

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "groups" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"nerve {nerve.__version__}"


def test_groups_show_prints_the_character_table_of_s5():
    result = runner.invoke(app, ["groups", "show", "S5"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Character table of S5 (order 120)" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│ [")}
    # the row of the standard representation [4,1] over classes 1a 2a 2b 3a 4a 5a 6a
    values = [v.strip() for v in rows["[4,1]"].split("│")[3:-1]]
    assert values == ["4", "2", "0", "1", "0", "-1", "-1"]
    assert "(0 1 2 3 4)" in result.output  # the class legend names representatives


def test_groups_show_irreps_of_a4_marks_the_complex_irrep():
    result = runner.invoke(app, ["groups", "show", "A4", "--irreps"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "-0.5+0.866i" in result.output
    assert any("[2,2]" in line and "complex" in line for line in result.output.splitlines())


def test_unknown_group_is_a_clean_error():
    result = runner.invoke(app, ["groups", "show", "X9"])
    assert result.exit_code == 2
    assert "cannot parse group name 'X9'" in result.output
    assert "Traceback" not in result.output


def test_train_writes_a_run_and_refuses_to_overwrite_it(tmp_path):
    args = [
        "train",
        "--task",
        "modadd",
        "--p",
        "7",
        "--model",
        "mlp",
        "--steps",
        "20",
        "--out",
        str(tmp_path / "r"),
    ]
    first = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert "done:" in first.output and (tmp_path / "r" / "checkpoints" / "step_20.safetensors").exists()
    again = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert again.exit_code == 2 and "already holds a run; resume it or choose another --out" in again.output
    assert "training" not in again.output  # refused before any progress bar


def test_an_interrupted_train_says_how_to_resume_and_resuming_finishes_it(tmp_path, monkeypatch):
    import nerve.training

    real_train = nerve.training.train

    def interrupted(config, run_dir, callback=None, **kwargs):
        def stop(step, total, metrics):
            if step == 7:
                raise KeyboardInterrupt

        return real_train(config, run_dir, callback=stop, **kwargs)

    monkeypatch.setattr(nerve.training, "train", interrupted)
    out = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--steps", "20", "--out", str(out)]
    first = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 130 and f"continue with: nerve train --resume {out}" in first.output
    monkeypatch.undo()
    again = runner.invoke(app, ["train", "--resume", str(out)], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert (out / "checkpoints" / "step_20.safetensors").exists()


def test_train_names_a_bad_preset_and_a_bad_prime(tmp_path):
    bad = runner.invoke(
        app, ["train", "--preset", "nanda2024", "--out", str(tmp_path / "x")], env={"COLUMNS": "200"}
    )
    assert (
        bad.exit_code == 2
        and "`--preset` (='nanda2024') must be one of ['chughtai2023', 'demo', 'digits', 'digits_rotated', 'gpt2_addition', 'nanda2023'"
        in bad.output
    )
    prime = runner.invoke(
        app, ["train", "--task", "modadd", "--p", "12", "--out", str(tmp_path / "y")], env={"COLUMNS": "200"}
    )
    assert prime.exit_code == 2 and "`p` (=12) must be a prime" in prime.output
    assert not (tmp_path / "y").exists()


def test_analyze_prints_the_key_numbers_and_where_the_report_is(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "30", "--out", str(run_dir)]
    assert runner.invoke(app, args, env={"COLUMNS": "200"}).exit_code == 0
    result = runner.invoke(app, ["analyze", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "key irreps" in result.output and "logit variance along the key characters" in result.output
    assert f"report: {run_dir / 'report.html'}" in result.output
    assert (run_dir / "analysis" / "fourier.json").exists() and (run_dir / "report.html").exists()


def test_analyze_names_a_directory_that_is_not_a_run(tmp_path):
    result = runner.invoke(app, ["analyze", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"{tmp_path} is not a run directory" in result.output and "Traceback" not in result.output


def test_the_demo_command_trains_analyses_reports_and_reuses_its_run(tmp_path, monkeypatch):
    # the README's first command, on a demo shortened to 300 steps (the whole demo, which groks,
    # is the slow test below): trained, analysed by the default analyses, reported, then reused
    from nerve.training import PRESETS

    monkeypatch.setitem(PRESETS, "demo", PRESETS["demo"].replace(steps=300))
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "analysis").iterdir()) == [
        "circles.json",
        "fourier.json",
        "progress.json",
    ]
    assert nerve.load(out).checkpoints[-1] == 300 and f"report: {out / 'report.html'}" in result.output
    assert "key irreps" in result.output  # the summary's table
    again = runner.invoke(app, ["demo", "--out", str(out)], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "reusing the demo run" in again.output
    monkeypatch.setitem(PRESETS, "demo", PRESETS["demo"].replace(steps=301))
    other = runner.invoke(app, ["demo", "--out", str(out)], env={"COLUMNS": "200"})
    assert other.exit_code == 2 and "holds a run that is not the demo" in other.output


@pytest.mark.slow
def test_demo_trains_groks_and_reports(tmp_path):
    # the README's first command: the small default setup, analysed, with a report
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    fourier = json.loads((out / "analysis" / "fourier.json").read_text())
    assert fourier["accuracy"] >= 0.99 and fourier["key_irreps"]
    assert f"report: {out / 'report.html'}" in result.output
    # the demo groks: train accuracy saturates first, test accuracy reaches 99% much later
    metrics = nerve.load(out).metrics()
    train99 = next(m["step"] for m in metrics if m["train_acc"] >= 0.99)
    test99 = next(m["step"] for m in metrics if m["test_acc"] >= 0.99)
    assert test99 >= 5 * train99 and metrics[-1]["test_acc"] >= 0.99
    # run again: the finished run is reused, not retrained or refused
    again = runner.invoke(app, ["demo", "--out", str(out)], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "reusing the demo run" in again.output


def test_llc_estimates_every_checkpoint_and_adds_its_curve_to_the_report(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "30", "--out", str(run_dir)]
    assert runner.invoke(app, args, env={"COLUMNS": "200"}).exit_code == 0
    llc = ["llc", str(run_dir), "--chains", "2", "--draws", "20", "--batch-size", "8", "--nbeta", "5"]
    result = runner.invoke(app, llc, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    curve = json.loads((run_dir / "analysis" / "llc.json").read_text())
    assert curve["steps"] == list(nerve.load(run_dir).checkpoints) and len(curve["llc_mean"]) == len(
        curve["steps"]
    )
    assert curve["estimator"]["nbeta"] == 5.0 and curve["estimator"]["n_chains"] == 2
    assert "stage boundaries" in result.output
    # 20 draws of 2 chains cannot reach 200 of bulk ESS: every checkpoint says so, and the CLI warns
    assert curve["converged"] == [False] * len(curve["steps"]) and all(
        "bulk ESS" in v for v in curve["verdict"]
    )
    assert "warning: the estimate is not converged at" in result.output and "--calibrate" in result.output
    assert 'id="figure-llc"' in (run_dir / "report.html").read_text() and curve["batched"] is True
    # --no-batched: one checkpoint at a time, the library's looped values to the bit, and the file says so
    assert runner.invoke(app, [*llc, "--no-batched"], env={"COLUMNS": "200"}).exit_code == 0
    looped = json.loads((run_dir / "analysis" / "llc.json").read_text())
    est = LLCEstimator(n_chains=2, n_draws=20, batch_size=8, nbeta=5.0)
    library = LLCTrajectory(estimator=est, batched=False).fit(nerve.load(run_dir)).result_
    assert looped["batched"] is False and tuple(looped["llc_mean"]) == library.llc_mean
    assert looped["llc_mean"] != curve["llc_mean"]  # other random numbers than the batched run
    # --at gives one checkpoint its own sampler and step: the others keep the looped curve's bits
    at = runner.invoke(app, [*llc, "--no-batched", "--at", "30:sampler=rmsprop_sgld,epsilon=1e-5"])
    assert at.exit_code == 0 and "at step 30: sampler rmsprop_sgld, epsilon 1e-05" in at.output, at.output
    own = json.loads((run_dir / "analysis" / "llc.json").read_text())
    assert own["step_params"] == {"30": {"sampler": "rmsprop_sgld", "epsilon": 1e-5}}
    assert own["llc_mean"][:-1] == looped["llc_mean"][:-1] and own["llc_mean"][-1] != looped["llc_mean"][-1]
    for bad, says in [
        (["--at", "last:epsilon=1e-5"], "must name a checkpoint by its step, a whole number"),
        (["--at", "999:epsilon=1e-5"], "`step_params` names the checkpoint 999; the checkpoints are"),
        (["--at", "30:epsilon=-1"], "`epsilon` (=-1.0) must be"),
        (["--at", "30:epsilon=1e-5", "--by-irrep"], "does not apply with --by-irrep or --calibrate"),
    ]:
        refused = runner.invoke(app, [*llc, *bad], env={"COLUMNS": "200"})
        assert refused.exit_code != 0 and says in " ".join(refused.output.split()), (bad, refused.output)
    # --by-irrep at two checkpoints, with the same flags: a row per key irrep and the rest, verdicts;
    # --row gives the complement its own step and draws
    row = ["--row", "complement:epsilon=3e-5,draws=24"]
    by = runner.invoke(app, [*llc, "--by-irrep", "--steps", "0,30", *row], env={"COLUMNS": "200"})
    assert by.exit_code == 0, by.output
    rows = json.loads((run_dir / "analysis" / "llc_irreps.json").read_text())
    assert (
        rows["steps"] == [0, 30] and rows["irreps"][-1] == "complement" and rows["estimator"]["nbeta"] == 5.0
    )
    assert rows["row_params"] == {"complement": {"epsilon": 3e-5, "n_draws": 24}}
    assert "(now 24," in rows["verdict"][-1][0] and "(now 20," in rows["verdict"][0][0]
    assert all(len(means) == 2 for means in rows["llc_mean"]) and not any(map(any, rows["converged"]))
    assert "LLC by irrep" in by.output and "estimates are not converged" in by.output
    assert 'id="figure-llc-irreps"' in (run_dir / "report.html").read_text()
    for bad, says in [
        ("complement", "must read ROW:FLAG=VALUE"),
        ("complement:steps=3", "it may set ['burnin', 'chains'"),
        ("complement:draws=2.5", "draws must be a whole number, not '2.5'"),
        ("complement:epsilon=nan", "epsilon must be a finite number, not 'nan'"),
        ("k=99:epsilon=1e-5", "`row_params` names the row 'k=99'; the rows are"),
    ]:
        refused = runner.invoke(
            app, [*llc, "--by-irrep", "--steps", "0", "--row", bad], env={"COLUMNS": "200"}
        )
        assert refused.exit_code != 0 and says in " ".join(refused.output.split()), (bad, refused.output)
    no_by = runner.invoke(app, [*llc, *row], env={"COLUMNS": "200"})
    assert no_by.exit_code != 0 and "changes a row of --by-irrep" in no_by.output
    missing = runner.invoke(app, [*llc, "--by-irrep", "--steps", "0,999"], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "`steps` (=[0, 999]) must be non-empty checkpoints" in missing.output
    cal = ["llc", str(run_dir), "--calibrate", "--chains", "2", "--draws", "20", "--batch-size", "8",
           "--epsilons", "1e-5,1e-4,1e-3", "--nbetas", "batch,5"]  # fmt: skip
    result = runner.invoke(app, cal, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    sweep = json.loads((run_dir / "analysis" / "llc_calibration.json").read_text())
    assert sweep["epsilons"] == [1e-5, 1e-4, 1e-3] and sweep["nbeta_labels"] == ["batch", "5.0"]
    assert len(sweep["llc_mean"]) == 2 and all(len(row) == 3 for row in sweep["llc_mean"])
    assert "LLC calibration" in result.output and "healthy" in result.output
    assert (
        len(sweep["rhat"]) == 2 and "no stable region" in result.output and "draws per chain" in result.output
    )
    hint = " ".join(result.output.split())  # the hint names every flag of the cell to run
    assert all(flag in hint for flag in ("--epsilon", "--nbeta", "--gamma 100", "--sampler sgld", "--draws"))
    report = (run_dir / "report.html").read_text()
    assert 'id="figure-llc-calibration"' in report and 'id="figure-llc"' in report
    unsorted = runner.invoke(app, [*cal[:3], "--epsilons", "1e-3,1e-4"], env={"COLUMNS": "200"})
    assert unsorted.exit_code == 2 and "`epsilons` (=[0.001, 0.0001]) must be increasing" in unsorted.output
    words = runner.invoke(app, [*cal[:3], "--epsilons", "small"], env={"COLUMNS": "200"})
    assert (
        words.exit_code == 2 and "`--epsilons` (='small') must be numbers separated by commas" in words.output
    )
    crossed = runner.invoke(app, [*cal, "--gammas", "50,100", "--samplers", "sgld,rmsprop_sgld"],
                            env={"COLUMNS": "300"})  # fmt: skip
    assert crossed.exit_code == 0, crossed.output
    sweep = json.loads((run_dir / "analysis" / "llc_calibration.json").read_text())
    assert sweep["gammas"] == [50.0, 50.0, 100.0, 100.0] * 2 and sweep["samplers"][-1] == "rmsprop_sgld"
    assert "γ = 100, rmsprop_sgld" in crossed.output
    hmc = runner.invoke(app, ["llc", str(run_dir), "--sampler", "hmc"], env={"COLUMNS": "200"})
    assert hmc.exit_code == 2 and "`sampler` (='hmc') must be one of ['sgld', 'rmsprop_sgld']" in hmc.output
    bad = runner.invoke(app, ["llc", str(run_dir), "--nbeta", "lots"], env={"COLUMNS": "200"})
    assert (
        bad.exit_code == 2
        and "`nbeta` (='lots') must be a positive number, 'batch' or 'dataset'" in bad.output
    )


def test_prove_writes_a_certificate_that_check_verifies_and_a_tampered_one_fails(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "30", "--out", str(run_dir)]
    assert runner.invoke(app, args, env={"COLUMNS": "200"}).exit_code == 0
    result = runner.invoke(app, ["prove", str(run_dir), "--claim", "accuracy", "--at-least", "0.1"])
    assert result.exit_code == 0, result.output
    cert = run_dir / "proofs" / "accuracy.json"
    data = json.loads(cert.read_text())
    assert data["statement"] == {"at_least": 0.1, "kind": "accuracy"} and data["result"]["n_inputs"] == 49
    assert data["result"]["verdict"] in result.output
    report = (run_dir / "report.html").read_text()
    assert 'id="proofs"' in report and "on at least 0.1 of the inputs of" in report
    ok = runner.invoke(app, ["check", str(cert), str(run_dir)])
    assert ok.exit_code == 0 and "certificate verified on 49 inputs" in ok.output
    data["result"]["n_hold"] += 1
    cert.write_text(json.dumps(data))
    bad = runner.invoke(app, ["check", str(cert), str(run_dir)], env={"COLUMNS": "200"})
    assert bad.exit_code == 1 and "certificate rejected" in bad.output and "n_hold" in bad.output
    wrong = runner.invoke(app, ["prove", str(run_dir), "--claim", "truth"], env={"COLUMNS": "200"})
    assert wrong.exit_code == 2 and "`--claim` (='truth') must be one of" in wrong.output
    missing = runner.invoke(app, ["prove", str(run_dir), "--claim", "margin"], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "`--claim` (='margin') needs --at-least" in missing.output


def test_prove_by_rho_sets_writes_a_compact_certificate_beside_the_exhaustive_one(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "30", "--out", str(run_dir)]
    assert runner.invoke(app, args, env={"COLUMNS": "200"}).exit_code == 0
    result = runner.invoke(app, ["prove", str(run_dir), "--method", "rho_sets"], env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1, 3), result.output
    assert "of the exhaustive proof's FLOPs; ideal margin" in result.output
    cert = run_dir / "proofs" / "correct.rho_sets.json"
    assert json.loads(cert.read_text())["method"].startswith("rho_sets: ")
    # the report draws each certificate's bound against its cost once one is compact
    assert runner.invoke(app, ["prove", str(run_dir)]).exit_code in (0, 1, 3)
    report = (run_dir / "report.html").read_text()
    assert 'id="figure-proofs-frontier"' in report and "of the exhaustive proof&#x27;s)" in report
    ok = runner.invoke(app, ["check", str(cert), str(run_dir)])
    assert ok.exit_code == 0 and "certificate verified on 49 inputs" in ok.output
    bad = runner.invoke(app, ["prove", str(run_dir), "--method", "orbits"], env={"COLUMNS": "200"})
    assert (
        bad.exit_code == 2 and "`method` (='orbits') must be one of ['exhaustive', 'rho_sets']" in bad.output
    )


def test_sweep_runs_a_grid_and_summary_prints_its_table_and_universality(tmp_path):
    spec = tmp_path / "spec.json"
    base = {"task": {"kind": "modular", "p": 7}, "model": {"kind": "mlp", "d_embed": 8, "d_hidden": 16},
            "steps": 20, "eval_every": 10, "checkpoint_every": 10}  # fmt: skip
    spec.write_text(json.dumps({"base": base, "grid": {"seed": [0, 1]}, "analyses": ["fourier"]}))
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 runs x analyses ['train', 'fourier']" in result.output and "2/2 runs done" in result.output
    summary = runner.invoke(app, ["sweep", "summary", str(tmp_path / "s")], env={"COLUMNS": "200"})
    assert summary.exit_code == 0 and "key irreps across runs (universality)" in summary.output
    bad = runner.invoke(app, ["sweep", str(spec)], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "takes one spec file and an --out directory" in bad.output
    threads = torch.get_num_threads()
    one = runner.invoke(app, ["sweep", "run", str(spec), "--out", str(tmp_path / "t"), "--threads", "1"])
    assert one.exit_code == 0, one.output
    assert torch.get_num_threads() == threads  # set for the sweep, given back after
    zero = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "z"), "--threads", "0"])
    assert zero.exit_code == 2 and "`--threads` (=0) must be an integer from 1 to 1024" in zero.output


def test_prove_exits_0_when_proved_1_when_refuted_3_when_undecided(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "5", "--out", str(run_dir)]
    assert runner.invoke(app, args).exit_code == 0
    cases = {
        ("accuracy", "--at-least", "0"): (0, "proved"),
        ("correct",): (1, "refuted"),  # 5 steps learn little of a+b mod 7
        ("robust", "--radius", "1e308"): (3, "undecided"),  # the box overflows float64: no bound
    }
    for (claim, *rest), (code, verdict) in cases.items():
        out = tmp_path / f"{claim}.json"
        result = runner.invoke(app, ["prove", str(run_dir), "--claim", claim, *rest, "--out", str(out)])
        assert result.exit_code == code and result.output.startswith(verdict), result.output
        assert json.loads(out.read_text())["result"]["verdict"] == verdict  # strict JSON, read back


def test_the_trivial_group_has_its_one_irrep():
    result = runner.invoke(app, ["groups", "show", "S1", "--irreps"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "S1 (order 1)" in result.output and "Traceback" not in result.output
    assert any("[1]" in line and "real" in line for line in result.output.splitlines())  # the trivial irrep


def _command(*path: str):
    """The click command under `nerve PATH...`, with its parameters and their defaults."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _default(function, name: str):
    return inspect.signature(function).parameters[name].default


def test_the_llc_flags_default_to_the_librarys_values():
    # one source of truth: a default typed into the CLI would drift from the estimator's again
    flags = {p.name: p.default for p in _command("llc").params}
    names = {"chains": "n_chains", "draws": "n_draws", "burnin": "n_burnin", "epsilon": "epsilon",
             "gamma": "gamma", "nbeta": "nbeta", "batch_size": "batch_size", "seed": "seed"}  # fmt: skip
    assert {flag: flags[flag] for flag in names} == {
        flag: _default(LLCEstimator, f) for flag, f in names.items()
    }
    assert [float(x) for x in flags["epsilons"].split(",")] == list(_default(calibrate_llc, "epsilons"))
    assert flags["nbetas"].split(",") == list(_default(calibrate_llc, "nbetas"))


def test_sweep_is_a_group_of_run_and_summary_and_a_spec_alone_means_run():
    listed = runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "│ run " in listed.output and "│ summary " in listed.output
    workers = next(p for p in _command("sweep", "run").params if p.name == "workers")
    assert workers.default == _default(run_sweep, "workers")
    for words in (
        ["sweep", "run", "spec.json"],
        ["sweep", "spec.json"],
        ["sweep", "--workers", "2", "x.json"],
    ):
        result = runner.invoke(app, words, env={"COLUMNS": "200"})  # no --out: refused before reading
        assert result.exit_code == 2 and "takes one spec file and an --out directory" in result.output
    missing = runner.invoke(app, ["sweep", "summary"], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "`nerve sweep summary` takes one sweep directory" in missing.output


def test_prove_adds_its_certificate_to_the_report_without_refitting(tmp_path):
    run_dir = tmp_path / "r"
    args = ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "30", "--out", str(run_dir)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["analyze", str(run_dir)], env={"COLUMNS": "200"}).exit_code == 0
    saved = {p.name: p.stat().st_mtime_ns for p in (run_dir / "analysis").iterdir()}
    result = runner.invoke(app, ["prove", str(run_dir), "--claim", "accuracy", "--at-least", "0"])
    assert result.exit_code == 0, result.output
    assert {
        p.name: p.stat().st_mtime_ns for p in (run_dir / "analysis").iterdir()
    } == saved  # nothing refitted
    assert 'id="proofs"' in (run_dir / "report.html").read_text()


def test_prove_on_a_run_no_analysis_applies_to_reports_its_proof(tmp_path):
    # sparse parity has no group: no analysis applies, and the page holds the proof alone
    from nerve.training import ModelConfig, TaskConfig, TrainConfig, train

    config = TrainConfig(task=TaskConfig(kind="parity", n_bits=8, k_bits=2),
                         model=ModelConfig(kind="mlp", d_embed=8, d_hidden=16), steps=20, eval_every=10,
                         checkpoint_every=10)  # fmt: skip
    train(config, tmp_path / "parity")
    claim = ["--claim", "accuracy", "--at-least", "0"]
    result = runner.invoke(app, ["prove", str(tmp_path / "parity"), *claim], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    page = (tmp_path / "parity" / "report.html").read_text()
    assert 'id="proofs"' in page and not (tmp_path / "parity" / "analysis").exists()
