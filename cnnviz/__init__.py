"""cnnviz: see how a convolutional neural network sees.

The library behind the cnnviz app, usable from a notebook::

    import cnnviz
    img = cnnviz.load_image("cat.jpg")
    model = cnnviz.load_model("resnet18", weights="auto")
    p = cnnviz.probe(model, img)
    p.predictions[0].label, p.layer("layer1.0.conv1").output.shape
"""

from cnnviz.domain import DomainCheck, ImageStats, domain_check
from cnnviz.errors import CnnvizError, InputError, ModelError, TrainingDiverged
from cnnviz.explain import (
    Attack,
    Explanation,
    Maximization,
    MaximizeOptions,
    SanityCheck,
    SanityStep,
    UnitField,
    attack,
    cam_layers,
    explain,
    explain_classes,
    maximize,
    sanity_check,
    unit_field,
)
from cnnviz.images import Sample, image_digest, list_samples, load_image, load_sample
from cnnviz.models import (
    MODELS,
    Model,
    ModelSpec,
    download_weights,
    from_module,
    load_model,
    load_onnx,
    model_names,
    pretrained_available,
    read_labels,
)
from cnnviz.probe import (
    Layer,
    LayerStats,
    Prediction,
    Probe,
    ReceptiveField,
    probe,
    retain_freed_memory,
)
from cnnviz.steps import (
    ConvStep,
    ConvSteps,
    LayerPatch,
    PoolPatch,
    PoolSettings,
    PoolStep,
    PoolSteps,
    SoftmaxSteps,
    conv_steps,
    layer_patch,
    output_size,
    param_count,
    pool_patch,
    pool_settings,
    pool_steps,
    pool_steps_for,
    softmax_steps,
)
from cnnviz.training import DoneEvent, EpochEvent, StepEvent, TrainConfig, save_checkpoint, train

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "Attack",
    "CnnvizError",
    "ConvStep",
    "ConvSteps",
    "DomainCheck",
    "DoneEvent",
    "EpochEvent",
    "Explanation",
    "ImageStats",
    "InputError",
    "Layer",
    "LayerPatch",
    "LayerStats",
    "Maximization",
    "MaximizeOptions",
    "Model",
    "ModelError",
    "ModelSpec",
    "PoolPatch",
    "PoolSettings",
    "PoolStep",
    "PoolSteps",
    "Prediction",
    "Probe",
    "ReceptiveField",
    "Sample",
    "SanityCheck",
    "SanityStep",
    "SoftmaxSteps",
    "StepEvent",
    "TrainConfig",
    "TrainingDiverged",
    "UnitField",
    "__version__",
    "attack",
    "cam_layers",
    "conv_steps",
    "domain_check",
    "download_weights",
    "explain",
    "explain_classes",
    "from_module",
    "image_digest",
    "layer_patch",
    "list_samples",
    "load_image",
    "load_model",
    "load_onnx",
    "load_sample",
    "maximize",
    "model_names",
    "output_size",
    "param_count",
    "pool_patch",
    "pool_settings",
    "pool_steps",
    "pool_steps_for",
    "pretrained_available",
    "probe",
    "read_labels",
    "retain_freed_memory",
    "sanity_check",
    "save_checkpoint",
    "softmax_steps",
    "train",
    "unit_field",
]
