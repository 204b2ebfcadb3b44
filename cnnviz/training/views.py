"""What the Training page shows of each finished epoch, computed once by the training thread.

The page polls a running job every second; a page that rebuilt the network and probed it on every
poll cost each second a model build, a forward pass and an image encoding, for every watching
tab. Instead the training thread makes an :class:`EpochView` once per epoch (the first layer's
filters, its maps of one fixed validation image, the prediction and a Grad-CAM map, all encoded
for the browser), and the page only draws the pictures.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cnnviz.errors import CnnvizError
from cnnviz.explain import explain
from cnnviz.figures import feature_grid, filters_grid, to_jpeg
from cnnviz.figures.attribution import map_overlay
from cnnviz.models import Model
from cnnviz.probe import Prediction, probe
from cnnviz.steps import first_conv_name
from cnnviz.training.evaluation import epoch_model, to_image
from cnnviz.training.events import EpochEvent
from cnnviz.training.loop import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EpochView:
    """One finished epoch as the Training page draws it; the pictures are JPEG bytes.

    Attributes:
        epoch: The epoch, from 1.
        filters: The first convolution's filters, averaged over input channels (blue
            negative, red positive; see :func:`cnnviz.figures.filters_grid`).
        layer: Name of that convolution (e.g. ``"features.c1"``).
        maps: Its feature maps of the run's fixed validation image.
        prediction: What the network said that image is, with its probability.
        cam: Grad-CAM of the predicted class over the image (``None`` if it failed).
        cam_text: ``"Grad-CAM for 'cat' at layer4"``, or why there is no map.
    """

    epoch: int
    filters: bytes = field(repr=False)
    layer: str
    maps: bytes = field(repr=False)
    prediction: Prediction
    cam: bytes | None = field(default=None, repr=False)
    cam_text: str = ""


class EpochViews:
    """Makes the :class:`EpochView` of each epoch of one run, on one reused network.

    Build it in the training thread: it keeps a network of the run's architecture and loads each
    epoch's weights into it (building one costs more than loading weights, ~0.1 s for ResNet-18).

    Args:
        config: The run's settings.
        classes: The data set's class names.
        sample: The fixed validation image, uint8 (C, H, W).
    """

    def __init__(self, config: TrainConfig, classes: tuple[str, ...], sample: np.ndarray) -> None:
        self._config = config
        self._classes = classes
        self._image = to_image(sample)
        self._model: Model | None = None

    def _network(self, event: EpochEvent) -> Model:
        if self._model is None:
            self._model = epoch_model(self._config, self._classes, event.state_dict, event.epoch)
            return self._model
        self._model.module.load_state_dict(event.state_dict)
        return dataclasses.replace(
            self._model,
            weights_source=f"Weights after epoch {event.epoch} of a training run.",
            key=f"{self._config.arch}:epoch:{event.epoch}",
        )

    def view(self, event: EpochEvent) -> EpochView:
        """The view of ``event``'s epoch: one probe, one Grad-CAM, three JPEG encodings."""
        model = self._network(event)
        seen = probe(model, self._image)
        layer = seen.layer(first_conv_name(event.state_dict) or "")
        cam, cam_text = _gradcam(model, seen.image)
        return EpochView(
            epoch=event.epoch,
            filters=to_jpeg(filters_grid(event.state_dict).image),
            layer=layer.name,
            maps=to_jpeg(feature_grid(layer.output).image),
            prediction=seen.predictions[0],
            cam=cam,
            cam_text=cam_text,
        )


def _gradcam(model: Model, image: Image.Image) -> tuple[bytes | None, str]:
    """Grad-CAM of the predicted class as a JPEG overlay and its caption; or ``None`` and why."""
    try:
        cam = explain(model, image, "gradcam")
    except CnnvizError as error:
        return None, str(error)
    except Exception as error:
        log.exception("Grad-CAM of a training epoch failed")
        return None, (
            f"Something went wrong while computing the Grad-CAM map ({type(error).__name__}); "
            "the details are in the server log."
        )
    return to_jpeg(map_overlay(image, cam)), f"Grad-CAM for '{cam.label}' at {cam.layer}"
