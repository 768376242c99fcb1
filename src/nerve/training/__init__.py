"""Training runs: frozen configs, a deterministic resumable trainer, and run directories.

>>> from nerve.training import PRESETS
>>> PRESETS["nanda2023"].task.p, PRESETS["nanda2023"].train_fraction
(113, 0.3)
"""

from nerve.training.config import (
    PRESETS,
    ConfigError,
    ModelConfig,
    TaskConfig,
    TrainConfig,
    make_model,
    make_task,
)
from nerve.training.run import CheckpointError, Run, RunDir, load, thin
from nerve.training.trainer import resume, schedule, torch_threads, train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "ModelConfig",
    "Run",
    "RunDir",
    "TaskConfig",
    "TrainConfig",
    "load",
    "make_model",
    "make_task",
    "resume",
    "schedule",
    "thin",
    "torch_threads",
    "train",
]
