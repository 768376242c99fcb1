"""Conventions checked by the tests, not by review (issue 15): every exception nerve raises is a
`NerveError`, its public error classes live in `nerve.errors`, and the layers below the CLI
name the version without importing the whole package."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import nerve
from nerve.errors import AnalysisError, NerveError

SRC = Path(nerve.__file__).parent

# raises that are not errors a user can cause: control flow caught in the same module, and
# branches that cannot be reached (each named, so a new one is a decision, not an accident)
NOT_USER_ERRORS = {
    ("nerve.cli", "typer.Exit"),  # a command's exit status (nerve.cli.* as well: see below)
    ("nerve.sites._capture", "_DoneError"),  # stops a forward pass once every site is read
    ("nerve.proofs.prove", "AssertionError"),  # a field kind the reader's table does not have
}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "__main__.py":  # importing it runs the command
            continue
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(), filename=str(path))


def _raised(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            yield node.lineno, ast.unparse(exc)


def test_every_raise_in_src_is_a_nerve_error():
    wrong = []
    for name, tree in _modules():
        module = importlib.import_module(name)
        for line, text in _raised(tree):
            command = name.split(".")[:2] == ["nerve", "cli"] and text == "typer.Exit"
            if command or (name, text) in NOT_USER_ERRORS or text in ("err", "error"):  # or a re-raise
                continue
            obj = module
            for part in text.split("."):
                obj = getattr(obj, part, None)
            if not (isinstance(obj, type) and issubclass(obj, NerveError)):
                wrong.append(f"{name}:{line} raises {text}")
    assert wrong == []


def test_public_error_classes_live_in_nerve_errors():
    elsewhere = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and name != "nerve.errors":
                cls = getattr(importlib.import_module(name), node.name, None)
                if isinstance(cls, type) and issubclass(cls, NerveError | Warning):
                    elsewhere.append(f"{name}.{node.name}")
    assert elsewhere == []
    assert set(nerve.errors.__all__) <= set(dir(nerve))  # and every one is exported


def test_training_and_proofs_do_not_import_the_package_for_its_version():
    for name, tree in _modules():
        if name.startswith(("nerve.training", "nerve.proofs")):
            imports = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
            assert "nerve" not in imports, name


RUN_FILES = {"config.json", "metrics.jsonl", "checkpoints", "state.safetensors", "state.previous.safetensors",
             "analysis", "proofs", "report.html"}  # fmt: skip


def _joined_names(tree):
    """The strings joined onto a path with ``/`` (``run / "config.json"``, ``f"{x}.json"``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                yield node.lineno, right.value
            elif isinstance(right, ast.JoinedStr):
                tail = right.values[-1]
                if isinstance(tail, ast.Constant) and isinstance(tail.value, str):
                    yield node.lineno, "{}" + tail.value


def test_only_the_run_directory_object_spells_a_runs_file_names():
    spelled = []
    for name, tree in _modules():
        if name == "nerve.training.run":
            continue
        for line, text in _joined_names(tree):
            if text in RUN_FILES or text.endswith((".json", ".jsonl", ".safetensors", ".html")):
                spelled.append(f"{name}:{line} joins {text!r}")
    # the activation store has its own layout (its index and shards), spelled in its own module, and
    # so has a Hugging Face model folder (config.json, *.safetensors, the prompts nerve writes beside)
    own_layout = ("nerve.sites._store", "nerve.proofs.language")
    assert [s for s in spelled if not s.startswith(own_layout)] == []


def test_nerve_warns_with_its_own_class_and_silences_only_that():
    wrong = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            call = ast.unparse(node.func)
            args = [ast.unparse(a) for a in (*node.args, *(k.value for k in node.keywords))]
            if call == "warnings.warn" and "NerveWarning" not in args:
                wrong.append(f"{name}:{node.lineno} warns without NerveWarning")
            if call in ("warnings.simplefilter", "warnings.filterwarnings") and "NerveWarning" not in args:
                wrong.append(f"{name}:{node.lineno} filters warnings that are not nerve's")
    assert wrong == []


def test_every_estimator_has_get_params_set_params_and_a_repr_of_its_changes():
    from nerve._estimator import Estimator

    classes = {
        obj
        for name, _ in _modules()
        if name.startswith("nerve.analysis")
        for obj in vars(importlib.import_module(name)).values()
        if isinstance(obj, type) and obj.__module__ == name and not obj.__name__.startswith("_")
    }
    estimators = sorted((c for c in classes if callable(getattr(c, "fit", None))), key=lambda c: c.__name__)
    assert len(estimators) >= 7 and all(issubclass(c, Estimator) for c in estimators), estimators
    for cls in estimators:
        default = cls()
        assert repr(default) == f"{cls.__name__}()"
        params = default.get_params()
        assert list(params) == list(inspect.signature(cls.__init__).parameters)[1:]
        assert cls(**params).get_params() == params  # a clone from the parameters
        numbers = [n for n, v in params.items() if isinstance(v, int | float) and not isinstance(v, bool)]
        for name in numbers[:1]:  # ProgressMeasures has none
            changed = default.set_params(**{name: params[name] + 1})
            assert changed is default and repr(changed) == f"{cls.__name__}({name}={params[name] + 1!r})"


def test_set_params_refuses_a_name_the_estimator_does_not_have():
    from nerve.analysis import FourierAnalysis

    with pytest.raises(AnalysisError, match=r"FourierAnalysis has no parameters \['clen'\]; it has \["):
        FourierAnalysis().set_params(clen=0.9)


def test_no_private_name_is_imported_across_packages():
    # what a package keeps private (its _modules and _names) stays inside it: nerve's own private
    # top-level modules (nerve._io, nerve._results, ...) are shared by every layer, and
    # nerve.analysis.fourier._views by the Fourier analyses but not by topology or the LLC
    crossing = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nerve.")):
                continue
            parts = node.module.split(".")
            first = next((i for i, p in enumerate(parts) if p.startswith("_")), None)
            if first is not None:  # a private module: owned by the package above it
                owner = ".".join(parts[:first])
            else:  # a private name of a public module: owned by its package
                is_package = (SRC.parent / Path(*parts) / "__init__.py").is_file()
                owner = node.module if is_package else ".".join(parts[:-1])
            private = [a.name for a in node.names if a.name.startswith("_")]
            if (first is not None or private) and not (name + ".").startswith(owner + "."):
                crossing.append(f"{name} imports {private or ''} from {node.module}")
    assert crossing == []
