"""A debrief as one self-contained HTML file: inline CSS and SVG, no script, every text escaped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agent.debrief.model import Debrief, DebriefEvent
from agent.domain.taxonomy import (
    COMPONENTS,
    AllianceComponent,
    Lang,
    display,
)
from agent.i18n.catalog import t

if TYPE_CHECKING:
    pass  # type: ignore[import-untyped]
from agent.debrief.svg import _esc, timeline_svg
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
    title = t("debrief.title", lang) + (f" — {name}" if name else "")
    started = debrief.started_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    body = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">{_esc(t("debrief.session", lang))} <code>{_esc(debrief.session_id)}</code> · '
        f"{_esc(debrief.persona_id)} · {_esc(debrief.llm)} · {_esc(started)} · "
        f"{debrief.turn_count} {_esc(t('debrief.turns', lang))}</p>",
    ]
    if debrief.parent_id is not None:
        body.append(f"<p>{_esc(t('debrief.branch_of', lang, parent=debrief.parent_id, turn=debrief.branch_turn))}</p>")
    body += [
        f"<h2>{_esc(t('debrief.timeline', lang))}</h2>",
        f"<p>{_esc(t('debrief.timeline_help', lang))}</p>",
        f"<figure>{timeline_svg(debrief, lang)}</figure>",
        "<table><thead><tr>"
        + "".join(
            f"<th>{_esc(h)}</th>"
            for h in [
                t("debrief.turn", lang),
                *(COMPONENTS[c].name(lang) for c in AllianceComponent),
                t("debrief.events", lang),
            ]
        )
        + "</tr></thead><tbody>",
    ]
    for turn, point, events in _rows(debrief):
        label = f"0 ({t('debrief.start', lang)})" if turn == "start" else str(turn)
        cells = "".join(f'<td class="n">{getattr(point, c.value) if point else ""}</td>' for c in AllianceComponent)
        flags = "".join(f'<span class="flag {e.kind.value}">{_esc(_event_line(e, lang, name))}</span>' for e in events)
        body.append(f'<tr><td class="n">{_esc(label)}</td>{cells}<td>{flags}</td></tr>')
    body.append("</tbody></table>")

    body.append(f"<h2>{_esc(t('debrief.counts', lang))}</h2><ul>")
    for head, detail in _counts_lines(debrief, lang):
        body.append(f"<li><strong>{_esc(head)}</strong>" + (_esc(colon + detail) if detail else "") + "</li>")
    body.append("</ul>")

    moment = debrief.key_moment
    if moment is not None:
        body.append(f"<h2>{_esc(t('debrief.key_moment', lang))}</h2>")
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
                quote.append(
                    f"<p><strong>{_esc(t('debrief.you_said', lang))}</strong>{_esc(colon + flagged.learner_text)}</p>"
                )
            if flagged.inner_monologue is not None:
                quote.append(
                    f"<p><strong>{_esc(t('debrief.thought', lang))}</strong>{_esc(colon)}"
                    f'<span class="thought">{_esc(flagged.inner_monologue)}</span></p>'
                )
            if flagged.patient_reply is not None:
                quote.append(
                    f"<p><strong>{_esc(t('debrief.reply', lang))}</strong>{_esc(colon + flagged.patient_reply)}</p>"
                )
            body.append("<blockquote>" + "".join(quote) + "</blockquote>")
        if moment.respond_turn is not None and moment.respond_text is not None:
            said = f"{t('debrief.key_next', lang, turn=moment.respond_turn)}{colon}{quoted(moment.respond_text, lang)}"
            body.append(f"<p>{_esc(said)}</p>")
        else:
            body.append(f"<p>{_esc(t('debrief.key_no_next', lang))}</p>")
        if moment.alternatives:
            body.append(f"<p>{_esc(t('debrief.alternatives', lang))}</p><ol>")
            for alt in moment.alternatives:
                body.append(
                    f"<li><strong>{_esc(move_name(alt, lang))}</strong> — {_esc(move_definition(alt, lang))}"
                    f'<blockquote lang="{alt.language}">{_esc(alt.text)}</blockquote></li>'
                )
            body.append("</ol>")

    if debrief.flagged:
        body += [f"<h2>{_esc(t('debrief.flagged', lang))}</h2>", f"<p>{_esc(t('debrief.flagged_help', lang))}</p>"]
        for f in debrief.flagged:
            turns = " → ".join(str(x) for x in (f.learner_turn, f.patient_turn) if x is not None)
            body.append(f"<h3>{_esc(t('debrief.turn', lang))} {_esc(turns)}</h3><ul>")
            if f.learner_text is not None:
                body.append(
                    f"<li><strong>{_esc(t('debrief.you_said', lang))}</strong>{_esc(colon + f.learner_text)} "
                    f"{_flags(f.learner_events, lang)}</li>"
                )
            if f.inner_monologue is not None:
                extra = []
                if f.emotions:
                    extra.append(
                        t("debrief.emotions", lang) + colon + ", ".join(display(e.value, lang) for e in f.emotions)
                    )
                if f.alliance is not None:
                    extra.append(t("debrief.alliance", lang) + colon + _triple(f.alliance, lang))
                body.append(
                    f"<li><strong>{_esc(t('debrief.thought', lang))}</strong>{_esc(colon)}"
                    f'<span class="thought">{_esc(f.inner_monologue)}</span>'
                    + "".join(f"<br><small>{_esc(x)}</small>" for x in extra)
                    + "</li>"
                )
            reply = f.patient_reply if f.patient_reply is not None else t("debrief.no_reply", lang)
            body.append(
                f"<li><strong>{_esc(t('debrief.reply', lang))}</strong>{_esc(colon + reply)} {_flags(f.patient_events, lang)}</li>"
            )
            body.append("</ul>")

    if debrief.missed_repairs:
        body.append(f"<h2>{_esc(t('debrief.missed', lang))}</h2><ul>")
        for m in debrief.missed_repairs:
            rupture = display(m.rupture.value, lang).lower() if m.rupture else "?"
            head = t("debrief.missed_item", lang, turn=m.turn, rupture=rupture, after=m.rupture_turn)
            body.append(f"<li>{_esc(head + colon + quoted(m.learner_text, lang))}</li>")
        body.append("</ul>")

    comp = debrief.comparison
    if comp is not None:
        body += [
            f"<h2>{_esc(t('debrief.comparison', lang))}</h2>",
            f"<p>{_esc(t('debrief.comparison_help', lang, turn=comp.branch_turn))}</p>",
        ]
        body.append("<ul>")
        for label, track in (
            (t("debrief.this_branch", lang), comp.this),
            (t("debrief.other_branch", lang), comp.other),
        ):
            if track.opening is not None:
                line = f"{label}, {t('debrief.opening', lang, turn=comp.branch_turn).lower()}{colon}{quoted(track.opening, lang)}"
                body.append(f"<li>{_esc(line)}</li>")
            if track.final is not None:
                body.append(
                    f"<li>{_esc(label + ' — ' + t('debrief.final', lang) + colon + _triple(track.final, lang))}</li>"
                )
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
