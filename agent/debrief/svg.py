"""The debrief's alliance timeline as an inline SVG chart: every text escaped."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from agent.debrief.model import Debrief, TimelinePoint
from agent.domain.taxonomy import (
    COMPONENTS,
    EVENT_KINDS,
    EventKind,
    Lang,
    Speaker,
)
from agent.i18n.catalog import t

if TYPE_CHECKING:
    pass  # type: ignore[import-untyped]
from agent.debrief.wording import COMPONENT_STYLE, GLYPH_COLOUR, _event_line, quoted

# --------------------------------------------------------------------------- SVG

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


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _glyph(kind: EventKind, x: float, y: float, filled: bool, tip: str = "") -> str:
    """One event glyph: a down triangle (rupture), a diamond (repair), a cross (missed repair)."""
    colour = GLYPH_COLOUR[kind]
    if kind is EventKind.rupture_marker:
        d = f"M{x - 7:.1f},{y - 6:.1f} L{x + 7:.1f},{y - 6:.1f} L{x:.1f},{y + 7:.1f} Z"
    elif kind is EventKind.repair_attempt:
        d = f"M{x:.1f},{y - 8:.1f} L{x + 7:.1f},{y:.1f} L{x:.1f},{y + 8:.1f} L{x - 7:.1f},{y:.1f} Z"
    else:
        d = f"M{x - 6:.1f},{y - 6:.1f} L{x + 6:.1f},{y + 6:.1f} M{x + 6:.1f},{y - 6:.1f} L{x - 6:.1f},{y + 6:.1f}"
    if kind is EventKind.missed_repair:
        paint = f'fill="none" stroke="{colour}" stroke-width="{2.5 if filled else 1.5}"'
    else:
        paint = f'fill="{colour if filled else "#ffffff"}" stroke="{colour}" stroke-width="2"'
    inner = f"<title>{_esc(tip)}</title>" if tip else ""
    return f'<path class="{kind.value}" d="{d}" {paint}>{inner}</path>'


def timeline_svg(debrief: Debrief, lang: Lang) -> str:
    """The alliance over turns as standalone SVG: goals, tasks, bond lines, event glyphs, axes, legend."""
    x_min, x_max = _x_range(debrief)

    def sx(turn: float) -> float:
        return _LEFT + (turn - x_min) / (x_max - x_min) * (_W - _LEFT - _RIGHT)

    def sy(value: float) -> float:
        return _BOTTOM - (value - 1) / 6 * (_BOTTOM - _TOP)

    title = t("debrief.timeline", lang) + (f" — {debrief.patient_name}" if debrief.patient_name else "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{_esc(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#ffffff"/>',
        f'<text x="{_W / 2:.0f}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{_esc(title)}</text>',
    ]
    for value in range(1, 8):  # y grid and ticks
        y = sy(value)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    step = max(1, (x_max - x_min) // 20 + 1)
    for turn in range(x_min, x_max + 1, step):  # x ticks
        x = sx(turn)
        parts.append(f'<line x1="{x:.1f}" y1="{_BOTTOM}" x2="{x:.1f}" y2="{_BOTTOM + 5}" stroke="#333333"/>')
        parts.append(f'<text x="{x:.1f}" y="{_BOTTOM + 18}" text-anchor="middle">{turn}</text>')
    parts += [
        f'<line x1="{_LEFT}" y1="{_BOTTOM}" x2="{_W - _RIGHT}" y2="{_BOTTOM}" stroke="#333333"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_BOTTOM}" stroke="#333333"/>',
        f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{_BOTTOM + 36}" text-anchor="middle">{_esc(t("debrief.turn", lang))}</text>',
        f'<text x="16" y="{(_TOP + _BOTTOM) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(_TOP + _BOTTOM) / 2:.0f})">{_esc(t("debrief.alliance_axis", lang))}</text>',
    ]
    points = debrief.timeline
    if not points:
        parts.append(
            f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{(_TOP + _BOTTOM) / 2:.0f}" text-anchor="middle" '
            f'fill="#777777">{_esc(t("debrief.no_points", lang))}</text>'
        )
    comp = debrief.comparison
    if comp is not None:  # the other branch's mean, from the shared start on
        other = ([comp.start] if comp.start else []) + comp.other.points
        coords = " ".join(f"{sx(max(p.order, 0)):.1f},{sy(p.mean):.1f}" for p in other)
        if len(other) > 1:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="#999999" stroke-width="2" stroke-dasharray="10 4"/>'
            )
    for component, (colour, dash) in COMPONENT_STYLE.items():
        coords = " ".join(f"{sx(max(p.order, 0)):.1f},{sy(getattr(p, component.value)):.1f}" for p in points)
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        if len(points) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dashing}/>')
        for p in points:
            tip = (
                f"{t('debrief.turn', lang)} {p.turn}: {COMPONENTS[component].name(lang)} {getattr(p, component.value)}"
            )
            parts.append(
                f'<circle cx="{sx(max(p.order, 0)):.1f}" cy="{sy(getattr(p, component.value)):.1f}" r="3" '
                f'fill="{colour}"><title>{_esc(tip)}</title></circle>'
            )
    stacked: dict[int, int] = {}
    for event in debrief.events:  # glyphs on the mean line, stacked upwards when several share a turn
        level = stacked.get(event.turn, 0)
        stacked[event.turn] = level + 1
        x, y = sx(event.turn), sy(_mean_at(points, event.turn)) - 16 * level
        tip = f"{t('debrief.turn', lang)} {event.turn} — {_event_line(event, lang, debrief.patient_name)}"
        if event.evidence:
            tip += " — " + quoted(" ".join(event.evidence.split()), lang)
        parts.append(_glyph(event.kind, x, y, event.speaker is Speaker.patient, tip))
    parts += _svg_legend(lang, comp is not None)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_legend(lang: Lang, with_other: bool) -> list[str]:
    parts: list[str] = []
    y, x = _BOTTOM + 62, _LEFT
    for component, (colour, dash) in COMPONENT_STYLE.items():
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" stroke="{colour}" stroke-width="2"{dashing}/>')
        parts.append(f'<text x="{x + 34}" y="{y + 4}">{_esc(COMPONENTS[component].name(lang))}</text>')
        x += 130
    if with_other:
        parts.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" stroke="#999999" stroke-width="2" stroke-dasharray="10 4"/>'
        )
        parts.append(f'<text x="{x + 34}" y="{y + 4}">{_esc(t("debrief.other_mean", lang))}</text>')
    y, x = y + 24, _LEFT
    for kind in EventKind:
        parts.append(_glyph(kind, x + 8, y, True))
        parts.append(f'<text x="{x + 22}" y="{y + 4}">{_esc(EVENT_KINDS[kind].name(lang))}</text>')
        x += 200
    parts.append(f'<text x="{_LEFT}" y="{y + 24}" fill="#555555">{_esc(t("debrief.glyph_fill", lang))}</text>')
    return parts
