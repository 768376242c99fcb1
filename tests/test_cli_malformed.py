"""Every command, given malformed input, ends with exit status 2 and one `error:` line: never a
traceback, and never a file changed outside the command's own output (issue 14).

The cases are generated: bad numbers (0, negative, NaN, ±inf, huge) for every numeric option
where that value is outside the option's rule, and bad files (empty, binary, truncated JSON, a
pickle, JSON of the wrong types) wherever a command reads a file. `test_the_generated_cases_
are_many` states how many there are.
"""

import hashlib
import itertools
import json
import pickle
import shutil

import pytest
from typer.testing import CliRunner

from nerve.cli import app
from nerve.training import ModelConfig, TaskConfig, TrainConfig, train

runner = CliRunner()

HUGE_INT = str(10**30)
BAD_FILES = {
    "empty": b"",
    "binary": bytes(range(256)),
    "truncated": b'{"format": "nerve',
    "pickle": pickle.dumps({"config": {"steps": 3}}),
    "list": b"[1, 2, 3]",
    "string": b'"config"',
    "number": b"1e999",
    "wrong-types": b'{"config": {"steps": "many", "task": []}, "format": 3, "base": 7, "result": "x"}',
}

# option -> the values outside its rule (a value the option accepts is not malformed)
TRAIN = {
    "--p": ["0", "-1", "4", HUGE_INT],
    "--steps": ["0", "-1", HUGE_INT],
    "--lr": ["0", "-1", "nan", "inf", "-inf", "1e308"],
    "--weight-decay": ["-1", "nan", "inf", "1e308"],
    "--train-fraction": ["0", "-1", "nan", "inf", "1e308"],
    "--batch-size": ["0", "-1"],
    "--seed": ["-1", HUGE_INT],
}
LLC = {
    "--chains": ["0", "-1", HUGE_INT],
    "--draws": ["0", "-1", HUGE_INT],
    "--burnin": ["-1", HUGE_INT],
    "--epsilon": ["0", "-1", "nan", "inf", "1e300"],
    "--gamma": ["-1", "nan", "inf", "1e308"],
    "--nbeta": ["0", "-1", "nan", "inf", "often"],
    "--batch-size": ["0", "-1", HUGE_INT],
    "--seed": ["-1", HUGE_INT],
}
PROVE = [
    ["--claim", "sound"],
    *(["--claim", "accuracy", "--at-least", v] for v in ("nan", "inf", "-1", "2", "1e308")),
    *(["--claim", "margin", "--at-least", v] for v in ("nan", "inf", "-inf")),
    *(["--claim", "robust", "--radius", v] for v in ("nan", "inf", "-1")),
    ["--claim", "correct", "--radius", "1"],
    ["--step", "-1"],
    ["--step", HUGE_INT],
]


