"""A debrief as Markdown, self-contained HTML, JSON, an inline SVG chart, or a Plotly figure.

`lang` is the UI language (headings, labels); the alternatives stay in the persona's
language. Every text from the session (the learner's words above all) is hostile input:
escaped in HTML and SVG, neutralised in Markdown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agent.debrief import Alternative, Debrief, DebriefEvent, TimelinePoint
from agent.debrief_text import party, t
from agent.taxonomy import COMPONENTS, EVENT_KINDS, AllianceComponent, EventKind, Lang, Speaker, display, label_for

if TYPE_CHECKING:
    import plotly.graph_objects as go  # type: ignore[import-untyped]

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
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "fr" else text


def _triple(point: TimelinePoint, lang: Lang) -> str:
    parts = [f"{COMPONENTS[c].name(lang)} {getattr(point, c.value)}" for c in AllianceComponent]
    return ", ".join(parts) + f" ({t('mean', lang)} {_num(point.mean, lang)})"


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
    return f"« {text} »" if lang == "fr" else f"“{text}”"


def _colon(lang: Lang) -> str:
    return " : " if lang == "fr" else ": "


def _counts_lines(debrief: Debrief, lang: Lang) -> list[tuple[str, str]]:
    """(heading, detail) pairs for the counts section."""
    c, name = debrief.counts, debrief.patient_name
    by_type = ", ".join(f"{display(r.value, lang)} {n}" for r, n in c.ruptures_by_type.items())
    by_party = ", ".join(f"{party(s, lang, name)} {n}" for s, n in c.ruptures_by_party.items())
    total_ruptures = sum(c.ruptures_by_type.values())
    repairs = ", ".join(f"{display(label, lang)} {n}" for label, n in sorted(c.repairs_by_label.items()))
    repair_party = ", ".join(f"{party(s, lang, name)} {n}" for s, n in c.repairs_by_party.items())
    total_repairs = sum(c.repairs_by_label.values())
    semi = " ; " if lang == "fr" else "; "
    return [
        (
            t("ruptures", lang),
            f"{total_ruptures} — {t('by_type', lang)}{_colon(lang)}{by_type}{semi}"
            f"{t('by_party', lang)}{_colon(lang)}{by_party}",
        ),
        (
            t("repairs", lang),
            f"{total_repairs} — {repairs or t('none', lang)}{semi}{t('by_party', lang)}{_colon(lang)}{repair_party}",
        ),
        (t("repairs_worked", lang, worked=c.repairs_worked, assessed=c.repairs_assessed), ""),
        (t("missed", lang), str(c.missed_repairs)),
    ]


def _key_summary(debrief: Debrief, lang: Lang) -> list[str]:
    moment = debrief.key_moment
    assert moment is not None
    lines = []
    if moment.reason == "largest_drop" and moment.before is not None and moment.after is not None:
        lines.append(
            t(
                "key_drop",
                lang,
                turn=moment.learner_turn,
                before=_num(moment.before, lang),
                after=_num(moment.after, lang),
            )
        )
    else:
        lines.append(t("key_rupture", lang, turn=moment.learner_turn if moment.learner_turn is not None else "—"))
    if moment.rupture is not None:
        lines.append(t("key_rupture_type", lang, rupture=display(moment.rupture.value, lang)))
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


# --------------------------------------------------------------------------- Markdown


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(text: str) -> str:
    """One line of session text made inert in Markdown: no HTML, links, emphasis or table breaks."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def to_markdown(debrief: Debrief, lang: Lang, svg_path: str | None = None) -> str:
    """The debrief as Markdown that reads well in a text editor; `svg_path` links the chart beside it."""
    name = debrief.patient_name
    colon = _colon(lang)
    out: list[str] = [f"# {t('title', lang)}" + (f" — {md(name)}" if name else ""), ""]
    started = debrief.started_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    out.append(
        f"{t('session', lang)} `{debrief.session_id}` · {md(debrief.persona_id)} · {md(debrief.llm)} · "
        f"{started} · {debrief.turn_count} {t('turns', lang)}"
    )
    if debrief.parent_id is not None:
        out += ["", t("branch_of", lang, parent=f"`{debrief.parent_id}`", turn=debrief.branch_turn)]

    out += ["", f"## {t('timeline', lang)}", "", t("timeline_help", lang), ""]
    if svg_path:
        out += [f"![{t('timeline', lang)}]({svg_path})", ""]
    heads = [t("turn", lang), *(COMPONENTS[c].name(lang) for c in AllianceComponent), t("events", lang)]
    out += ["| " + " | ".join(heads) + " |", "|---:|---:|---:|---:|---|"]
    for turn, point, events in _rows(debrief):
        label = f"0 ({t('start', lang)})" if turn == "start" else str(turn)
        values = [str(getattr(point, c.value)) if point else "" for c in AllianceComponent]
        cell = "; ".join(_event_line(e, lang, name) for e in events)
        out.append("| " + " | ".join([label, *values, md(cell)]) + " |")

    out += ["", f"## {t('counts', lang)}", ""]
    for head, detail in _counts_lines(debrief, lang):
        out.append(f"- **{head}**" + (f"{colon}{detail}" if detail else ""))

    if debrief.key_moment is not None:
        out += _markdown_key_moment(debrief, lang)

    if debrief.flagged:
        out += ["", f"## {t('flagged', lang)}", "", t("flagged_help", lang)]
        for moment in debrief.flagged:
            turns = " → ".join(str(x) for x in (moment.learner_turn, moment.patient_turn) if x is not None)
            out += ["", f"### {t('turn', lang)} {turns}", ""]
            if moment.learner_text is not None:
                out.append(f"- **{t('you_said', lang)}**{colon}{md(moment.learner_text)}")
                out += [f"  - {md(event_name(e, lang))}" for e in moment.learner_events]
            if moment.inner_monologue is not None:
                out.append(f"- **{t('thought', lang)}**{colon}_{md(moment.inner_monologue)}_")
            if moment.emotions:
                feelings = ", ".join(display(e.value, lang) for e in moment.emotions)
                out.append(f"  - {t('emotions', lang)}{colon}{feelings}")
            if moment.alliance is not None:
                out.append(f"  - {t('alliance', lang)}{colon}{_triple(moment.alliance, lang)}")
            reply = md(moment.patient_reply) if moment.patient_reply is not None else t("no_reply", lang)
            out.append(f"- **{t('reply', lang)}**{colon}{reply}")
            out += [f"  - {md(event_name(e, lang))}" for e in moment.patient_events]

    if debrief.missed_repairs:
        out += ["", f"## {t('missed', lang)}", ""]
        for missed in debrief.missed_repairs:
            rupture = display(missed.rupture.value, lang).lower() if missed.rupture else "?"
            head = t("missed_item", lang, turn=missed.turn, rupture=rupture, after=missed.rupture_turn)
            out.append(f"- {head}{colon}{quoted(md(missed.learner_text), lang)}")

    if debrief.comparison is not None:
        out += _markdown_comparison(debrief, lang)
    return "\n".join(out) + "\n"


