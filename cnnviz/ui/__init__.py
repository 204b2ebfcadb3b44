"""The only Streamlit code inside cnnviz: state keys, cached loaders, shared widgets, errors.

Pages import this package and :mod:`cnnviz`, never torch, numpy or PIL (see DESIGN.md).
"""

from cnnviz.ui.compare_views import compare_column, compare_models, compare_shapes, compare_table
from cnnviz.ui.lesson_views import lesson_panel
from cnnviz.ui.presenter import intro, presenter_toggle, presenting, settings, sidebar_state
from cnnviz.ui.session import (
    Keys,
    cached_probe,
    configure_runtime,
    current_model,
    current_selection,
    error_boundary,
    page_run,
    rerun_on_reconnect,
    training_job,
    use_trained,
)
from cnnviz.ui.share_views import app_link, link_with_qr, share_with_class
from cnnviz.ui.shared_views import shared, shared_jpeg
from cnnviz.ui.training_views import (
    architectures,
    dataset_preview,
    epoch_scrubber,
    experiment_results,
    experiment_setup,
    gradient_section,
    live_maps,
    network_options,
    schedule_chart,
    tensorboard_logs,
    tensorboard_option,
    zip_dataset,
)
from cnnviz.ui.widgets import (
    channel_closeup,
    channel_controls,
    layer_picker,
    model_banner,
    page_start,
    png_download,
    sample_gallery,
    section,
    sidebar,
    top_predictions,
)

__all__ = [
    "Keys",
    "app_link",
    "architectures",
    "cached_probe",
    "channel_closeup",
    "channel_controls",
    "compare_column",
    "compare_models",
    "compare_shapes",
    "compare_table",
    "configure_runtime",
    "current_model",
    "current_selection",
    "dataset_preview",
    "epoch_scrubber",
    "error_boundary",
    "experiment_results",
    "experiment_setup",
    "gradient_section",
    "intro",
    "layer_picker",
    "lesson_panel",
    "link_with_qr",
    "live_maps",
    "model_banner",
    "network_options",
    "page_run",
    "page_start",
    "png_download",
    "presenter_toggle",
    "presenting",
    "rerun_on_reconnect",
    "sample_gallery",
    "schedule_chart",
    "section",
    "settings",
    "share_with_class",
    "shared",
    "shared_jpeg",
    "sidebar",
    "sidebar_state",
    "tensorboard_logs",
    "tensorboard_option",
    "top_predictions",
    "training_job",
    "use_trained",
    "zip_dataset",
]
