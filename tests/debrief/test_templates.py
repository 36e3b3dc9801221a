"""HTML and SVG come from autoescaping Jinja2 templates: hostile session text stays text.

Every text from a session is hostile: the learner's words, the patient's replies and thoughts, the
evaluator's evidence and rationale, names and ids. Each check reads the output back with a parser:
the hostile text is there as text (decoded, exactly as typed) and never as a tag, an attribute or an
evaluated template expression.
"""

from __future__ import annotations

import io
import re
import tokenize
import uuid
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

from agent.debrief import rendering
from agent.debrief.build import build_debrief
from agent.debrief.html import to_html
from agent.debrief.model import Debrief
from agent.debrief.svg import timeline_svg
from agent.domain.events import AllianceEvent
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Emotion, EventKind, Move, RuptureType, Speaker
from agent.domain.visit import VisitState
from agent.storage.access import Requester
from agent.web import pages
from agent.web.review import _review_page
from tests.support.web_client import Web

REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    "<script>alert(1)</script>",
    '"onmouseover=alert(2) x="',
    "'onfocus=alert(3) y='",
    "</svg></figure><img src=x onerror=alert(4)>",
    '{{ "QZ" ~ "JX" }}{% if 1 %}x{% endif %}',
    "&amp; already",
]
PAYLOAD = " ".join(HOSTILE)

# Every tag the pages and the chart are made of: anything else came from a session.
PAGE_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "code", "figure", "table"),
    *("thead", "tbody", "tr", "th", "td", "span", "ul", "ol", "li", "strong", "blockquote", "br", "small", "a"),
}
SVG_TAGS = {"svg", "title", "rect", "text", "line", "polyline", "circle", "path"}


class _Reader(HTMLParser):
    """The tags, attributes and decoded text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_html(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


def read_svg(svg: str) -> tuple[set[str], list[tuple[str, str]], str]:
    root = ElementTree.fromstring(svg)  # still well-formed XML
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    attributes = [(name, value) for element in root.iter() for name, value in element.attrib.items()]
    return tags, attributes, "".join(root.itertext())


def assert_only_text(tags: set[str], allowed: set[str], attributes: list[tuple[str, str]]) -> None:
    assert tags <= allowed, tags - allowed  # no element came from a session
    assert not [name for name, _ in attributes if name.startswith("on")]  # no attribute broke out


def hostile_sessions() -> tuple[Session, Session]:
    """Two branches of one visit, hostile in every text they hold; they part at the learner's turn 2."""

    def branch(opening: str) -> Session:
        session = Session(persona_id=f"p {PAYLOAD}", language="fr", llm=f"llm {PAYLOAD}", parent_id=f"parent {PAYLOAD}")
        session.branch_turn = 2
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
                evidence=f"Preuve {PAYLOAD}",
                confidence=0.9,
                rationale=f"Raison {PAYLOAD}",
            )
        )
        after = session.add_learner_turn(opening)  # no repair after the rupture: the key moment's next turn
        session.events.append(
            AllianceEvent(
                turn=after.id,
                speaker=Speaker.clinician,
                kind=EventKind.missed_repair,
                rupture=RuptureType.withdrawal,
                evidence=f"Manqué {PAYLOAD}",
                confidence=0.8,
                rationale=f"Raison {PAYLOAD}",
            )
        )
        assert learner.id < patient.id
        return session

    return branch(f"Ensuite {PAYLOAD}"), branch(f"Autrement {PAYLOAD}")


def hostile_debrief() -> Debrief:
    this, other = hostile_sessions()
    debrief = build_debrief(this, compare=other)
    return debrief.model_copy(update={"patient_name": f"Mme {PAYLOAD}", "session_id": f"s {PAYLOAD}"})


SESSION_TEXTS = ["Docteur : ", "Je pense ", "Réponse ", "Ensuite ", "Autrement ", "Mme ", "s ", "p ", "llm ", "parent "]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_text_is_escaped_in_the_page(lang: str) -> None:
    debrief = hostile_debrief()
    assert debrief.flagged and debrief.missed_repairs and debrief.key_moment and debrief.comparison
    page = to_html(debrief, lang)  # type: ignore[arg-type]

    reader = read_html(page)
    assert_only_text(set(reader.tags), PAGE_TAGS | SVG_TAGS, reader.attributes)
    text = "".join(reader.text)
    for head in SESSION_TEXTS:
        assert head + PAYLOAD in text, head  # shown exactly as typed: decoded once, template syntax not evaluated
    assert "QZJX" not in text.replace(PAYLOAD, "")  # the template syntax typed by the learner was never evaluated
    assert "<script" not in page and "<img" not in page
    assert "&amp;amp; already" in page  # an entity the learner typed is escaped once more
    assert page.count("</svg>") == 1 and page.count("</figure>") == 1  # the learner's closing tags closed nothing
    assert reader.tags.count("svg") == 1 and reader.tags.count("script") == 0


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_text_is_escaped_in_the_chart(lang: str) -> None:
    debrief = hostile_debrief()
    svg = timeline_svg(debrief, lang)  # type: ignore[arg-type]
    tags, attributes, text = read_svg(svg)
    assert_only_text(tags, SVG_TAGS, attributes)
    for head in ("Mme ", "Preuve ", "Manqué "):  # the title and the glyphs' tooltips
        assert head + PAYLOAD in text, head
    assert any(name == "aria-label" and PAYLOAD in value for name, value in attributes)  # an attribute, kept whole
    assert "<script" not in svg and "<img" not in svg and svg.count("</svg>") == 1


