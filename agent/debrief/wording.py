"""Shared wording and styles of the debrief's formats (Markdown, HTML, SVG, Plotly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.debrief.model import Alternative, Debrief, DebriefEvent, TimelinePoint
from agent.domain.taxonomy import (
    COMPONENTS,
    EVENT_KINDS,
    AllianceComponent,
    EventKind,
    Lang,
    display,
    label_for,
)
from agent.i18n.catalog import colon, number, party, quote, semicolon, t

if TYPE_CHECKING:
    pass  # type: ignore[import-untyped]


COMPONENT_STYLE: dict[AllianceComponent, tuple[str, str]] = {  # colour, SVG dash pattern
    AllianceComponent.goals: ("#1f77b4", ""),
    AllianceComponent.tasks: ("#ff7f0e", "7 4"),
    AllianceComponent.bond: ("#2ca02c", "2 3"),
}
GLYPH_COLOUR: dict[EventKind, str] = {
    EventKind.rupture_marker: "#d62728",
    EventKind.repair_attempt: "#9467bd",
    EventKind.missed_repair: "#555555",
}
PLOTLY_SYMBOL: dict[EventKind, str] = {
    EventKind.rupture_marker: "triangle-down",
    EventKind.repair_attempt: "diamond",
    EventKind.missed_repair: "x",
}


# --------------------------------------------------------------------------- shared wording


def _num(value: float, lang: Lang) -> str:
    return number(value, lang)


def _triple(point: TimelinePoint, lang: Lang) -> str:
    parts = [f"{COMPONENTS[c].name(lang)} {getattr(point, c.value)}" for c in AllianceComponent]
    return ", ".join(parts) + f" ({t('debrief.mean', lang)} {_num(point.mean, lang)})"


def event_name(event: DebriefEvent, lang: Lang) -> str:
    """ "Rupture marker — Withdrawal (Minimal response)", from the taxonomy."""
    name = f"{EVENT_KINDS[event.kind].name(lang)} — {display(event.label, lang)}"
    return f"{name} ({display(event.subtype, lang)})" if event.subtype else name


def _event_line(event: DebriefEvent, lang: Lang, patient: str | None) -> str:
    return f"{party(event.speaker, lang, patient)}{_colon(lang)}{event_name(event, lang)}"


def move_name(alternative: Alternative, lang: Lang) -> str:
    """ "Emotional (Metacommunication)" or "Explore perspectives"."""
    principle = display(alternative.principle.value, lang)
    if alternative.function is None:
        return principle
    return f"{display(alternative.function.value, lang)} ({principle})"


def move_definition(alternative: Alternative, lang: Lang) -> str:
    return label_for(alternative.move).definition(lang)


def quoted(text: str, lang: Lang) -> str:
    return quote(text, lang)


def _colon(lang: Lang) -> str:
    return colon(lang)


def _counts_lines(debrief: Debrief, lang: Lang) -> list[tuple[str, str]]:
    """(heading, detail) pairs for the counts section."""
    c, name = debrief.counts, debrief.patient_name
    by_type = ", ".join(f"{display(r.value, lang)} {n}" for r, n in c.ruptures_by_type.items())
    by_party = ", ".join(f"{party(s, lang, name)} {n}" for s, n in c.ruptures_by_party.items())
    total_ruptures = sum(c.ruptures_by_type.values())
    repairs = ", ".join(f"{display(label, lang)} {n}" for label, n in sorted(c.repairs_by_label.items()))
    repair_party = ", ".join(f"{party(s, lang, name)} {n}" for s, n in c.repairs_by_party.items())
    total_repairs = sum(c.repairs_by_label.values())
    semi = semicolon(lang)
    return [
        (
            t("debrief.ruptures", lang),
            f"{total_ruptures} — {t('debrief.by_type', lang)}{_colon(lang)}{by_type}{semi}"
            f"{t('debrief.by_party', lang)}{_colon(lang)}{by_party}",
        ),
        (
            t("debrief.repairs", lang),
            f"{total_repairs} — {repairs or t('debrief.none', lang)}{semi}{t('debrief.by_party', lang)}{_colon(lang)}{repair_party}",
        ),
        (t("debrief.repairs_worked", lang, worked=c.repairs_worked, assessed=c.repairs_assessed), ""),
        (t("debrief.missed", lang), str(c.missed_repairs)),
    ]


def _key_summary(debrief: Debrief, lang: Lang) -> list[str]:
    moment = debrief.key_moment
    assert moment is not None
    lines = []
    if moment.reason == "largest_drop" and moment.before is not None and moment.after is not None:
        lines.append(
            t(
                "debrief.key_drop",
                lang,
                turn=moment.learner_turn,
                before=_num(moment.before, lang),
                after=_num(moment.after, lang),
            )
        )
    else:
        lines.append(
            t("debrief.key_rupture", lang, turn=moment.learner_turn if moment.learner_turn is not None else "—")
        )
    if moment.rupture is not None:
        lines.append(t("debrief.key_rupture_type", lang, rupture=display(moment.rupture.value, lang)))
    return lines


def _rows(debrief: Debrief) -> list[tuple[str | int, TimelinePoint | None, list[DebriefEvent]]]:
    """Timeline table rows: the start, then each turn with an alliance point or an event."""
    rows: list[tuple[str | int, TimelinePoint | None, list[DebriefEvent]]] = []
    initial = next((p for p in debrief.timeline if p.initial), None)
    if initial is not None:
        rows.append(("start", initial, []))
    points = {p.turn: p for p in debrief.timeline if not p.initial}
    for turn in sorted(set(points) | {e.turn for e in debrief.events}):
        rows.append((turn, points.get(turn), [e for e in debrief.events if e.turn == turn]))
    return rows
