"""Step-by-step convolution and pooling, and the sliding-window arithmetic (numpy, no UI).

* :func:`conv_steps` / :class:`ConvSteps`: the output of ``F.conv2d`` plus, for every output
  position, the window, the element-wise products, the per-channel sums, the bias and the total.
* :func:`pool_steps` / :func:`pool_steps_for` / :class:`PoolSteps`: every window of a pooling
  (fixed or adaptive, as a layer's :class:`PoolSettings` say), the kept cell and the output.
* :func:`output_size` and :func:`param_count` (and their ``*_formula`` texts for the pages):
  ``out = floor((W + 2P - D(K-1) - 1) / S) + 1`` and ``(K·K·C_in + 1)·C_out``.
* :func:`layer_patch` / :func:`pool_patch`: a real layer of a real network, on a block of its
  real input.
* :func:`first_conv_name`: the one definition of a network's first convolution.
* :func:`activation_curve` / :func:`activation_effect`: an activation and its derivative, and
  what it does to a real layer's pre-activation maps.
* :func:`batch_norm_stats` / :func:`dropout_steps`: the layers that act differently while
  training, on a real layer's numbers; :func:`translation`: shifted copies of an image, their
  maps and predictions; :func:`dense_param_count`: a fully connected layer's parameters.
* :func:`softmax_steps`: logits -> exp -> normalize, with a temperature.
* :func:`pytorch_code`: the same settings as code to paste into a notebook.
"""

from cnnviz.steps.activation import (
    ActivationCurve,
    ActivationEffect,
    activate,
    activation_curve,
    activation_effect,
    activation_label,
    activation_names,
    preactivation_layers,
)
from cnnviz.steps.arithmetic import (
    dense_param_count,
    dense_param_count_formula,
    output_size,
    output_size_formula,
    param_count,
    param_count_formula,
)
from cnnviz.steps.code import pytorch_code
from cnnviz.steps.convolution import ConvStep, ConvSteps, conv_steps, steps_from_padded
from cnnviz.steps.digest import digest
from cnnviz.steps.inputs import (
    KERNEL_LABELS,
    KERNELS,
    WORKED_EXAMPLE,
    digit_grid,
    filter_image,
    fit_channels,
    grid_values,
    image_crop,
    kernel,
)
from cnnviz.steps.layers import (
    LayerPatch,
    conv_layer_input,
    conv_layers,
    first_conv,
    first_conv_name,
    first_conv_weight,
    layer_module,
    layer_patch,
)
from cnnviz.steps.pool_layers import (
    PoolingComparison,
    PoolPatch,
    compare_pooling,
    pool_patch,
)
from cnnviz.steps.pool_windows import PoolKind, PoolSettings, pool_settings
from cnnviz.steps.pooling import PoolStep, PoolSteps, pool_steps, pool_steps_for, windows_steps
from cnnviz.steps.softmax import SoftmaxSteps, probe_logits, softmax_steps
from cnnviz.steps.training_layers import (
    BatchNormStats,
    DropoutSteps,
    batch_norm_stats,
    dropout_steps,
)
from cnnviz.steps.translation import Shifted, Translation, shift_image, translation

__all__ = [
    "KERNELS",
    "KERNEL_LABELS",
    "WORKED_EXAMPLE",
    "ActivationCurve",
    "ActivationEffect",
    "BatchNormStats",
    "ConvStep",
    "ConvSteps",
    "DropoutSteps",
    "LayerPatch",
    "PoolKind",
    "PoolPatch",
    "PoolSettings",
    "PoolStep",
    "PoolSteps",
    "PoolingComparison",
    "Shifted",
    "SoftmaxSteps",
    "Translation",
    "activate",
    "activation_curve",
    "activation_effect",
    "activation_label",
    "activation_names",
    "batch_norm_stats",
    "compare_pooling",
    "conv_layer_input",
    "conv_layers",
    "conv_steps",
    "dense_param_count",
    "dense_param_count_formula",
    "digest",
    "digit_grid",
    "dropout_steps",
    "filter_image",
    "first_conv",
    "first_conv_name",
    "first_conv_weight",
    "fit_channels",
    "grid_values",
    "image_crop",
    "kernel",
    "layer_module",
    "layer_patch",
    "output_size",
    "output_size_formula",
    "param_count",
    "param_count_formula",
    "pool_patch",
    "pool_settings",
    "pool_steps",
    "pool_steps_for",
    "preactivation_layers",
    "probe_logits",
    "pytorch_code",
    "shift_image",
    "softmax_steps",
    "steps_from_padded",
    "translation",
    "windows_steps",
]
