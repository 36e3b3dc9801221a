"""A debrief as Markdown: every text from the session neutralised."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agent.debrief.model import Debrief, TimelinePoint
from agent.domain.taxonomy import (
    COMPONENTS,
    AllianceComponent,
    Lang,
    display,
)
from agent.i18n.catalog import t

if TYPE_CHECKING:
    pass  # type: ignore[import-untyped]
from agent.debrief.reading import reading_heading, reading_heads, reading_rows
from agent.debrief.wording import (
    _colon,
    _counts_lines,
    _event_line,
    _key_summary,
    _num,
    _rows,
    _triple,
    event_name,
    move_definition,
    move_name,
    quoted,
)

# --------------------------------------------------------------------------- Markdown


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(text: str) -> str:
    """One line of session text made inert in Markdown: no HTML, links, emphasis or table breaks."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def to_markdown(debrief: Debrief, lang: Lang, svg_path: str | None = None) -> str:
    """The debrief as Markdown that reads well in a text editor; `svg_path` links the chart beside it."""
    name = debrief.patient_name
    colon = _colon(lang)
    out: list[str] = [f"# {t('debrief.title', lang)}" + (f" — {md(name)}" if name else ""), ""]
    started = debrief.started_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    out.append(
        f"{t('debrief.session', lang)} `{debrief.session_id}` · {md(debrief.persona_id)} · {md(debrief.llm)} · "
        f"{started} · {debrief.turn_count} {t('debrief.turns', lang)}"
    )
    if debrief.parent_id is not None:
        out += ["", t("debrief.branch_of", lang, parent=f"`{debrief.parent_id}`", turn=debrief.branch_turn)]

    out += ["", f"## {t('debrief.timeline', lang)}", "", t("debrief.timeline_help", lang), ""]
    if svg_path:
        out += [f"![{t('debrief.timeline', lang)}]({svg_path})", ""]
    heads = [t("debrief.turn", lang), *(COMPONENTS[c].name(lang) for c in AllianceComponent), t("debrief.events", lang)]
    out += ["| " + " | ".join(heads) + " |", "|---:|---:|---:|---:|---|"]
    for turn, point, events in _rows(debrief):
        label = f"0 ({t('debrief.start', lang)})" if turn == "start" else str(turn)
        values = [str(getattr(point, c.value)) if point else "" for c in AllianceComponent]
        cell = "; ".join(_event_line(e, lang, name) for e in events)
        out.append("| " + " | ".join([label, *values, md(cell)]) + " |")

    out += ["", f"## {t('debrief.counts', lang)}", ""]
    for head, detail in _counts_lines(debrief, lang):
        out.append(f"- **{head}**" + (f"{colon}{detail}" if detail else ""))

    if debrief.readings:
        out += _markdown_readings(debrief, lang)

    if debrief.key_moment is not None:
        out += _markdown_key_moment(debrief, lang)

    if debrief.flagged:
        out += ["", f"## {t('debrief.flagged', lang)}", "", t("debrief.flagged_help", lang)]
        for moment in debrief.flagged:
            turns = " → ".join(str(x) for x in (moment.learner_turn, moment.patient_turn) if x is not None)
            out += ["", f"### {t('debrief.turn', lang)} {turns}", ""]
            if moment.learner_text is not None:
                out.append(f"- **{t('debrief.you_said', lang)}**{colon}{md(moment.learner_text)}")
                out += [f"  - {md(event_name(e, lang))}" for e in moment.learner_events]
            if moment.inner_monologue is not None:
                out.append(f"- **{t('debrief.thought', lang)}**{colon}_{md(moment.inner_monologue)}_")
            if moment.emotions:
                feelings = ", ".join(display(e.value, lang) for e in moment.emotions)
                out.append(f"  - {t('debrief.emotions', lang)}{colon}{feelings}")
            if moment.alliance is not None:
                out.append(f"  - {t('debrief.alliance', lang)}{colon}{_triple(moment.alliance, lang)}")
            reply = md(moment.patient_reply) if moment.patient_reply is not None else t("debrief.no_reply", lang)
            out.append(f"- **{t('debrief.reply', lang)}**{colon}{reply}")
            out += [f"  - {md(event_name(e, lang))}" for e in moment.patient_events]

    if debrief.missed_repairs:
        out += ["", f"## {t('debrief.missed', lang)}", ""]
        for missed in debrief.missed_repairs:
            rupture = display(missed.rupture.value, lang).lower() if missed.rupture else "?"
            head = t("debrief.missed_item", lang, turn=missed.turn, rupture=rupture, after=missed.rupture_turn)
            out.append(f"- {head}{colon}{quoted(md(missed.learner_text), lang)}")

    if debrief.comparison is not None:
        out += _markdown_comparison(debrief, lang)
    return "\n".join(out) + "\n"


