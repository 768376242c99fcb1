"""The digits runs: trained by the trainer with and without SO(2) augmentation (bit for bit the
same twice), and the registered symmetry analysis on them: it applies to image runs only, reads
every CNN layer under D4 and SO(2), and round-trips through JSON and the report."""

from pathlib import Path

import pytest
import torch

from nerve.analysis.registry import get
from nerve.analysis.symmetry import IMAGE_SITES, ImageSymmetryResult, image_symmetry
from nerve.training import PRESETS, ConfigError, ModelConfig, TaskConfig, load, make_model, make_task, train


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    out = {}
    for name in ("digits", "digits_rotated"):
        config = PRESETS[name].replace(steps=120, checkpoint_every=60, eval_every=60)
        train(config, root / name)
        out[name] = load(root / name)
    return out


def test_digits_runs_train_and_augmentation_is_reproducible(runs, tmp_path):
    plain, rotated = runs["digits"], runs["digits_rotated"]
    assert plain.metrics()[-1]["test_acc"] > 0.5 and rotated.metrics()[-1]["test_acc"] > 0.3
    train(
        PRESETS["digits_rotated"].replace(steps=120, checkpoint_every=60, eval_every=60), tmp_path / "again"
    )
    again = load(tmp_path / "again")
    assert all(
        torch.equal(a, b)
        for a, b in zip(rotated.last_model.parameters(), again.last_model.parameters(), strict=True)
    )
    assert not torch.equal(plain.last_model.conv1.weight, rotated.last_model.conv1.weight)


def test_the_symmetry_analysis_reads_every_layer_under_d4_and_so2(runs):
    result = image_symmetry(runs["digits_rotated"])
    assert isinstance(result, ImageSymmetryResult) and result.n_images == 539  # 30% of 1,797
    for r in (result.d4, result.so2):
        assert r.sites == IMAGE_SITES
        assert all(sum(f) == pytest.approx(1.0) for f in r.fractions)
        assert all(0 <= e < 1 for e in r.equivariance_error)
    assert result.d4.labels[0] == "trivial" and result.so2.labels[:2] == ("k=0", "k=1")
    assert result.so2.lie_error is not None and result.d4.lie_error is None
    assert ImageSymmetryResult.from_json(result.to_json()) == result


def test_the_symmetry_analysis_applies_to_image_runs_only(runs):
    analysis = get("symmetry")
    assert analysis.applies(runs["digits"]) is None
    nanda = load(Path(__file__).parents[2] / "fixtures" / "nanda2023")
    assert "not images" in analysis.applies(nanda)


def test_the_cnn_goes_with_the_digits_only():
    with pytest.raises(ConfigError, match=r"model `kind` \(='mlp'\) does not fit task 'handwritten digits'"):
        make_model(ModelConfig(kind="mlp"), make_task(TaskConfig(kind="digits")))
    with pytest.raises(ConfigError, match=r"model `kind` \(='cnn'\) does not fit task"):
        make_model(ModelConfig(kind="cnn"), make_task(TaskConfig(kind="modular", p=5)))
