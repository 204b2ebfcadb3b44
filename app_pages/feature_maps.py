"""Feature maps: what one layer makes of the image, channel by channel."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz import figures

model, probe = ui.page_start(
    "Feature maps",
    "Each convolution filter slides over its input and makes one map (a channel): bright where "
    "the filter's pattern is present. Step through the layers to watch maps shrink and multiply.",
)
presenting = ui.presenting()  # a projector shows the maps first; the rest waits in Settings
controls = ui.settings()
with ui.error_boundary("the feature maps"):
    if not presenting:
        image_col, chart_col = st.columns([1, 2])
        # Views are built once per server and shared (ui.shared): a class sees the same ones.
        image_col.image(
            ui.shared_jpeg(lambda: probe.image, probe, "input"), caption="The network's input",
            width=220,
        )  # fmt: skip
        with chart_col:
            ui.top_predictions(probe)

    layer = ui.layer_picker(probe, "fm", model=model, options=controls)
    shape = " x ".join(str(d) for d in layer.shape)
    kind = "C x H x W" if layer.is_map else "values"
    st.subheader(f"Output of {layer.name} ({layer.type_name}): {shape} ({kind})")
    st.caption(f"`{layer.description}` · receptive field {layer.receptive_field.describe()}")
    stats = layer.stats
    if not presenting:
        cols = st.columns(5)
        cols[0].metric("Parameters", f"{layer.params:,}")
        cols[1].metric("Min", f"{stats.min:.3g}")
        cols[2].metric("Max", f"{stats.max:.3g}")
        cols[3].metric("Mean", f"{stats.mean:.3g}")
        cols[4].metric("Zeros", f"{stats.zero_fraction:.0%}")

    if layer.is_map:
        with controls:
            view = ui.channel_controls("fm", layer.shape[0])
        order = figures.channel_order(layer, view.order)[: view.limit]
        grid_key = ("grid", layer.name, tuple(order), view.colormap, view.scale)
        grid = ui.shared(
            lambda: figures.feature_grid(layer.output, order, view.colormap, view.scale),
            probe, *grid_key,
        )  # fmt: skip
        st.image(
            ui.shared_jpeg(lambda: grid.image, probe, *grid_key),
            caption=f"{len(order)} of {layer.shape[0]} channels of {layer.name} "
            f"({layer.shape[1]} x {layer.shape[2]} each), {grid.scale_note}",
        )
        ui.png_download(grid.image, f"{layer.name}_maps.png", "fm.download")

        # Charts below the first screen wait in closed sections: a page's first chart makes
        # the browser load plotly.js, and a fresh tab draws nothing until it has (seconds).
        closeup = ui.section(
            "One channel up close: its values, where it fires, a unit's receptive field",
            "fm.closeup",
        )
        if closeup is not None:
            with closeup:
                ui.channel_closeup(model, probe, layer, order, view.colormap)
    else:
        title = f"{layer.name}: {layer.shape[0]} values"
        st.plotly_chart(
            ui.shared(lambda: figures.vector_figure(layer.output, title), probe, "vector", title),
            key="fm.vector",
        )

    shapes = ui.section("The shape through the network: maps shrink, channels grow", "fm.shape")
    if shapes is not None:
        figure = ui.shared(
            lambda: figures.shape_figure(probe, layer.name), probe, "shapes", layer.name
        )
        shapes.plotly_chart(figure, key="fm.shapes")
    table = ui.section("Layer table: every layer's shape, parameters, receptive field", "fm.table")
    if table is not None:
        table.dataframe(figures.layer_rows(probe), hide_index=True, key="fm.rows")