def test_the_review_page_escapes_what_it_lists() -> None:
    rows = [(f"t {PAYLOAD}", f"o {PAYLOAD}", f"p {PAYLOAD}", "2026-01-02T03:04:05", 2, 1, True)]
    rows.append(("t2", "bob", f"q {PAYLOAD}", "2026-01-02T03:04:05", 1, 2, False))
    for role in ("faculty", "learner"):
        page = _review_page(rows, Requester(identifier=f"me {PAYLOAD}", role=role), "en")  # type: ignore[arg-type]
        reader = read_html(page)
        assert_only_text(set(reader.tags), PAGE_TAGS, reader.attributes)
        text = "".join(reader.text)
        for head in ("o ", "p ", "q ", "me "):
            assert head + PAYLOAD in text, head
        links = [value for name, value in reader.attributes if name == "href"]
        assert links[0] == "/alliance/cohort?lang=en"  # the cohort page, then the debriefs
        # Faculty also get each session's labelling and agreement pages (issue 15); escaped the same way.
        pages = (
            ("/alliance/debrief/", "/alliance/label/", "/alliance/agreement/")
            if role == "faculty"
            else ("/alliance/debrief/",)
        )
        assert links[1:] and all(value.startswith(pages) for value in links[1:])
        assert all(f"t {PAYLOAD}?" in value for value in links[1:] if "/t " in value)
        assert {value.split("/")[2] for value in links[1:]} == {p.split("/")[2] for p in pages}
        assert "<script" not in page and "<img" not in page


async def test_the_review_routes_escape_a_hostile_session(web: Web) -> None:
    thread_id = str(uuid.uuid4())
    this, _ = hostile_sessions()
    await web.layer.sessions.save(thread_id, f"o {PAYLOAD}", this, VisitState(ended=True))
    prof = await web.login("prof")

    listing = await prof.get("/alliance/review?lang=en")
    assert listing.status_code == 200
    reader = read_html(listing.text)
    assert_only_text(set(reader.tags), PAGE_TAGS, reader.attributes)
    assert f"o {PAYLOAD}" in "".join(reader.text) and f"p {PAYLOAD}" in "".join(reader.text)

    page = await prof.get(f"/alliance/debrief/{thread_id}?lang=fr")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    reader = read_html(page.text)
    assert_only_text(set(reader.tags), PAGE_TAGS | SVG_TAGS, reader.attributes)
    assert f"Je pense {PAYLOAD}" in "".join(reader.text) and "<script" not in page.text


@pytest.mark.parametrize("name", ["debrief.html.j2", "timeline.svg.j2", "review.html.j2", "x.html", "x.svg"])
def test_the_template_environments_autoescape_html_and_svg(name: str) -> None:
    for environment in (rendering.environment(), pages.environment()):
        autoescape = environment.autoescape
        assert (autoescape(name) if callable(autoescape) else autoescape) is True
        assert environment.from_string("{{ x }}").render(x="<b>'\"&") == "&lt;b&gt;&#39;&#34;&amp;"


def test_the_template_environments_are_built_once_and_refuse_missing_values() -> None:
    assert rendering.environment() is rendering.environment() and pages.environment() is pages.environment()
    with pytest.raises(Exception, match="undefined"):
        pages.environment().get_template("review.html.j2").render(lang="en")
    with pytest.raises(Exception, match="undefined"):
        rendering.environment().get_template("timeline.svg.j2").render(w=1)


def test_only_our_own_svg_is_embedded_as_markup() -> None:
    """`rendered` marks a template's output safe; session text given to it unescaped would be a hole."""
    source = (REPO / "agent/debrief/html.py").read_text(encoding="utf-8")
    assert re.findall(r"rendered\((.*)\)", source) == ["timeline_svg(debrief, lang)"]
    assert "Markup(" not in source and "|safe" not in "".join(
        p.read_text(encoding="utf-8") for p in (REPO / "agent").glob("*/templates/*.j2")
    )


MARKUP = re.compile(r"<[A-Za-z/!]")


def markup_literals(source: str) -> list[str]:
    """String literals (f-strings included) in Python source that hold markup: an opening or closing tag."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)) and MARKUP.search(token.string):
            found.append(token.string)
    return found


def test_the_markup_check_finds_markup_in_python() -> None:
    assert markup_literals('x = f"<h1>{title}</h1>"\n')
    assert markup_literals('x = f"{a}<br>{b}"\n')
    assert markup_literals("y = '</table>'\n")
    assert markup_literals('z = "<div class=x>"\n')
    assert markup_literals('w = """\n<!DOCTYPE html>\n"""\n')
    assert not markup_literals('z = "a < b" if x < y else "<= 3"\n')


@pytest.mark.parametrize("module", ["agent/debrief/html.py", "agent/debrief/svg.py", "agent/web/review.py"])
def test_no_markup_is_assembled_in_python(module: str) -> None:
    assert markup_literals((REPO / module).read_text(encoding="utf-8")) == []
