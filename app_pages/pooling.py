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
        view = ui.channel_controls("pool", c, shown=16)
        order = figures.channel_order(layer, view.order)[: view.limit]
        before = figures.feature_grid(layer.input, order, view.colormap, view.scale)
        after = figures.feature_grid(layer.output, order, view.colormap, view.scale)
        left, right = st.columns(2)
        left.image(
            figures.to_jpeg(before.image), width="stretch",
            caption=f"Input of {layer.name}: {c} x {h} x {w}; {before.scale_note}",
        )  # fmt: skip
        right.image(
            figures.to_jpeg(after.image), width="stretch",
            caption=f"Output of {layer.name}: {c} x {oh} x {ow}; {after.scale_note}",
        )  # fmt: skip

        st.subheader("Max vs average pooling on the same input")
        compared = steps.compare_pooling(layer)
        channel = st.selectbox("Channel", order, key="pool.channel", format_func=lambda k: f"#{k}")
        cols = st.columns(3)
        span = compared.value_range(channel)
        names = ("input", "max pooling", "average pooling")
        for col, value, name in zip(cols, compared.channel(channel), names, strict=True):
            col.plotly_chart(
                figures.heatmap_figure(value, f"{name} #{channel}", view.colormap, span),
                key=f"pool.{name}",
            )
        st.caption(
            "Max pooling keeps the strongest response in each window (a feature is present "
            "somewhere here); average pooling keeps the mean (smoother, weaker peaks). All three "
            f"share one colour scale. {layer.name} itself is a {layer.type_name}."
        )

        st.subheader("Step by step: the window, the value kept, the output")
        steps_views.pool_step_view(model, layer, channel)

    pooled = probe.pooled_vector()
    st.subheader("Global average pooling")
    if pooled is None:
        st.info(f"{model.spec.label} has no global pooling: its classifier reads whole maps.")
    else:
        source, vector = pooled
        st.markdown(
            f"The last maps are averaged over all positions into one number per channel: "
            f"{vector.size} values (taken at `{source.name}`) that the classifier reads."
        )
        st.plotly_chart(
            figures.vector_figure(vector, f"Pooled vector ({vector.size} channels)"),
            key="pool.vector",
        )