def _markdown_key_moment(debrief: Debrief, lang: Lang) -> list[str]:
    moment = debrief.key_moment
    assert moment is not None
    colon = _colon(lang)
    out = ["", f"## {t('key_moment', lang)}", "", *_key_summary(debrief, lang)]
    flagged = next(
        (f for f in debrief.flagged if f.learner_turn == moment.learner_turn and f.patient_turn == moment.patient_turn),
        None,
    )
    if flagged is not None:
        out.append("")
        if flagged.learner_text is not None:
            out.append(f"> **{t('you_said', lang)}**{colon}{md(flagged.learner_text)}")
        if flagged.inner_monologue is not None:
            out += [">", f"> **{t('thought', lang)}**{colon}_{md(flagged.inner_monologue)}_"]
        if flagged.patient_reply is not None:
            out += [">", f"> **{t('reply', lang)}**{colon}{md(flagged.patient_reply)}"]
    out.append("")
    if moment.respond_turn is not None and moment.respond_text is not None:
        out.append(f"{t('key_next', lang, turn=moment.respond_turn)}{colon}{quoted(md(moment.respond_text), lang)}")
    else:
        out.append(t("key_no_next", lang))
    if moment.alternatives:
        out += ["", t("alternatives", lang), ""]
        for i, alt in enumerate(moment.alternatives, start=1):
            out.append(f"{i}. **{move_name(alt, lang)}** — {move_definition(alt, lang)}")
            out.append(f"   > {md(alt.text)}")
    return out


