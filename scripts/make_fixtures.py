"""Regenerate the fixture runs in fixtures/: train a preset (or take a finished run) and keep
its final weights and a thinned set of checkpoints, so tests, analyses and benchmarks can
read the published structure without retraining.

    python scripts/make_fixtures.py nanda2023              # trains runs/nanda2023, ~75 min on 2 cores
    python scripts/make_fixtures.py chughtai2023
    python scripts/make_fixtures.py nanda2023 --from-run runs/nanda2023

A run that was interrupted is resumed, not restarted.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from nerve.training import PRESETS, RunDir, load, resume, thin, train

# nanda2023 keeps checkpoints through training so progress measures can be replayed;
# chughtai2023 keeps its first and final weights. Both stay well under 20 MB together.
KEEP = {"nanda2023": 18, "chughtai2023": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=sorted(KEEP))
    parser.add_argument("--from-run", type=Path, help="a finished run of the preset to thin")
    parser.add_argument("--out", type=Path, default=Path("fixtures"))
    args = parser.parse_args()
    config = PRESETS[args.preset]
    run_dir = args.from_run or Path("runs") / args.preset
    if args.from_run is None:
        if RunDir(run_dir).holds_run:
            resume(run_dir, steps=config.steps)  # an interrupted or a shorter run goes on
        else:
            train(config, run_dir)
    run = load(run_dir)
    if run.config != config or run.checkpoints[-1] != config.steps:
        raise SystemExit(
            f"{run_dir} is not a finished {args.preset} run (last checkpoint {run.checkpoints[-1]})."
        )
    target = args.out / args.preset
    shutil.rmtree(target, ignore_errors=True)
    fixture = thin(run_dir, target, n_checkpoints=KEEP[args.preset])
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    last = fixture.metrics()[-1]
    print(f"{target}: {len(fixture.checkpoints)} checkpoints, {size / 1e6:.1f} MB, final {last}")


if __name__ == "__main__":
    main()
