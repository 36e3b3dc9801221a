"""The debrief's alliance timeline as an inline SVG chart: every text escaped.

Geometry and words are computed here; the markup is `templates/timeline.svg.j2` (autoescaped).
"""

from __future__ import annotations

from typing import Any

from agent.debrief.model import Debrief, TimelinePoint
from agent.debrief.rendering import render
from agent.debrief.wording import COMPONENT_STYLE, GLYPH_COLOUR, _event_line, quoted
from agent.domain.taxonomy import (
    COMPONENTS,
    EVENT_KINDS,
    EventKind,
    Lang,
    Speaker,
)
from agent.i18n.catalog import t

_W, _H = 760, 392
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 44, 270  # plot area edges


def _x_range(debrief: Debrief) -> tuple[int, int]:
    turns = [p.turn for p in debrief.timeline] + [e.turn for e in debrief.events] + [debrief.turn_count - 1]
    if debrief.comparison is not None:
        turns += [p.turn for p in debrief.comparison.other.points]
    return 0, max(1, *turns)


def _mean_at(points: list[TimelinePoint], turn: int) -> float:
    """The mean alliance at a turn, read on the line between the points around it."""
    if not points:
        return 4.0
    before = [p for p in points if p.order <= turn]
    after = [p for p in points if p.order > turn]
    if not before:
        return after[0].mean
    if not after:
        return before[-1].mean
    a, b = before[-1], after[0]
    span = b.order - a.order
    return a.mean + (b.mean - a.mean) * (turn - a.order) / span if span else a.mean


def _glyph(kind: EventKind, x: float, y: float, filled: bool, tip: str = "") -> dict[str, Any]:
    """One event glyph: a down triangle (rupture), a diamond (repair), a cross (missed repair)."""
    colour = GLYPH_COLOUR[kind]
    if kind is EventKind.rupture_marker:
        d = f"M{x - 7:.1f},{y - 6:.1f} L{x + 7:.1f},{y - 6:.1f} L{x:.1f},{y + 7:.1f} Z"
    elif kind is EventKind.repair_attempt:
        d = f"M{x:.1f},{y - 8:.1f} L{x + 7:.1f},{y:.1f} L{x:.1f},{y + 8:.1f} L{x - 7:.1f},{y:.1f} Z"
    else:
        d = f"M{x - 6:.1f},{y - 6:.1f} L{x + 6:.1f},{y + 6:.1f} M{x + 6:.1f},{y - 6:.1f} L{x - 6:.1f},{y + 6:.1f}"
    if kind is EventKind.missed_repair:
        fill, width = "none", 2.5 if filled else 1.5
    else:
        fill, width = colour if filled else "#ffffff", 2
    return {"kind": kind.value, "d": d, "fill": fill, "stroke": colour, "width": width, "tip": tip}


def _f(value: float) -> str:
    return f"{value:.1f}"


def timeline_svg(debrief: Debrief, lang: Lang) -> str:
    """The alliance over turns as standalone SVG: goals, tasks, bond lines, event glyphs, axes, legend."""
    x_min, x_max = _x_range(debrief)

    def sx(turn: float) -> float:
        return _LEFT + (turn - x_min) / (x_max - x_min) * (_W - _LEFT - _RIGHT)

    def sy(value: float) -> float:
        return _BOTTOM - (value - 1) / 6 * (_BOTTOM - _TOP)

    step = max(1, (x_max - x_min) // 20 + 1)
    points = debrief.timeline
    comp = debrief.comparison
    other_line = ""
    if comp is not None:  # the other branch's mean, from the shared start on
        other = ([comp.start] if comp.start else []) + comp.other.points
        if len(other) > 1:
            other_line = " ".join(f"{sx(max(p.order, 0)):.1f},{sy(p.mean):.1f}" for p in other)
    series = []
    for component, (colour, dash) in COMPONENT_STYLE.items():
        coords = " ".join(f"{sx(max(p.order, 0)):.1f},{sy(getattr(p, component.value)):.1f}" for p in points)
        dots = [
            {
                "x": _f(sx(max(p.order, 0))),
                "y": _f(sy(getattr(p, component.value))),
                "tip": f"{t('debrief.turn', lang)} {p.turn}: {COMPONENTS[component].name(lang)} "
                f"{getattr(p, component.value)}",
            }
            for p in points
        ]
        series.append({"colour": colour, "dash": dash, "line": coords if len(points) > 1 else "", "dots": dots})
    glyphs = []
    stacked: dict[int, int] = {}
    for event in debrief.events:  # glyphs on the mean line, stacked upwards when several share a turn
        level = stacked.get(event.turn, 0)
        stacked[event.turn] = level + 1
        x, y = sx(event.turn), sy(_mean_at(points, event.turn)) - 16 * level
        tip = f"{t('debrief.turn', lang)} {event.turn} — {_event_line(event, lang, debrief.patient_name)}"
        if event.evidence:
            tip += " — " + quoted(" ".join(event.evidence.split()), lang)
        glyphs.append(_glyph(event.kind, x, y, event.speaker is Speaker.patient, tip))
    return render(
        "timeline.svg.j2",
        w=_W,
        h=_H,
        left=_LEFT,
        right=_W - _RIGHT,
        top=_TOP,
        bottom=_BOTTOM,
        mid_x=f"{(_LEFT + _W - _RIGHT) / 2:.0f}",
        mid_y=f"{(_TOP + _BOTTOM) / 2:.0f}",
        title=t("debrief.timeline", lang) + (f" — {debrief.patient_name}" if debrief.patient_name else ""),
        text={
            "turn": t("debrief.turn", lang),
            "axis": t("debrief.alliance_axis", lang),
            "no_points": t("debrief.no_points", lang),
            "glyph_fill": t("debrief.glyph_fill", lang),
        },
        y_ticks=[{"y": _f(sy(v)), "label_y": _f(sy(v) + 4), "value": v} for v in range(1, 8)],
        x_ticks=[{"x": _f(sx(turn)), "turn": turn} for turn in range(x_min, x_max + 1, step)],
        has_points=bool(points),
        other_line=other_line,
        series=series,
        glyphs=glyphs,
        legend=_legend(lang, comp is not None),
    )


def _legend(lang: Lang, with_other: bool) -> dict[str, Any]:
    y, x = _BOTTOM + 62, _LEFT
    components = []
    for component, (colour, dash) in COMPONENT_STYLE.items():
        components.append({"x": x, "colour": colour, "dash": dash, "name": COMPONENTS[component].name(lang)})
        x += 130
    other = {"x": x, "name": t("debrief.other_mean", lang)} if with_other else None
    kinds_y, x = y + 24, _LEFT
    kinds = []
    for kind in EventKind:
        kinds.append({"x": x, "glyph": _glyph(kind, x + 8, kinds_y, True), "name": EVENT_KINDS[kind].name(lang)})
        x += 200
    return {"y": y, "components": components, "other": other, "kinds": kinds, "kinds_y": kinds_y}
