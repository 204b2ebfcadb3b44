"""The model registry: name -> :class:`ModelSpec`, and :func:`load_model` -> :class:`Model`.

A :class:`Model` carries everything a page needs to use a network honestly: the module (in eval
mode), how to turn an image into its input (size, channels, normalization), its class labels, and
a sentence that says where its weights came from.

Weights (the ``weights`` argument of :func:`load_model`):

* ``"pretrained"``: torchvision's ImageNet weights from the local torch hub cache, downloaded with
  progress when they are missing and the network allows; otherwise a :class:`ModelError` that says
  how to get them. For our small nets, the weights bundled in ``cnnviz/assets``.
* ``"random"``: untrained (seeded, so the same every time).
* a path or the bytes of a checkpoint (a state dict, loaded with ``weights_only=True``).
* ``"auto"`` (default): pretrained when already on this computer; else torchvision's weights up
  to 64 MB are downloaded when the server answers within about 2 s (see
  :func:`~cnnviz.models.download.auto_plan`); else random, with a sentence saying why.

The modules: :mod:`~cnnviz.models.registry` (specs, labels, builders), :mod:`~cnnviz.models.model`
(the :class:`Model`), :mod:`~cnnviz.models.download` (weights files and downloads),
:mod:`cnnviz.network` (is the weights server reachable, remembered for a while),
:mod:`~cnnviz.models.checkpoints` (reading state dicts, ``.pt`` or ``.safetensors``; a
fine-tuned head rebuilt from its shapes), :mod:`~cnnviz.models.labels` (labels files),
:mod:`~cnnviz.models.loading`, and your own networks: :mod:`~cnnviz.models.own` (any
``nn.Module``, ``package.module:factory``), :mod:`~cnnviz.models.onnx_models` (ONNX files) and
:mod:`~cnnviz.models.timm_models` (``timm:<name>``).
"""

from cnnviz.models.download import (
    AUTO_DOWNLOAD_MAX_MB,
    AutoPlan,
    ProgressCallback,
    auto_plan,
    download_if_online,
    download_size_mb,
    download_weights,
    pretrained_available,
)
from cnnviz.models.labels import Labels, read_labels
from cnnviz.models.loading import load_model
from cnnviz.models.model import Model
from cnnviz.models.onnx_models import load_onnx
from cnnviz.models.own import from_factory, from_module
from cnnviz.models.registry import (
    DIGIT_LABELS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODELS,
    ModelSpec,
    build_module,
    model_names,
)

__all__ = [
    "AUTO_DOWNLOAD_MAX_MB",
    "DIGIT_LABELS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODELS",
    "AutoPlan",
    "Labels",
    "Model",
    "ModelSpec",
    "ProgressCallback",
    "auto_plan",
    "build_module",
    "download_if_online",
    "download_size_mb",
    "download_weights",
    "from_factory",
    "from_module",
    "load_model",
    "load_onnx",
    "model_names",
    "pretrained_available",
    "read_labels",
]
