"""Pooling: what each pooling layer keeps, max vs average, and global average pooling."""

import streamlit as st

import cnnviz.ui as ui
from cnnviz import figures, steps
from cnnviz.ui import steps_views

model, probe = ui.page_start(
    "Pooling",
    "A pooling layer slides a small window over each map and keeps one number per window: the "
    "largest (max pooling) or the mean (average pooling). Maps get smaller; channels stay.",
)
with ui.error_boundary("the pooling views"):
    pools = list(probe.pooling_layers())
    if not pools:
        st.info(f"{model.spec.label} has no pooling layers.")
    else:
        layer = ui.layer_picker(probe, "pool", pools)
        g = layer.geometry
        c, h, w = layer.input.shape
        _, oh, ow = layer.shape
        if g is not None:
            formula = steps.output_size_formula(
                w, g.kernel, g.stride, g.padding, g.dilation, g.ceil_mode
            )
            st.markdown(
                f"**{layer.name}**: `{layer.description}` — window {g.kernel} x {g.kernel}, "
                f"stride {g.stride}, padding {g.padding}. Output side = **{formula}**."
            )
        else:
            st.markdown(
                f"**{layer.name}**: `{layer.description}` — adaptive pooling: PyTorch picks the "
                f"windows so that {h} x {w} becomes {oh} x {ow}. Output row i reads input rows "
                f"floor(i·{h}/{oh}) to ceil((i + 1)·{h}/{oh}) − 1 (columns alike): windows may "
                "differ in size and overlap."
            )
        with ui.settings():  # folded away in presenter mode
            view = ui.channel_controls("pool", c, shown=16)
        order = figures.channel_order(layer, view.order)[: view.limit]
        grids = []
        for name, maps in (("before", layer.input), ("after", layer.output)):
            key = ("pool", name, layer.name, tuple(order), view.colormap, view.scale)
            grid = ui.shared(
                lambda maps=maps: figures.feature_grid(maps, order, view.colormap, view.scale),
                probe, *key,
            )  # fmt: skip
            grids.append((grid, ui.shared_jpeg(lambda grid=grid: grid.image, probe, *key)))
        (before, before_jpeg), (after, after_jpeg) = grids
        left, right = st.columns(2)
        left.image(
            before_jpeg, width="stretch",
            caption=f"Input of {layer.name}: {c} x {h} x {w}; {before.scale_note}",
        )  # fmt: skip
        right.image(
            after_jpeg, width="stretch",
            caption=f"Output of {layer.name}: {c} x {oh} x {ow}; {after.scale_note}",
        )  # fmt: skip

        # The charts wait in closed sections (ui.section): a fresh tab draws the grids above
        # without first loading plotly.js.
        channel = st.selectbox(
            "Channel for the sections below", order, key="pool.channel",
            format_func=lambda k: f"#{k}",
        )  # fmt: skip
        compare = ui.section("Max vs average pooling on the same input", "pool.compare")
        if compare is not None:
            with compare:
                steps_views.pool_comparison(probe, layer, channel, view.colormap)
        stepwise = ui.section(
            "Step by step: the window, the value kept, the output", "pool.stepwise"
        )
        if stepwise is not None:
            with stepwise:
                steps_views.pool_step_view(model, layer, channel)

    pooled = probe.pooled_vector()
    gap = ui.section("Global average pooling: the vector the classifier reads", "pool.gap")
    if gap is not None:
        with gap:
            if pooled is None:
                st.info(
                    f"{model.spec.label} has no global pooling: its classifier reads whole maps."
                )
            else:
                source, vector = pooled
                st.markdown(
                    f"The last maps are averaged over all positions into one number per channel: "
                    f"{vector.size} values (taken at `{source.name}`) that the classifier reads."
                )
                title = f"Pooled vector ({vector.size} channels)"
                st.plotly_chart(
                    ui.shared(lambda: figures.vector_figure(vector, title), probe, "gap"),
                    key="pool.vector",
                )
