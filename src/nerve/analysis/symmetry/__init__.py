"""Group actions on a model's inputs, and what they do to each of its layers: the isotypic
decomposition along orbits, the equivariance error, and the generator a layer's representation
would have; and the irreps of a compact group that a network trained on its law uses."""

from nerve.analysis.symmetry.actions import Action, RotateImage, RotatePoints, ShiftSequence
from nerve.analysis.symmetry.layers import LayerSymmetry, LayerSymmetryResult
from nerve.analysis.symmetry.lie_tasks import LieFourier, LieFourierResult
from nerve.analysis.symmetry.run import IMAGE_SITES, ImageSymmetryResult, image_symmetry

__all__ = [
    "IMAGE_SITES",
    "Action",
    "ImageSymmetryResult",
    "LayerSymmetry",
    "LayerSymmetryResult",
    "LieFourier",
    "LieFourierResult",
    "RotateImage",
    "RotatePoints",
    "ShiftSequence",
    "image_symmetry",
]
