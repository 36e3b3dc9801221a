"""A debrief as one self-contained HTML file: inline CSS and SVG, no script, every text escaped.

The words come from here (the catalog and the taxonomy); the markup is `templates/debrief.html.j2`,
rendered with autoescaping on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.debrief.model import Debrief, DebriefEvent, FlaggedMoment
from agent.debrief.reading import reading_heading, reading_heads, reading_rows
from agent.debrief.rendering import render, rendered
from agent.debrief.svg import timeline_svg
from agent.debrief.wording import (
    _colon,
    _counts_lines,
    _event_line,
    _key_summary,
    _rows,
    _triple,
    event_name,
    move_definition,
    move_name,
    quoted,
)
from agent.domain.taxonomy import COMPONENTS, AllianceComponent, Lang, display
from agent.i18n.catalog import t

_TEXTS = (
    "debrief.timeline",
    "debrief.timeline_help",
    "debrief.counts",
    "debrief.key_moment",
    "debrief.you_said",
    "debrief.thought",
    "debrief.reply",
    "debrief.alternatives",
    "debrief.flagged",
    "debrief.flagged_help",
    "debrief.turn",
    "debrief.missed",
    "debrief.comparison",
    "reading.section",
    "reading.section_help",
)


def _flags(
    events: Iterable[DebriefEvent], lang: Lang, patient: str | None = None, with_party: bool = False
) -> list[dict[str, str]]:
    return [
        {"kind": e.kind.value, "text": _event_line(e, lang, patient) if with_party else event_name(e, lang)}
        for e in events
    ]


def _table(debrief: Debrief, lang: Lang) -> dict[str, Any]:
    heads = [t("debrief.turn", lang), *(COMPONENTS[c].name(lang) for c in AllianceComponent), t("debrief.events", lang)]
    rows = [
        {
            "label": f"0 ({t('debrief.start', lang)})" if turn == "start" else str(turn),
            "cells": [getattr(point, c.value) if point else "" for c in AllianceComponent],
            "flags": _flags(events, lang, debrief.patient_name, with_party=True),
        }
        for turn, point, events in _rows(debrief)
    ]
    return {"heads": heads, "rows": rows}


def _key(debrief: Debrief, lang: Lang) -> dict[str, Any] | None:
    moment = debrief.key_moment
    if moment is None:
        return None
    flagged = next(
        (f for f in debrief.flagged if f.learner_turn == moment.learner_turn and f.patient_turn == moment.patient_turn),
        None,
    )
    quote = None
    if flagged is not None:
        quote = {"you_said": flagged.learner_text, "thought": flagged.inner_monologue, "reply": flagged.patient_reply}
    if moment.respond_turn is not None and moment.respond_text is not None:
        said = (
            f"{t('debrief.key_next', lang, turn=moment.respond_turn)}{_colon(lang)}{quoted(moment.respond_text, lang)}"
        )
    else:
        said = t("debrief.key_no_next", lang)
    alternatives = [
        {"name": move_name(a, lang), "definition": move_definition(a, lang), "language": a.language, "text": a.text}
        for a in moment.alternatives
    ]
    return {"summary": _key_summary(debrief, lang), "flagged": quote, "next": said, "alternatives": alternatives}


def _flagged(f: FlaggedMoment, lang: Lang) -> dict[str, Any]:
    colon, extra = _colon(lang), []
    if f.emotions:
        extra.append(t("debrief.emotions", lang) + colon + ", ".join(display(e.value, lang) for e in f.emotions))
    if f.alliance is not None:
        extra.append(t("debrief.alliance", lang) + colon + _triple(f.alliance, lang))
    return {
        "turns": " → ".join(str(x) for x in (f.learner_turn, f.patient_turn) if x is not None),
        "you_said": f.learner_text,
        "learner_flags": _flags(f.learner_events, lang),
        "thought": f.inner_monologue,
        "extra": extra,
        "reply": f.patient_reply if f.patient_reply is not None else t("debrief.no_reply", lang),
        "patient_flags": _flags(f.patient_events, lang),
    }


def _missed(debrief: Debrief, lang: Lang) -> list[str]:
    lines = []
    for m in debrief.missed_repairs:
        rupture = display(m.rupture.value, lang).lower() if m.rupture else "?"
        head = t("debrief.missed_item", lang, turn=m.turn, rupture=rupture, after=m.rupture_turn)
        lines.append(head + _colon(lang) + quoted(m.learner_text, lang))
    return lines


def _comparison(debrief: Debrief, lang: Lang) -> dict[str, Any] | None:
    comp = debrief.comparison
    if comp is None:
        return None
    colon, lines = _colon(lang), []
    for label, track in ((t("debrief.this_branch", lang), comp.this), (t("debrief.other_branch", lang), comp.other)):
        if track.opening is not None:
            opening = t("debrief.opening", lang, turn=comp.branch_turn).lower()
            lines.append(f"{label}, {opening}{colon}{quoted(track.opening, lang)}")
        if track.final is not None:
            lines.append(label + " — " + t("debrief.final", lang) + colon + _triple(track.final, lang))
    return {"help": t("debrief.comparison_help", lang, turn=comp.branch_turn), "lines": lines}


def to_html(debrief: Debrief, lang: Lang) -> str:
    """One self-contained HTML file: inline CSS and SVG, no script, every text escaped."""
    name = debrief.patient_name
    branch_of = None
    if debrief.parent_id is not None:
        branch_of = t("debrief.branch_of", lang, parent=debrief.parent_id, turn=debrief.branch_turn)
    return render(
        "debrief.html.j2",
        lang=lang,
        title=t("debrief.title", lang) + (f" — {name}" if name else ""),
        meta={
            "session": t("debrief.session", lang),
            "session_id": debrief.session_id,
            "persona_id": debrief.persona_id,
            "llm": debrief.llm,
            "started": debrief.started_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
            "turn_count": debrief.turn_count,
            "turns": t("debrief.turns", lang),
        },
        branch_of=branch_of,
        text={key.split(".", 1)[1]: t(key, lang) for key in _TEXTS},
        colon=_colon(lang),
        # Markup, not text: the chart is the output of our own autoescaping template (timeline.svg.j2), where
        # every session text was already escaped. Nothing else, and never session text, is marked safe.
        svg=rendered(timeline_svg(debrief, lang)),
        table=_table(debrief, lang),
        counts=_counts_lines(debrief, lang),
        key=_key(debrief, lang),
        flagged=[_flagged(f, lang) for f in debrief.flagged],
        missed=_missed(debrief, lang),
        comparison=_comparison(debrief, lang),
        readings=[{"heading": reading_heading(c, lang), "rows": reading_rows(c, lang)} for c in debrief.readings],
        reading_heads=reading_heads(lang),
    )
