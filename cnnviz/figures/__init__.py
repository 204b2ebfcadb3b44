"""Pictures of what a network computed: map montages, overlays and plotly charts.

Everything here turns the plain results of :mod:`cnnviz.probe` and :mod:`cnnviz.steps` into
something to look at; nothing here computes the network. Montages are numpy/PIL (fast, one image
for the browser), charts are plotly figures.
"""

from cnnviz.figures.charts import (
    RUN_COLORS,
    confusion_figure,
    gradient_figure,
    heatmap_figure,
    layer_rows,
    lr_figure,
    predictions_figure,
    runs_figure,
    shape_figure,
    shapes_compare_figure,
    training_curves,
    vector_figure,
)
from cnnviz.figures.labels import fit_lines, ordinal, percent, plural
from cnnviz.figures.montage import (
    BACKGROUND,
    COLORMAPS,
    GAP,
    LABEL_H,
    MAX_CELL,
    MAX_MAP,
    MIN_CELL,
    Grid,
    _lut,  # noqa: F401 - for tests that check colours against the lookup table
    channel_order,
    feature_grid,
    filters_grid,
    first_conv_weights,
    image_grid,
    overlay,
    thumbnail,
    to_jpeg,
    to_png,
    to_uint8,
)
from cnnviz.figures.qr import qr_png

__all__ = [
    "BACKGROUND",
    "COLORMAPS",
    "GAP",
    "LABEL_H",
    "MAX_CELL",
    "MAX_MAP",
    "MIN_CELL",
    "RUN_COLORS",
    "Grid",
    "channel_order",
    "confusion_figure",
    "feature_grid",
    "filters_grid",
    "first_conv_weights",
    "fit_lines",
    "gradient_figure",
    "heatmap_figure",
    "image_grid",
    "layer_rows",
    "lr_figure",
    "ordinal",
    "overlay",
    "percent",
    "plural",
    "predictions_figure",
    "qr_png",
    "runs_figure",
    "shape_figure",
    "shapes_compare_figure",
    "thumbnail",
    "to_jpeg",
    "to_png",
    "to_uint8",
    "training_curves",
    "vector_figure",
]
