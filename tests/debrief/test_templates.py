"""HTML and SVG come from autoescaping Jinja2 templates: hostile session text stays text."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path
from xml.etree import ElementTree

import pytest

from agent.debrief import rendering
from agent.debrief.build import build_debrief
from agent.debrief.html import to_html
from agent.debrief.svg import timeline_svg
from agent.domain.events import AllianceEvent
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Emotion, EventKind, Move, RuptureType, Speaker
from agent.web import pages

REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    "<script>alert(1)</script>",
    '"onmouseover=alert(2) x="',
    "</svg><img src=x onerror=alert(3)>",
    "{{ 7*7 }}",
    "&amp; already",
]
PAYLOAD = " ".join(HOSTILE)


def hostile_session() -> Session:
    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    learner = session.add_learner_turn(f"Docteur : {PAYLOAD}")
    hidden = HiddenState(
        inner_monologue=f"Je pense {PAYLOAD}",
        emotions=[Emotion.anxiety],
        alliance=AlliancePerception(goals=2, tasks=2, bond=2),
        intended_move=Move.withdrawal,
    )
    patient = session.add_patient_turn(f"Réponse {PAYLOAD}", hidden)
    session.events.append(
        AllianceEvent(
            turn=patient.id,
            speaker=Speaker.patient,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.withdrawal,
            evidence=f"Réponse {PAYLOAD}",
            confidence=0.9,
            rationale=PAYLOAD,
        )
    )
    assert learner.id < patient.id
    return session


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_text_is_escaped_in_the_page_and_the_chart(lang: str) -> None:
    debrief = build_debrief(hostile_session())
    page = to_html(debrief, lang)  # type: ignore[arg-type]
    svg = timeline_svg(debrief, lang)  # type: ignore[arg-type]
    for text in (page, svg):
        assert "<script" not in text and "<img" not in text and '"onmouseover' not in text  # no attribute broken out
        assert "&lt;script&gt;" in text
        assert "{{ 7*7 }}" in text and "49" not in text.split("{{ 7*7 }}")[0][-3:]  # shown, never evaluated
        assert "&amp;amp; already" in text  # escaped once more: shown as typed
    assert page.count("</svg>") == 1  # the learner's "</svg>" did not close the chart
    ElementTree.fromstring(svg)  # the chart is still well-formed XML


def test_the_review_page_escapes_what_it_lists() -> None:
    rows = [
        {"thread": "t<1>", "owner": "<b>bob</b>", "persona": PAYLOAD, "updated": "now", "turns": 2, "readable": True}
    ]
    html = pages.render(
        "review.html.j2",
        lang="en",
        prefix="/alliance",
        title="T",
        scope="S",
        who="<i>me</i>",
        empty="E",
        in_progress="P",
        heads=["a"],
        rows=rows,
    )
    assert "<b>bob</b>" not in html and "&lt;b&gt;bob&lt;/b&gt;" in html
    assert "<script" not in html and "t&lt;1&gt;" in html and "<i>me</i>" not in html


def test_the_template_environments_escape_and_refuse_missing_values() -> None:
    for environment in (rendering.environment(), pages.environment()):
        template = environment.from_string("{{ x }}")
        assert environment.autoescape is True
        assert template.render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(Exception, match="undefined"):
        pages.environment().get_template("review.html.j2").render(lang="en")


def markup_literals(source: str) -> list[str]:
    """String literals in Python source that hold markup (an opening or closing tag)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)):
            body = token.string.lstrip("rbfuRBFU").strip("'\"")
            if body.lstrip().startswith("<") and any(c.isalpha() or c in "/!" for c in body.lstrip()[1:2]):
                found.append(token.string)
    return found


def test_the_markup_check_finds_markup_in_python() -> None:
    assert markup_literals('x = f"<h1>{title}</h1>"\n')
    assert markup_literals("y = '</table>'\n")
    assert not markup_literals('z = "a < b"\n')


@pytest.mark.parametrize("module", ["agent/debrief/html.py", "agent/debrief/svg.py", "agent/web/review.py"])
def test_no_markup_is_assembled_in_python(module: str) -> None:
    assert markup_literals((REPO / module).read_text(encoding="utf-8")) == []
