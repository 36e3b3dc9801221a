"""The debrief's alliance timeline as a Plotly figure, for Chainlit's Plotly element (the app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.debrief.model import Debrief
from agent.domain.taxonomy import (
    COMPONENTS,
    EVENT_KINDS,
    AllianceComponent,
    EventKind,
    Lang,
    Speaker,
)
from agent.i18n.catalog import t

if TYPE_CHECKING:
    import plotly.graph_objects as go  # type: ignore[import-untyped]
from agent.debrief.svg import _mean_at, _x_range
from agent.debrief.wording import COMPONENT_STYLE, GLYPH_COLOUR, PLOTLY_SYMBOL, _event_line

# --------------------------------------------------------------------------- Plotly (the app)


def timeline_figure(debrief: Debrief, lang: Lang) -> go.Figure:
    """The same chart as `timeline_svg`, as a plotly Figure (for Chainlit's Plotly element)."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # heavy: only the app needs it

    figure = go.Figure()
    points = debrief.timeline
    xs = [max(p.order, 0) for p in points]
    comp = debrief.comparison
    if comp is not None:
        other = ([comp.start] if comp.start else []) + comp.other.points
        figure.add_trace(
            go.Scatter(
                x=[max(p.order, 0) for p in other],
                y=[p.mean for p in other],
                mode="lines",
                name=t("debrief.other_mean", lang),
                line={"color": "#999999", "dash": "longdash"},
            )
        )
    dash = {AllianceComponent.goals: "solid", AllianceComponent.tasks: "dash", AllianceComponent.bond: "dot"}
    for component, (colour, _) in COMPONENT_STYLE.items():
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=[getattr(p, component.value) for p in points],
                mode="lines+markers",
                name=COMPONENTS[component].name(lang),
                line={"color": colour, "dash": dash[component]},
            )
        )
    for kind in EventKind:
        events = [e for e in debrief.events if e.kind is kind]
        if not events:
            continue
        figure.add_trace(
            go.Scatter(
                x=[e.turn for e in events],
                y=[_mean_at(points, e.turn) for e in events],
                mode="markers",
                name=EVENT_KINDS[kind].name(lang),
                marker={
                    "symbol": [PLOTLY_SYMBOL[kind] + ("" if e.speaker is Speaker.patient else "-open") for e in events],
                    "size": 13,
                    "color": GLYPH_COLOUR[kind],
                },
                hovertext=[_event_line(e, lang, debrief.patient_name) for e in events],
                hoverinfo="text",
            )
        )
    x_min, x_max = _x_range(debrief)
    figure.update_layout(
        title=t("debrief.timeline", lang) + (f" — {debrief.patient_name}" if debrief.patient_name else ""),
        xaxis={"title": {"text": t("debrief.turn", lang)}, "range": [x_min - 0.3, x_max + 0.3], "dtick": 1},
        yaxis={"title": {"text": t("debrief.alliance_axis", lang)}, "range": [0.5, 7.5], "dtick": 1},
        legend={"orientation": "h", "y": -0.25},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return figure
