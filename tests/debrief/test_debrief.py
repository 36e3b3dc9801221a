"""The debrief (timeline, revealed thoughts, key moment, counts), its exports, the comparison of two branches.

Branching itself is tested with the session (tests/domain), the patient and the conversation; the command
`alliance debrief` in tests/cli.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from agent.debrief.build import build_debrief
from agent.debrief.figure import timeline_figure
from agent.debrief.html import to_html
from agent.debrief.markdown import to_markdown
from agent.debrief.model import Debrief, to_json
from agent.debrief.svg import timeline_svg
from agent.domain.session import Session
from agent.domain.taxonomy import EventKind, RepairPrinciple, RuptureType, Speaker
from agent.persona.model import Persona
from tests.support.visits import FR_SHAME, alliance_event, english_session, french_session, hidden_state

SVG = "{http://www.w3.org/2000/svg}"

_C, _P = Speaker.clinician, Speaker.patient
_R = EventKind.rupture_marker


# --------------------------------------------------------------------------- content


def test_timeline_starts_at_the_personas_initial_alliance(persona_fr: Persona) -> None:
    debrief = build_debrief(french_session(), persona_fr)
    start = debrief.timeline[0]
    assert start.initial and (start.turn, start.goals, start.tasks, start.bond) == (0, 3, 3, 4)
    assert [p.turn for p in debrief.timeline[1:]] == [1, 3, 5, 7, 9, 11]
    assert debrief.timeline[2].mean == 2.0 and debrief.timeline[2].emotions[0].value == "shame"
    assert debrief.patient_name == "Mme Bertrand"


def test_without_the_persona_the_timeline_has_only_patient_turns() -> None:
    debrief = build_debrief(french_session())
    assert [p.turn for p in debrief.timeline] == [1, 3, 5, 7, 9, 11]
    assert not any(p.initial for p in debrief.timeline)
    assert debrief.patient_name is None


def test_events_are_placed_once_with_taxonomy_labels(persona_fr: Persona) -> None:
    events = build_debrief(french_session(), persona_fr).events
    assert [(e.turn, e.kind.value, e.label) for e in events] == [
        (3, "rupture_marker", "withdrawal"),
        (4, "missed_repair", "withdrawal"),
        (5, "rupture_marker", "withdrawal"),
        (6, "repair_attempt", "emotional"),
        (8, "rupture_marker", "confrontation"),
        (9, "rupture_marker", "confrontation"),
        (10, "repair_attempt", "explore_perspectives"),
    ]
    assert events[0].subtype == "deferential_appeasing" and events[3].speaker is Speaker.clinician


def test_flagged_moments_pair_the_learners_words_with_the_thought_right_after(persona_fr: Persona) -> None:
    debrief = build_debrief(french_session(), persona_fr)
    by_turn = {m.learner_turn: m for m in debrief.flagged}
    assert sorted(by_turn) == [2, 4, 6, 8, 10]  # the greeting (0, 1) has no flag
    moment = by_turn[2]
    assert moment.learner_text is not None and moment.learner_text.startswith("Trois mois, c'est beaucoup")
    assert moment.inner_monologue == FR_SHAME  # turn 3's thought, not turn 1's
    assert moment.patient_turn == 3 and moment.patient_reply == "D'accord… si vous le dites."
    assert [e.label for e in moment.patient_events] == ["withdrawal"] and moment.learner_events == []
    assert moment.alliance is not None and moment.alliance.mean == 2.0
    assert [e.kind for e in by_turn[4].learner_events] == [EventKind.missed_repair]
    assert by_turn[4].inner_monologue == "Je veux juste partir d'ici."


def test_counts_by_type_party_and_label_and_repairs_that_worked(persona_fr: Persona) -> None:
    debrief = build_debrief(french_session(), persona_fr)
    counts = debrief.counts
    assert counts.ruptures_by_type == {RuptureType.withdrawal: 2, RuptureType.confrontation: 2}
    assert counts.ruptures_by_party == {Speaker.clinician: 1, Speaker.patient: 3}
    assert counts.repairs_by_label == {"emotional": 1, "explore_perspectives": 1}
    assert counts.missed_repairs == 1
    assert (counts.repairs_worked, counts.repairs_assessed) == (1, 2)
    worked = {r.turn: (r.before, r.after, r.worked) for r in debrief.repairs}
    assert worked == {6: (1.67, 3.33, True), 10: (2.33, 2.33, False)}


def test_missed_repairs_quote_the_rupture_and_the_learners_words(persona_fr: Persona) -> None:
    (missed,) = build_debrief(french_session(), persona_fr).missed_repairs
    assert (missed.turn, missed.rupture, missed.rupture_turn) == (4, RuptureType.withdrawal, 3)
    assert missed.patient_text == "D'accord… si vous le dites."
    assert missed.learner_text == "Parfait. Je vous prépare le formulaire pour l'assurance."


def test_key_moment_is_the_largest_drop_with_alternatives_in_the_personas_language(persona_fr: Persona) -> None:
    moment = build_debrief(french_session(), persona_fr).key_moment
    assert moment is not None
    assert (moment.reason, moment.learner_turn, moment.patient_turn) == ("largest_drop", 2, 3)
    assert (moment.before, moment.after, moment.drop) == (3.33, 2.0, 1.33)
    assert moment.rupture is RuptureType.withdrawal
    assert (
        moment.respond_turn == 4 and moment.respond_text == "Parfait. Je vous prépare le formulaire pour l'assurance."
    )
    alternatives = moment.alternatives
    assert 2 <= len(alternatives) <= 3
    assert [a.move for a in alternatives] == ["emotional", "exploratory", "reflective"]
    assert all(a.language == "fr" and a.principle is RepairPrinciple.metacommunication for a in alternatives)
    assert "Je remarque que vous parlez moins" in alternatives[0].text  # the coach's French withdrawal hint


def test_alternatives_follow_the_persona_not_the_ui_and_put_the_tried_move_last(persona_en: Persona) -> None:
    moment = build_debrief(english_session(), persona_en).key_moment
    assert moment is not None and moment.learner_turn == 2 and moment.rupture is RuptureType.confrontation
    assert moment.respond_turn == 4  # the learner tried an emotional repair there
    assert [a.move for a in moment.alternatives] == ["clarifying", "explore_perspectives", "emotional"]
    assert moment.alternatives[1].principle is RepairPrinciple.explore_perspectives
    assert moment.alternatives[1].function is None
    assert all(a.language == "en" for a in moment.alternatives)
    assert "I think I explained that badly" in moment.alternatives[0].text
    markdown_fr = to_markdown(build_debrief(english_session(), persona_en), "fr")
    assert "I think I explained that badly" in markdown_fr and "Clarificatrice (Métacommunication)" in markdown_fr


def test_key_moment_ties_go_to_the_earliest_drop(persona_en: Persona) -> None:
    s = Session(persona_id="bertrand.en", language="en", llm="fake")
    for text, alliance in (("One.", (3, 3, 4)), ("Two.", (2, 2, 3)), ("Three.", (4, 4, 4)), ("Four.", (3, 3, 3))):
        s.add_learner_turn(f"Learner {text}")
        s.add_patient_turn(text, hidden_state("…", alliance, ["calm"]))
    moment = build_debrief(s, persona_en).key_moment
    assert moment is not None and moment.drop == 1.0 and moment.learner_turn == 2


def test_with_no_drop_the_key_moment_is_the_first_rupture_marker() -> None:
    s = Session(persona_id="bertrand.en", language="en", llm="fake")
    s.add_learner_turn("You need to go back on Monday.")
    s.add_patient_turn("No. I won't.", hidden_state("No way.", (4, 4, 4), ["anger"]))
    s.add_learner_turn("Let's talk about it.")
    s.add_patient_turn("Okay.", hidden_state("Hm.", (4, 4, 4), ["calm"]))
    s.events = [alliance_event(1, _P, _R, "I won't", rupture=RuptureType.confrontation)]
    moment = build_debrief(s).key_moment
    assert moment is not None
    assert (moment.reason, moment.learner_turn, moment.patient_turn, moment.respond_turn) == ("first_rupture", 0, 1, 2)
    assert moment.rupture is RuptureType.confrontation and len(moment.alternatives) == 3


def test_a_calm_visit_has_no_key_moment_and_zero_counts(persona_en: Persona) -> None:
    s = Session(persona_id="bertrand.en", language="en", llm="fake")
    s.add_learner_turn("Hello.")
    s.add_patient_turn("Hello.", hidden_state("Fine.", (4, 4, 4), ["calm"]))
    debrief = build_debrief(s, persona_en)
    assert debrief.key_moment is None and debrief.flagged == []
    assert sum(debrief.counts.ruptures_by_type.values()) == 0 and debrief.counts.repairs_assessed == 0
    assert "| 1 | 4 | 4 | 4 |" in to_markdown(debrief, "en")


# --------------------------------------------------------------------------- exports


def test_markdown_has_the_table_the_thoughts_and_the_svg_link(persona_fr: Persona) -> None:
    text = to_markdown(build_debrief(french_session(), persona_fr), "fr", svg_path="visite.svg")
    assert text.startswith("# Débriefing — Mme Bertrand")
    assert "| Tour | Objectifs | Tâches | Lien | Événements |" in text
    assert "| 0 (début) | 3 | 3 | 4 |  |" in text
    assert "| 3 | 2 | 2 | 2 | Mme Bertrand : Marqueur de rupture — Retrait (Déférence, apaisement) |" in text
    assert "| 6 |  |  |  | Vous : Tentative de réparation — Émotionnelle |" in text
    assert "![Trajectoire de l'alliance](visite.svg)" in text
    assert f"_{FR_SHAME}_" in text  # revealed beside the learner's words
    assert "## Moment clé" in text and "## Réparations manquées" in text
    assert "Réparations suivies d'une hausse de l'alliance : 1 sur 2" in text


def test_markdown_headings_follow_the_ui_language(persona_fr: Persona) -> None:
    text = to_markdown(build_debrief(french_session(), persona_fr), "en")
    assert "| Turn | Goals | Tasks | Bond | Events |" in text and "## Key moment" in text
    assert "Je remarque que vous parlez moins" in text  # the alternatives stay in French
    assert "](" not in text.split("## Alliance trajectory")[1].split("|")[0]  # no image without an SVG


def test_markdown_neutralises_learner_markup(persona_en: Persona) -> None:
    session = english_session()
    session.turns[2].text = "![x](http://evil.example/t.png) <img src=x> | cell"
    session.events.append(alliance_event(2, _C, _R, "cell", rupture=RuptureType.confrontation))
    text = to_markdown(build_debrief(session, persona_en), "en")
    assert "![x](" not in text and not re.search(r"(?<!\\)<img", text)  # no image, no raw HTML
    assert r"!\[x\](http://evil.example/t.png) \<img src=x\> \| cell" in text  # still legible in an editor


def test_html_is_self_contained_and_escapes_hostile_learner_text(persona_en: Persona) -> None:
    page = to_html(build_debrief(english_session(), persona_en), "en")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<svg" in page
    assert "<script" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert not re.search(r"\bsrc=|https?://(?!www\.w3\.org/2000/svg)", page)  # nothing fetched from anywhere
    assert "He thinks I&#39;m milking the system." in page  # the revealed thought
    assert "Content-Security-Policy" in page


def test_json_round_trips_through_the_model(persona_fr: Persona) -> None:
    original = build_debrief(french_session(), persona_fr, compare=None)
    again = Debrief.model_validate_json(to_json(original))
    assert again == original
    assert json.loads(to_json(original))["key_moment"]["alternatives"][0]["move"] == "emotional"


def test_svg_is_well_formed_with_lines_glyphs_axes_and_legend(persona_fr: Persona) -> None:
    debrief = build_debrief(french_session(), persona_fr)
    root = ET.fromstring(timeline_svg(debrief, "fr"))
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}polyline")) == 3  # goals, tasks, bond
    counts = {kind: len(root.findall(f"{SVG}path[@class='{kind.value}']")) for kind in EventKind}
    assert counts == {EventKind.rupture_marker: 4 + 1, EventKind.repair_attempt: 2 + 1, EventKind.missed_repair: 1 + 1}
    texts = {el.text for el in root.iter(f"{SVG}text")}
    assert {"Tour", "Alliance perçue (1–7)", "Objectifs", "Tâches", "Lien", "Marqueur de rupture"} <= texts


def test_svg_escapes_evidence_in_tooltips(persona_en: Persona) -> None:
    session = english_session()
    session.events.append(alliance_event(2, _C, _R, "<script>alert('x')</script>", rupture=RuptureType.confrontation))
    svg = timeline_svg(build_debrief(session, persona_en), "en")
    assert "<script" not in svg
    titles = [el.text or "" for el in ET.fromstring(svg).iter(f"{SVG}title")]
    assert any("<script>alert('x')</script>" in title for title in titles)  # escaped, then parsed back


def test_plotly_figure_shows_the_same_lines_and_glyphs(persona_fr: Persona) -> None:
    figure = timeline_figure(build_debrief(french_session(), persona_fr), "en")
    names = [trace.name for trace in figure.data]
    assert names == ["Goals", "Tasks", "Bond", "Rupture marker", "Repair attempt", "Missed repair"]
    assert list(figure.data[2].y) == [4, 4, 2, 2, 4, 3, 3]  # bond, from the start
    assert list(figure.data[3].marker.symbol) == [
        "triangle-down",
        "triangle-down",
        "triangle-down-open",
        "triangle-down",
    ]


# --------------------------------------------------------------------------- comparing branches


def test_comparison_of_two_branches_from_the_branch_point(persona_fr: Persona) -> None:
    original = french_session()
    branch = original.branch_at(4)
    branch.add_learner_turn("Je vois que ça vous a touchée. On peut en parler ?")
    branch.add_patient_turn("Oui… merci.", hidden_state("Elle m'écoute.", (4, 4, 5), ["relief"], "repair"))
    comp = build_debrief(branch, persona_fr, compare=original).comparison
    assert comp is not None and comp.branch_turn == 4
    assert comp.start is not None and comp.start.turn == 3 and comp.start.mean == 2.0
    assert [p.turn for p in comp.this.points] == [5] and [p.turn for p in comp.other.points] == [5, 7, 9, 11]
    assert comp.this.final is not None and comp.this.final.mean == 4.33
    assert comp.other.final is not None and comp.other.final.mean == 2.33
    assert comp.this.opening == "Je vois que ça vous a touchée. On peut en parler ?"
    assert comp.other.opening == "Parfait. Je vous prépare le formulaire pour l'assurance."
    reverse = build_debrief(original, persona_fr, compare=branch).comparison
    assert reverse is not None and reverse.branch_turn == 4 and reverse.this.session_id == original.id
    text = to_markdown(build_debrief(branch, persona_fr, compare=original), "fr")
    assert (
        "## Comparaison des branches" in text
        and "| **Alliance finale** | **4/4/5 (4,33)** | **2/2/3 (2,33)** |" in text
    )
    lines = ET.fromstring(timeline_svg(build_debrief(branch, persona_fr, compare=original), "fr")).findall(
        f"{SVG}polyline"
    )
    assert len(lines) == 3 + 1  # goals, tasks, bond, and the other branch's mean
    xs = [float(xy.split(",")[0]) for line in lines for xy in line.attrib["points"].split()]
    assert max(xs) <= 760 - 24 + 0.1  # the longer branch fits in the plot area


def test_comparing_with_another_persona_is_refused(persona_fr: Persona) -> None:
    with pytest.raises(ValueError, match="not two branches"):
        build_debrief(french_session(), persona_fr, compare=english_session())