def _markdown_readings(debrief: Debrief, lang: Lang) -> list[str]:
    """The learner's readings of the patient beside her hidden state: one table per reading."""
    out = ["", f"## {t('reading.section', lang)}", "", t("reading.section_help", lang)]
    for comparison in debrief.readings:
        out += ["", f"### {reading_heading(comparison, lang)}", ""]
        out += ["| " + " | ".join(reading_heads(lang)) + " |", "|---|---|---|---:|"]
        out += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in reading_rows(comparison, lang)]
    return out


def _markdown_key_moment(debrief: Debrief, lang: Lang) -> list[str]:
    moment = debrief.key_moment
    assert moment is not None
    colon = _colon(lang)
    out = ["", f"## {t('debrief.key_moment', lang)}", "", *_key_summary(debrief, lang)]
    flagged = next(
        (f for f in debrief.flagged if f.learner_turn == moment.learner_turn and f.patient_turn == moment.patient_turn),
        None,
    )
    if flagged is not None:
        out.append("")
        if flagged.learner_text is not None:
            out.append(f"> **{t('debrief.you_said', lang)}**{colon}{md(flagged.learner_text)}")
        if flagged.inner_monologue is not None:
            out += [">", f"> **{t('debrief.thought', lang)}**{colon}_{md(flagged.inner_monologue)}_"]
        if flagged.patient_reply is not None:
            out += [">", f"> **{t('debrief.reply', lang)}**{colon}{md(flagged.patient_reply)}"]
    out.append("")
    if moment.respond_turn is not None and moment.respond_text is not None:
        out.append(
            f"{t('debrief.key_next', lang, turn=moment.respond_turn)}{colon}{quoted(md(moment.respond_text), lang)}"
        )
    else:
        out.append(t("debrief.key_no_next", lang))
    if moment.alternatives:
        out += ["", t("debrief.alternatives", lang), ""]
        for i, alt in enumerate(moment.alternatives, start=1):
            out.append(f"{i}. **{move_name(alt, lang)}** — {move_definition(alt, lang)}")
            out.append(f"   > {md(alt.text)}")
    return out


def _markdown_comparison(debrief: Debrief, lang: Lang) -> list[str]:
    comp = debrief.comparison
    assert comp is not None
    colon = _colon(lang)
    out = ["", f"## {t('debrief.comparison', lang)}", "", t("debrief.comparison_help", lang, turn=comp.branch_turn), ""]
    for title, track in ((t("debrief.this_branch", lang), comp.this), (t("debrief.other_branch", lang), comp.other)):
        if track.opening is not None:
            out.append(
                f"- **{title}**, {t('debrief.opening', lang, turn=comp.branch_turn).lower()}{colon}{quoted(md(track.opening), lang)}"
            )
    this = {p.turn: p for p in comp.this.points}
    other = {p.turn: p for p in comp.other.points}

    def cell(p: TimelinePoint | None) -> str:
        return f"{p.goals}/{p.tasks}/{p.bond} ({_num(p.mean, lang)})" if p else ""

    triple = "/".join(COMPONENTS[c].name(lang) for c in AllianceComponent)
    out += [
        "",
        f"{triple} ({t('debrief.mean', lang)})",
        "",
        f"| {t('debrief.turn', lang)} | {t('debrief.this_branch', lang)} | {t('debrief.other_branch', lang)} |",
        "|---:|---|---|",
    ]
    if comp.start is not None:
        start = f"{comp.start.turn} ({t('debrief.start', lang)})" if comp.start.initial else str(comp.start.turn)
        out.append(f"| {start} | {cell(comp.start)} | {cell(comp.start)} |")
    for turn in sorted(set(this) | set(other)):
        out.append(f"| {turn} | {cell(this.get(turn))} | {cell(other.get(turn))} |")
    out.append(f"| **{t('debrief.final', lang)}** | **{cell(comp.this.final)}** | **{cell(comp.other.final)}** |")
    return out