def _markdown_comparison(debrief: Debrief, lang: Lang) -> list[str]:
    comp = debrief.comparison
    assert comp is not None
    colon = _colon(lang)
    out = ["", f"## {t('comparison', lang)}", "", t("comparison_help", lang, turn=comp.branch_turn), ""]
    for title, track in ((t("this_branch", lang), comp.this), (t("other_branch", lang), comp.other)):
        if track.opening is not None:
            out.append(
                f"- **{title}**, {t('opening', lang, turn=comp.branch_turn).lower()}{colon}{quoted(md(track.opening), lang)}"
            )
    this = {p.turn: p for p in comp.this.points}
    other = {p.turn: p for p in comp.other.points}

    def cell(p: TimelinePoint | None) -> str:
        return f"{p.goals}/{p.tasks}/{p.bond} ({_num(p.mean, lang)})" if p else ""

    triple = "/".join(COMPONENTS[c].name(lang) for c in AllianceComponent)
    out += [
        "",
        f"{triple} ({t('mean', lang)})",
        "",
        f"| {t('turn', lang)} | {t('this_branch', lang)} | {t('other_branch', lang)} |",
        "|---:|---|---|",
    ]
    if comp.start is not None:
        start = f"{comp.start.turn} ({t('start', lang)})" if comp.start.initial else str(comp.start.turn)
        out.append(f"| {start} | {cell(comp.start)} | {cell(comp.start)} |")
    for turn in sorted(set(this) | set(other)):
        out.append(f"| {turn} | {cell(this.get(turn))} | {cell(other.get(turn))} |")
    out.append(f"| **{t('final', lang)}** | **{cell(comp.this.final)}** | **{cell(comp.other.final)}** |")
    return out


# --------------------------------------------------------------------------- JSON


