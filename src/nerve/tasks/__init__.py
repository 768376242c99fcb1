"""What networks are trained on: group composition, modular arithmetic, sparse parity, the
sparse features of Toy Models of Superposition, handwritten digits (with rotations), and the
composition of rotations (SO(2), SO(3)).

>>> from nerve.tasks import modular_arithmetic
>>> inputs, targets = modular_arithmetic(5).enumerate()
>>> inputs[7].tolist(), targets[7].item()
([1, 2], 3)
"""

from nerve.tasks._base import Split, TaskError, split_indices
from nerve.tasks._digits import DigitsTask, rotate_images
from nerve.tasks._group_tasks import OPERATIONS, BinaryOperationTask, group_composition, modular_arithmetic
from nerve.tasks._lie_tasks import LieCompositionTask
from nerve.tasks._sparse_parity import SparseParity, sparse_parity
from nerve.tasks._superposition import SuperpositionData

__all__ = [
    "OPERATIONS",
    "BinaryOperationTask",
    "DigitsTask",
    "LieCompositionTask",
    "SparseParity",
    "Split",
    "SuperpositionData",
    "TaskError",
    "group_composition",
    "modular_arithmetic",
    "rotate_images",
    "sparse_parity",
    "split_indices",
]
