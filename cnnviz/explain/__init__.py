"""Attribution maps (Grad-CAM, saliency and friends) and their sanity check.

See :func:`explain` for the methods and :func:`sanity_check` for Adebayo et al.'s test.
"""

from cnnviz.explain.core import Explanation, explain, explain_classes
from cnnviz.explain.layers import CamLayer, cam_layers, default_cam_layer, map_layers
from cnnviz.explain.methods import METHODS, Method, MethodInfo, method_names
from cnnviz.explain.sanity import (
    SanityCheck,
    SanityStep,
    randomization_steps,
    sanity_check,
    similarity,
)

__all__ = [
    "METHODS",
    "CamLayer",
    "Explanation",
    "Method",
    "MethodInfo",
    "SanityCheck",
    "SanityStep",
    "cam_layers",
    "default_cam_layer",
    "explain",
    "explain_classes",
    "map_layers",
    "method_names",
    "randomization_steps",
    "sanity_check",
    "similarity",
]
