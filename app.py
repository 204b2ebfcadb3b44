"""cnnviz: the router. Page config, the shared sidebar, and the list of pages."""

import streamlit as st

import cnnviz.ui as ui

st.set_page_config(
    page_title="cnnviz — how a CNN sees", page_icon="🔍", layout="wide",
    initial_sidebar_state=ui.sidebar_state(),  # collapsed in presenter mode (?present=1)
)  # fmt: skip
ui.configure_runtime()
ui.rerun_on_reconnect()  # a tab whose server died draws its view again on a live one
ui.presenter_toggle()
ui.sidebar()
page = st.navigation(
    [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page(
            "app_pages/convolution.py",
            title="Convolution",
            icon=":material/blur_on:",
            url_path="convolution",
        ),
        st.Page(
            "app_pages/feature_maps.py",
            title="Feature maps",
            icon=":material/grid_view:",
            url_path="feature_maps",
        ),
        st.Page(
            "app_pages/pooling.py", title="Pooling", icon=":material/compress:", url_path="pooling"
        ),
        st.Page(
            "app_pages/inside_layer.py",
            title="Inside a layer",
            icon=":material/functions:",
            url_path="inside_layer",
        ),
        st.Page(
            "app_pages/attribution.py",
            title="Grad-CAM & saliency",
            icon=":material/visibility:",
            url_path="attribution",
        ),
        st.Page(
            "app_pages/feature_vis.py",
            title="Feature visualization",
            icon=":material/auto_awesome:",
            url_path="feature_vis",
        ),
        st.Page(
            "app_pages/adversarial.py",
            title="Adversarial examples",
            icon=":material/bug_report:",
            url_path="adversarial",
        ),
        st.Page(
            "app_pages/compare.py",
            title="Compare",
            icon=":material/view_column:",
            url_path="compare",
        ),
        st.Page(
            "app_pages/training.py",
            title="Training",
            icon=":material/model_training:",
            url_path="training",
        ),
    ]
)
ui.lesson_panel()  # a guided lesson's bar above the page (previous / next switch pages)
with ui.page_run():  # a training run steps aside while the page runs
    page.run()