def _cases() -> list[list[str]]:
    cases = []
    new = ["--task", "modadd", "--p", "7", "--model", "mlp", "--steps", "10", "--out", "{root}/new"]
    for option, values in TRAIN.items():
        for value in values:
            args = [a for i, a in enumerate(new) if option not in (a, new[i - 1] if i else None)]
            cases.append(["train", *args, option, value])
    cases += [
        ["train", "--task", "modular", "--op", "pow", "--p", "7", "--out", "{root}/new"],
        ["train", "--task", "modadd", "--op", "mul", "--p", "7", "--out", "{root}/new"],
        ["train", "--task", "groups", "--out", "{root}/new"],
        ["train", "--task", "group", "--group", "X9", "--out", "{root}/new"],
        ["train", "--task", "group", "--group", "S9", "--out", "{root}/new"],
        ["train", "--model", "resnet", "--out", "{root}/new"],
        ["train", "--preset", "nanda2024", "--out", "{root}/new"],
        ["train", "--task", "modadd", "--p", "7", "--model", "mlp", "--out", "{root}/a-file"],
        ["train", "--resume", "{root}/run", "--lr", "0.5", "--preset", "nanda2023"],
        ["train", "--resume", "{root}/a-file"],
        ["train", "--resume", "{root}/nowhere"],
        *(["train", "--resume", "{root}/run", "--steps", v] for v in ("0", "-1", "5", HUGE_INT)),
        ["demo", "--out", "{root}/a-file"],
        ["demo", "--out", "{root}/run"],
    ]
    for option, values in LLC.items():  # a batch the 24 training pairs hold, so each check is reached
        batch = [] if option == "--batch-size" else ["--batch-size", "8"]
        cases += [["llc", "{root}/run", *batch, option, value] for value in values]
    calibrate = ["llc", "{root}/run", "--batch-size", "8", "--calibrate"]
    cases += [
        *([*calibrate, "--epsilons", v] for v in ("nan,1e-4", "-1", "inf", "a,b", "")),
        [*calibrate, "--nbetas", "often"],
        [*calibrate, "--step", "-1"],
        ["llc", "{root}/sup"],
    ]
    cases += [["prove", "{root}/run", *args] for args in PROVE]
    cases += [["prove", "{root}/sup"], ["prove", "{root}/run", "--out", "{root}/run"]]
    cases += [["sweep", "{root}/spec.json", "--out", "{root}/sweep", "--workers", v] for v in ("0", "-1")]
    cases += [
        ["sweep", "{root}/spec.json", "--out", "{root}/sweep", "--threads", v] for v in ("0", "-1", HUGE_INT)
    ]
    cases += [
        ["sweep", "{root}/spec.json", "--out", "{root}/a-file"],
        ["sweep", "{root}/spec.json"],
        ["sweep", "summary"],
        ["sweep", "summary", "{root}/nowhere"],
        ["sweep", "{root}/nowhere.json", "--out", "{root}/sweep"],
    ]
    for kind in BAD_FILES:
        bad_run = f"{{root}}/bad-run-{kind}"
        cases += [
            ["check", f"{{root}}/bad-{kind}.json", "{root}/run"],
            ["sweep", f"{{root}}/bad-{kind}.json", "--out", "{root}/sweep"],
            ["sweep", "summary", f"{{root}}/bad-sweep-{kind}"],
            ["analyze", bad_run],
            ["prove", bad_run],
            ["llc", bad_run],
            ["train", "--resume", bad_run],
        ]
    cases += [["check", "{root}/cert.json", "{root}/a-file"], ["check", "{root}/run", "{root}/run"]]
    cases += [["analyze", "{root}/sup"], ["analyze", "{root}/a-file"]]
    cases += [["groups", "show", name] for name in ("", "S0", "C0", "D0", "S1000", "X9", "C2x")]
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed")
    train(
        TrainConfig(task=TaskConfig(kind="modular", p=7), model=ModelConfig(kind="mlp", d_embed=8, d_hidden=16),
                    steps=20, eval_every=10, checkpoint_every=10, checkpoint_log_points=0, train_fraction=0.5),
        root / "run",
    )  # fmt: skip
    train(
        TrainConfig(task=TaskConfig(kind="superposition"), model=ModelConfig(kind="superposition"), steps=5,
                    eval_every=5, checkpoint_every=5, checkpoint_log_points=0),
        root / "sup",
    )  # fmt: skip
    (root / "a-file").write_text("not a directory\n")
    (root / "spec.json").write_text(json.dumps({"base": "demo", "grid": {"seed": [0]}}))
    result = runner.invoke(app, ["prove", str(root / "run"), "--out", str(root / "cert.json")])
    assert result.exit_code in (0, 1), result.output
    for kind, content in BAD_FILES.items():
        (root / f"bad-{kind}.json").write_bytes(content)
        shutil.copytree(root / "run", root / f"bad-run-{kind}")
        (root / f"bad-run-{kind}" / "config.json").write_bytes(content)
        (root / f"bad-sweep-{kind}").mkdir()
        (root / f"bad-sweep-{kind}" / "sweep.sqlite").write_bytes(content)
    return root


def _snapshot(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def test_the_generated_cases_are_many():
    assert len(CASES) == len({tuple(c) for c in CASES}) >= 150


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c).replace("{root}/", "") for c in CASES])
def test_malformed_input_is_one_error_line_and_changes_nothing(root, args):
    before = _snapshot(root)
    result = runner.invoke(app, [a.format(root=root) for a in args], env={"COLUMNS": "100"})
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert _snapshot(root) == before


def test_each_numeric_option_is_tried_with_each_kind_of_bad_number():
    kinds = {"0", "-1", "nan", "inf", HUGE_INT, "1e308", "1e300"}
    tried = {v for c in CASES for v in c} & kinds
    assert tried == kinds
    assert {o for c in CASES for o in itertools.islice(c, 1, None) if o.startswith("--")} >= set(TRAIN) | set(
        LLC
    )
