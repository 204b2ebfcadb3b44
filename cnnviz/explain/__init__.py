"""Attribution maps (Grad-CAM, saliency and friends) and their sanity check; inputs made by
gradient ascent on the image: adversarial examples and activation maximization.

See :func:`explain` for the methods, :func:`sanity_check` for Adebayo et al.'s test,
:func:`attack` (FGSM, PGD) and :func:`maximize` (what a channel looks for).
"""

from cnnviz.explain.adversarial import Attack, AttackMethod, attack, attack_success
from cnnviz.explain.core import Explanation, explain, explain_classes
from cnnviz.explain.layers import CamLayer, cam_layers, default_cam_layer, map_layers
from cnnviz.explain.maximization import (
    Maximization,
    MaximizeOptions,
    maximize,
    maximize_channels,
)
from cnnviz.explain.methods import METHODS, Method, MethodInfo, method_names
from cnnviz.explain.receptive import UnitField, unit_field
from cnnviz.explain.sanity import (
    SanityCheck,
    SanityStep,
    randomization_steps,
    sanity_check,
    similarity,
)

__all__ = [
    "METHODS",
    "Attack",
    "AttackMethod",
    "CamLayer",
    "Explanation",
    "Maximization",
    "MaximizeOptions",
    "Method",
    "MethodInfo",
    "SanityCheck",
    "SanityStep",
    "UnitField",
    "attack",
    "attack_success",
    "cam_layers",
    "default_cam_layer",
    "explain",
    "explain_classes",
    "map_layers",
    "maximize",
    "maximize_channels",
    "method_names",
    "randomization_steps",
    "sanity_check",
    "similarity",
    "unit_field",
]
