"""Group actions on a model's inputs, and what they do to each of its layers: the isotypic
decomposition along orbits, the equivariance error, and the generator a layer's representation
would have."""

from nerve.analysis.symmetry.actions import Action, RotateImage, RotatePoints, ShiftSequence
from nerve.analysis.symmetry.layers import LayerSymmetry, LayerSymmetryResult
from nerve.analysis.symmetry.run import IMAGE_SITES, ImageSymmetryResult, image_symmetry

__all__ = [
    "IMAGE_SITES",
    "Action",
    "ImageSymmetryResult",
    "LayerSymmetry",
    "LayerSymmetryResult",
    "RotateImage",
    "RotatePoints",
    "ShiftSequence",
    "image_symmetry",
]