def to_json(debrief: Debrief) -> str:
    return debrief.model_dump_json(indent=2)


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

    title = t("timeline", lang) + (f" — {debrief.patient_name}" if debrief.patient_name else "")
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
        f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{_BOTTOM + 36}" text-anchor="middle">{_esc(t("turn", lang))}</text>',
        f'<text x="16" y="{(_TOP + _BOTTOM) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(_TOP + _BOTTOM) / 2:.0f})">{_esc(t("alliance_axis", lang))}</text>',
    ]
    points = debrief.timeline
    if not points:
        parts.append(
            f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{(_TOP + _BOTTOM) / 2:.0f}" text-anchor="middle" '
            f'fill="#777777">{_esc(t("no_points", lang))}</text>'
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
            tip = f"{t('turn', lang)} {p.turn}: {COMPONENTS[component].name(lang)} {getattr(p, component.value)}"
            parts.append(
                f'<circle cx="{sx(max(p.order, 0)):.1f}" cy="{sy(getattr(p, component.value)):.1f}" r="3" '
                f'fill="{colour}"><title>{_esc(tip)}</title></circle>'
            )
    stacked: dict[int, int] = {}
    for event in debrief.events:  # glyphs on the mean line, stacked upwards when several share a turn
        level = stacked.get(event.turn, 0)
        stacked[event.turn] = level + 1
        x, y = sx(event.turn), sy(_mean_at(points, event.turn)) - 16 * level
        tip = f"{t('turn', lang)} {event.turn} — {_event_line(event, lang, debrief.patient_name)}"
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
        parts.append(f'<text x="{x + 34}" y="{y + 4}">{_esc(t("other_mean", lang))}</text>')
    y, x = y + 24, _LEFT
    for kind in EventKind:
        parts.append(_glyph(kind, x + 8, y, True))
        parts.append(f'<text x="{x + 22}" y="{y + 4}">{_esc(EVENT_KINDS[kind].name(lang))}</text>')
        x += 200
    parts.append(f'<text x="{_LEFT}" y="{y + 24}" fill="#555555">{_esc(t("glyph_fill", lang))}</text>')
    return parts


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}
td.n{text-align:right}.meta{color:#666}.thought{font-style:italic;color:#5a3d7a}
blockquote{margin:.6em 0;padding:.4em .9em;border-left:4px solid #bbb;background:#f7f7f7}
.flag{display:inline-block;font-size:.85em;padding:0 .4em;margin:.1em .2em;border-radius:3px;background:#eee}
.rupture_marker{background:#fde2e2}.repair_attempt{background:#ece2f7}.missed_repair{background:#e6e6e6}
figure{margin:1em 0}svg{max-width:100%;height:auto}
"""


def _flags(events: Iterable[DebriefEvent], lang: Lang) -> str:
    return "".join(f'<span class="flag {e.kind.value}">{_esc(event_name(e, lang))}</span>' for e in events)


def to_html(debrief: Debrief, lang: Lang) -> str:
    """One self-contained HTML file: inline CSS and SVG, no script, every text escaped."""
    name = debrief.patient_name
    colon = _colon(lang)
    title = t("title", lang) + (f" — {name}" if name else "")
    started = debrief.started_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    body = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">{_esc(t("session", lang))} <code>{_esc(debrief.session_id)}</code> · '
        f"{_esc(debrief.persona_id)} · {_esc(debrief.llm)} · {_esc(started)} · "
        f"{debrief.turn_count} {_esc(t('turns', lang))}</p>",
    ]
    if debrief.parent_id is not None:
        body.append(f"<p>{_esc(t('branch_of', lang, parent=debrief.parent_id, turn=debrief.branch_turn))}</p>")
    body += [
        f"<h2>{_esc(t('timeline', lang))}</h2>",
        f"<p>{_esc(t('timeline_help', lang))}</p>",
        f"<figure>{timeline_svg(debrief, lang)}</figure>",
        "<table><thead><tr>"
        + "".join(
            f"<th>{_esc(h)}</th>"
            for h in [t("turn", lang), *(COMPONENTS[c].name(lang) for c in AllianceComponent), t("events", lang)]
        )
        + "</tr></thead><tbody>",
    ]
    for turn, point, events in _rows(debrief):
        label = f"0 ({t('start', lang)})" if turn == "start" else str(turn)
        cells = "".join(f'<td class="n">{getattr(point, c.value) if point else ""}</td>' for c in AllianceComponent)
        flags = "".join(f'<span class="flag {e.kind.value}">{_esc(_event_line(e, lang, name))}</span>' for e in events)
        body.append(f'<tr><td class="n">{_esc(label)}</td>{cells}<td>{flags}</td></tr>')
    body.append("</tbody></table>")

    body.append(f"<h2>{_esc(t('counts', lang))}</h2><ul>")
    for head, detail in _counts_lines(debrief, lang):
        body.append(f"<li><strong>{_esc(head)}</strong>" + (_esc(colon + detail) if detail else "") + "</li>")
    body.append("</ul>")

    moment = debrief.key_moment
    if moment is not None:
        body.append(f"<h2>{_esc(t('key_moment', lang))}</h2>")
        body += [f"<p>{_esc(line)}</p>" for line in _key_summary(debrief, lang)]
        flagged = next(
            (
                f
                for f in debrief.flagged
                if f.learner_turn == moment.learner_turn and f.patient_turn == moment.patient_turn
            ),
            None,
        )
        if flagged is not None:
            quote = []
            if flagged.learner_text is not None:
                quote.append(f"<p><strong>{_esc(t('you_said', lang))}</strong>{_esc(colon + flagged.learner_text)}</p>")
            if flagged.inner_monologue is not None:
                quote.append(
                    f"<p><strong>{_esc(t('thought', lang))}</strong>{_esc(colon)}"
                    f'<span class="thought">{_esc(flagged.inner_monologue)}</span></p>'
                )
            if flagged.patient_reply is not None:
                quote.append(f"<p><strong>{_esc(t('reply', lang))}</strong>{_esc(colon + flagged.patient_reply)}</p>")
            body.append("<blockquote>" + "".join(quote) + "</blockquote>")
        if moment.respond_turn is not None and moment.respond_text is not None:
            said = f"{t('key_next', lang, turn=moment.respond_turn)}{colon}{quoted(moment.respond_text, lang)}"
            body.append(f"<p>{_esc(said)}</p>")
        else:
            body.append(f"<p>{_esc(t('key_no_next', lang))}</p>")
        if moment.alternatives:
            body.append(f"<p>{_esc(t('alternatives', lang))}</p><ol>")
            for alt in moment.alternatives:
                body.append(
                    f"<li><strong>{_esc(move_name(alt, lang))}</strong> — {_esc(move_definition(alt, lang))}"
                    f'<blockquote lang="{alt.language}">{_esc(alt.text)}</blockquote></li>'
                )
            body.append("</ol>")

    if debrief.flagged:
        body += [f"<h2>{_esc(t('flagged', lang))}</h2>", f"<p>{_esc(t('flagged_help', lang))}</p>"]
        for f in debrief.flagged:
            turns = " → ".join(str(x) for x in (f.learner_turn, f.patient_turn) if x is not None)
            body.append(f"<h3>{_esc(t('turn', lang))} {_esc(turns)}</h3><ul>")
            if f.learner_text is not None:
                body.append(
                    f"<li><strong>{_esc(t('you_said', lang))}</strong>{_esc(colon + f.learner_text)} "
                    f"{_flags(f.learner_events, lang)}</li>"
                )
            if f.inner_monologue is not None:
                extra = []
                if f.emotions:
                    extra.append(t("emotions", lang) + colon + ", ".join(display(e.value, lang) for e in f.emotions))
                if f.alliance is not None:
                    extra.append(t("alliance", lang) + colon + _triple(f.alliance, lang))
                body.append(
                    f"<li><strong>{_esc(t('thought', lang))}</strong>{_esc(colon)}"
                    f'<span class="thought">{_esc(f.inner_monologue)}</span>'
                    + "".join(f"<br><small>{_esc(x)}</small>" for x in extra)
                    + "</li>"
                )
            reply = f.patient_reply if f.patient_reply is not None else t("no_reply", lang)
            body.append(
                f"<li><strong>{_esc(t('reply', lang))}</strong>{_esc(colon + reply)} {_flags(f.patient_events, lang)}</li>"
            )
            body.append("</ul>")

    if debrief.missed_repairs:
        body.append(f"<h2>{_esc(t('missed', lang))}</h2><ul>")
        for m in debrief.missed_repairs:
            rupture = display(m.rupture.value, lang).lower() if m.rupture else "?"
            head = t("missed_item", lang, turn=m.turn, rupture=rupture, after=m.rupture_turn)
            body.append(f"<li>{_esc(head + colon + quoted(m.learner_text, lang))}</li>")
        body.append("</ul>")

    comp = debrief.comparison
    if comp is not None:
        body += [
            f"<h2>{_esc(t('comparison', lang))}</h2>",
            f"<p>{_esc(t('comparison_help', lang, turn=comp.branch_turn))}</p>",
        ]
        body.append("<ul>")
        for label, track in ((t("this_branch", lang), comp.this), (t("other_branch", lang), comp.other)):
            if track.opening is not None:
                line = (
                    f"{label}, {t('opening', lang, turn=comp.branch_turn).lower()}{colon}{quoted(track.opening, lang)}"
                )
                body.append(f"<li>{_esc(line)}</li>")
            if track.final is not None:
                body.append(f"<li>{_esc(label + ' — ' + t('final', lang) + colon + _triple(track.final, lang))}</li>")
        body.append("</ul>")

    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


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
                name=t("other_mean", lang),
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
        title=t("timeline", lang) + (f" — {debrief.patient_name}" if debrief.patient_name else ""),
        xaxis={"title": {"text": t("turn", lang)}, "range": [x_min - 0.3, x_max + 0.3], "dtick": 1},
        yaxis={"title": {"text": t("alliance_axis", lang)}, "range": [0.5, 7.5], "dtick": 1},
        legend={"orientation": "h", "y": -0.25},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return figure
