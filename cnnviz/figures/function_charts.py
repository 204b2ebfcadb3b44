"""Plotly charts of functions a lesson varies: softmax over its logits, an activation and its
slope, the climb of an activation maximization, an attack's success against epsilon."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from cnnviz.explain import Maximization
from cnnviz.steps import ActivationCurve, SoftmaxSteps, Translation

__all__ = [
    "activation_figure",
    "climb_figure",
    "softmax_figure",
    "success_figure",
    "translation_figure",
]

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def softmax_figure(steps: SoftmaxSteps, limit: int = 10) -> go.Figure:
    """The probabilities at this temperature as bars, the network's own (T = 1) as markers."""
    order = list(steps.order(limit))[::-1]
    labels = [steps.labels[i] for i in order]
    own = np.exp(steps.logits - steps.logits.max())
    own = own / own.sum()
    fig = go.Figure(
        [
            go.Bar(
                x=steps.probabilities[order], y=labels, orientation="h",
                name=f"T = {steps.temperature:g}",
                text=[f"{steps.probabilities[i]:.1%}" for i in order], textposition="auto",
                hovertemplate="%{y}: %{x:.2%}<extra></extra>",
            ),
            go.Scatter(
                x=own[order], y=labels, mode="markers", name="T = 1 (the network's)",
                marker={"symbol": "line-ns", "size": 18, "line": {"width": 3, "color": "#d62728"}},
                hovertemplate="%{y} at T = 1: %{x:.2%}<extra></extra>",
            ),
        ]
    )  # fmt: skip
    fig.update_layout(
        title=f"Softmax at temperature {steps.temperature:g}",
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        yaxis={"type": "category"},
        legend={"orientation": "h", "y": -0.15},
        margin=MARGIN,
        height=320,
    )
    return fig


def activation_figure(curve: ActivationCurve) -> go.Figure:
    """``f(x)`` and its slope ``f'(x)`` on one chart."""
    fig = go.Figure(
        [
            go.Scatter(x=curve.x, y=curve.y, name=f"{curve.label}(x)", line={"width": 3}),
            go.Scatter(
                x=curve.x, y=curve.slope, name="slope f'(x)", line={"dash": "dash", "width": 2}
            ),
        ]
    )
    fig.add_hline(y=0, line={"color": "#888", "width": 1})
    fig.add_vline(x=0, line={"color": "#888", "width": 1})
    fig.update_layout(
        title=f"{curve.label}: {curve.formula}",
        xaxis_title="x (the value coming in)",
        legend={"orientation": "h", "y": -0.2},
        margin=MARGIN,
        height=320,
    )
    return fig


def climb_figure(results: Sequence[Maximization]) -> go.Figure:
    """Each channel's mean activation at every step of its maximization."""
    fig = go.Figure(
        [
            go.Scatter(
                y=r.history, mode="lines", name=f"channel {r.channel}",
                hovertemplate=f"channel {r.channel}, step %{{x}}: %{{y:.3g}}<extra></extra>",
            )
            for r in results
        ]
    )  # fmt: skip
    fig.update_layout(
        title="The activation climbs as the picture is optimized",
        xaxis_title="step",
        yaxis_title="mean activation",
        margin=MARGIN,
        height=300,
        showlegend=len(results) <= 8,
    )
    return fig


def success_figure(
    epsilons: Sequence[float], rates: dict[str, Sequence[float]], marked: float
) -> go.Figure:
    """Fraction of images whose prediction flipped, per attack, against epsilon."""
    fig = go.Figure(
        [
            go.Scatter(
                x=list(epsilons), y=list(values), mode="lines+markers", name=name,
                hovertemplate=f"{name}, ε = %{{x:.3f}}: %{{y:.0%}} flipped<extra></extra>",
            )
            for name, values in rates.items()
        ]
    )  # fmt: skip
    fig.add_vline(x=marked, line={"color": "#d62728", "dash": "dot"})
    fig.update_layout(
        title="How many digits flip as epsilon grows",
        xaxis_title="epsilon (largest change per pixel, 0..1)",
        yaxis={"range": [0, 1.05], "tickformat": ".0%", "title": "flipped"},
        margin=MARGIN,
        height=300,
    )
    return fig


def translation_figure(t: Translation, marked: int) -> go.Figure:
    """The probability of the unshifted image's class for every shift, each point labelled with
    the class the network chose there; the stable range shaded."""
    home = t.at(0).prediction
    shifts = [x.shift for x in t.shifted]
    probabilities = [
        x.prediction.probability if x.prediction.index == home.index else 0.0 for x in t.shifted
    ]
    fig = go.Figure(
        go.Scatter(
            x=shifts, y=probabilities, mode="lines+markers+text",
            text=[x.prediction.label for x in t.shifted], textposition="top center",
            hovertemplate="shift %{x} px: says %{text}<extra></extra>",
        )
    )  # fmt: skip
    low, high = t.stable
    fig.add_vrect(x0=low - 0.5, x1=high + 0.5, fillcolor="#2ca02c", opacity=0.12, line_width=0)
    fig.add_vline(x=marked, line={"color": "#d62728", "dash": "dot"})
    fig.update_layout(
        title=f"“{home.label}” holds from {low} to {high} pixels",
        xaxis_title="shift to the right (pixels)",
        yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": f"p({home.label})"},
        margin=MARGIN,
        height=300,
    )
    return fig
