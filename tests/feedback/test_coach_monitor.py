"""The live monitor's view model (coaching levels, trend) and the coaching hints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.domain.events import AllianceEvent
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import (
    FUNCTIONS,
    PRINCIPLES,
    Emotion,
    EventKind,
    MetacommFunction,
    Move,
    RepairPrinciple,
    RuptureType,
    Speaker,
)
from agent.feedback.hints import Hint, current_rupture, hint_for
from agent.feedback.monitor import CoachingLevel, monitor_props, trend, visible

MARKER = "ZQX-hidden-c0ffee"

C, P = Speaker.clinician, Speaker.patient


def rupture(turn: int, speaker: Speaker, kind: RuptureType, evidence: str, confidence: float = 0.8) -> AllianceEvent:
    return AllianceEvent(
        turn=turn,
        speaker=speaker,
        kind=EventKind.rupture_marker,
        rupture=kind,
        evidence=evidence,
        confidence=confidence,
    )


def repair(turn: int, function: MetacommFunction, evidence: str, confidence: float = 0.8) -> AllianceEvent:
    return AllianceEvent(
        turn=turn, speaker=C, kind=EventKind.repair_attempt, function=function, evidence=evidence, confidence=confidence
    )


def missed(turn: int, kind: RuptureType, confidence: float = 0.6) -> AllianceEvent:
    return AllianceEvent(
        turn=turn, speaker=C, kind=EventKind.missed_repair, rupture=kind, evidence="", confidence=confidence
    )


@pytest.fixture
def session() -> Session:
    """A visit: a clinician rupture, the patient withdraws (hidden marker in her head), a repair, then calm."""
    s = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    s.add_learner_turn("On va prévoir un retour progressif lundi prochain.")
    s.add_patient_turn(
        "D'accord.",
        HiddenState(
            inner_monologue=f"{MARKER} il ne m'a même pas demandé mon avis",
            emotions=[Emotion.shame, Emotion.feeling_judged],
            alliance=AlliancePerception(goals=2, tasks=2, bond=3),
            intended_move=Move.withdrawal,
            move_subtype="minimal_response",
        ),
    )
    s.add_learner_turn("Vous êtes devenue silencieuse depuis que j'ai parlé du retour. Comment l'avez-vous reçu ?")
    s.add_patient_turn(
        "Honnêtement, j'ai eu peur.",
        HiddenState(
            inner_monologue=f"{MARKER} enfin il m'écoute",
            emotions=[Emotion.relief],
            alliance=AlliancePerception(goals=3, tasks=3, bond=5),
            intended_move=Move.repair,
        ),
    )
    s.events = [
        rupture(0, C, RuptureType.confrontation, "On va prévoir un retour progressif"),
        rupture(1, P, RuptureType.withdrawal, "D'accord."),
        repair(2, MetacommFunction.emotional, "Vous êtes devenue silencieuse"),
        repair(2, MetacommFunction.clarifying, "Comment l'avez-vous reçu ?", confidence=0.6),
    ]
    return s


def props(session: Session, level: CoachingLevel, lang: str = "fr", **kwargs: Any) -> dict[str, Any]:
    return monitor_props(session.observer_transcript(), session.events, level, lang, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- coaching levels


def test_exam_level_shows_no_turns_and_no_trend(session: Session) -> None:
    shown = props(session, CoachingLevel.exam)
    assert shown["level"] == "exam"
    assert shown["turns"] == [] and shown["trend"] == []
    assert "examen" in shown["ui"]["exam"].lower()
    assert not any(visible(e, CoachingLevel.exam) for e in session.events)


def test_exam_level_hides_unavailable_turns_too(session: Session) -> None:
    assert props(session, CoachingLevel.exam, unavailable={0, 1})["turns"] == []


def test_learner_level_shows_only_flags_on_the_learners_turns(session: Session) -> None:
    shown = props(session, CoachingLevel.learner)
    assert [t["id"] for t in shown["turns"]] == [0, 2]
    assert all(t["speaker"] == "clinician" and t["speakerName"] == "Vous" for t in shown["turns"])
    flags = [f for t in shown["turns"] for f in t["flags"]]
    assert [f["label"] for f in flags] == ["confrontation", "emotional", "clarifying"]
    assert "withdrawal" not in json.dumps(shown)  # the patient's marker stays off the learner's screen


def test_coach_level_shows_patient_flags_too(session: Session) -> None:
    shown = props(session, CoachingLevel.coach)
    assert [t["id"] for t in shown["turns"]] == [0, 1, 2]
    (patient_turn,) = [t for t in shown["turns"] if t["speaker"] == "patient"]
    assert patient_turn["text"] == "D'accord."
    assert patient_turn["flags"][0]["label"] == "withdrawal"
    assert patient_turn["flags"][0]["labelName"] == "Retrait"
    assert patient_turn["flags"][0]["tone"] == "rupture"


def test_flags_are_named_in_the_session_language(session: Session) -> None:
    fr = props(session, CoachingLevel.coach, "fr")
    en = props(session, CoachingLevel.coach, "en")
    fr_names = [f["labelName"] for t in fr["turns"] for f in t["flags"]]
    en_names = [f["labelName"] for t in en["turns"] for f in t["flags"]]
    assert FUNCTIONS[MetacommFunction.emotional].fr in fr_names
    assert FUNCTIONS[MetacommFunction.emotional].en in en_names
    assert fr["ui"]["title"] != en["ui"]["title"]


def test_unavailable_turns_are_marked_for_the_levels_that_would_show_them(session: Session) -> None:
    learner = props(session, CoachingLevel.learner, unavailable={1, 3})
    coach = props(session, CoachingLevel.coach, unavailable={1, 3})
    assert not any(t["unavailable"] for t in learner["turns"])  # patient turns: not the learner's concern
    assert {t["id"] for t in coach["turns"] if t["unavailable"]} == {1, 3}


def test_no_events_gives_an_empty_monitor(session: Session) -> None:
    shown = monitor_props(session.observer_transcript(), [], CoachingLevel.coach, "en")
    assert shown["turns"] == []
    assert [p["value"] for p in shown["trend"]] == [0.0, 0.0, 0.0, 0.0]
    assert shown["ui"]["empty"] == "No flags yet."


# --------------------------------------------------------------------------- trend


def test_trend_goes_down_after_ruptures_and_up_after_repairs(session: Session) -> None:
    points = trend(session.observer_transcript(), session.events)
    assert [p["turn"] for p in points] == [0, 1, 2, 3]
    values = [p["value"] for p in points]
    assert values[0] < 0  # clinician rupture
    assert values[1] < values[0]  # patient withdrawal
    assert values[2] > values[1]  # two repairs
    assert values[3] == values[2]  # nothing flagged on the last turn


def test_missed_repairs_lower_the_trend_less_than_a_rupture() -> None:
    transcript = Session(persona_id="x", language="en", llm="fake")
    transcript.add_learner_turn("a")
    transcript.add_learner_turn("b")
    turns = transcript.observer_transcript()
    with_missed = trend(turns, [missed(1, RuptureType.withdrawal, 0.8)])
    with_rupture = trend(turns, [rupture(1, C, RuptureType.withdrawal, "b", 0.8)])
    assert with_rupture[1]["value"] < with_missed[1]["value"] < 0


def test_trend_weighs_events_by_confidence() -> None:
    s = Session(persona_id="x", language="en", llm="fake")
    s.add_learner_turn("a")
    turns = s.observer_transcript()
    weak = trend(turns, [repair(0, MetacommFunction.emotional, "a", 0.2)])
    strong = trend(turns, [repair(0, MetacommFunction.emotional, "a", 0.9)])
    assert 0 < weak[0]["value"] < strong[0]["value"]


# --------------------------------------------------------------------------- the hidden state stays out


@pytest.mark.parametrize("level", list(CoachingLevel))
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_monitor_props_never_contain_the_hidden_state(session: Session, level: CoachingLevel, lang: str) -> None:
    assert MARKER in session.to_json()  # the session does hold it...
    dumped = json.dumps(props(session, level, lang, unavailable={1, 3}), ensure_ascii=False)
    assert MARKER not in dumped  # ...the monitor never shows it
    assert "minimal_response" not in dumped and "feeling_judged" not in dumped


# --------------------------------------------------------------------------- hints


def test_hint_fits_the_latest_patient_withdrawal_in_french() -> None:
    events = [rupture(1, P, RuptureType.withdrawal, "D'accord.")]
    assert current_rupture(events) is RuptureType.withdrawal
    hint = hint_for(events, "fr")
    assert hint.move in {"emotional", "exploratory", "reflective"}
    assert "vous" in hint.example.lower()
    rendered = hint.render("fr")
    assert FUNCTIONS[MetacommFunction(hint.move)].fr in rendered
    assert hint.example in rendered


def test_hint_fits_the_latest_patient_confrontation_in_english() -> None:
    events = [
        rupture(1, P, RuptureType.withdrawal, "Okay."),
        repair(2, MetacommFunction.emotional, "You seem quiet"),
        rupture(3, P, RuptureType.confrontation, "You're not listening"),
    ]
    assert current_rupture(events) is RuptureType.confrontation
    hints = [hint_for(events, "en", i) for i in range(3)]
    assert {h.move for h in hints} == {"emotional", "clarifying", "explore_perspectives"}
    for hint in hints:
        assert "you" in hint.example.lower()
        assert "vous" not in hint.example.lower()
    explore = next(h for h in hints if h.move == "explore_perspectives")
    assert PRINCIPLES[RepairPrinciple.explore_perspectives].en in explore.render("en")


def test_a_clinician_repair_after_the_rupture_clears_it() -> None:
    events = [rupture(1, P, RuptureType.confrontation, "No."), repair(2, MetacommFunction.clarifying, "What")]
    assert current_rupture(events) is None
    hint = hint_for(events, "en")
    assert hint == Hint("exploratory", "How is this conversation going for you so far?")


def test_clinician_ruptures_do_not_drive_the_hint() -> None:
    events = [rupture(0, C, RuptureType.confrontation, "Three months is out of the question.")]
    assert current_rupture(events) is None


def test_hint_index_cycles_through_the_options() -> None:
    events = [rupture(1, P, RuptureType.withdrawal, "Okay.")]
    assert hint_for(events, "en", 0) == hint_for(events, "en", 3)
    assert hint_for(events, "en", 0) != hint_for(events, "en", 1)


def test_a_flag_read_with_little_confidence_is_shown_as_a_possibility_and_confidence_as_words(session: Session) -> None:
    from agent.domain.events import AllianceEvent
    from agent.domain.taxonomy import EventKind, RuptureType, Speaker

    def flag(confidence: float, tentative: bool) -> AllianceEvent:
        return AllianceEvent(
            turn=0,
            speaker=Speaker.clinician,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.confrontation,
            evidence="",
            confidence=confidence,
            rationale="test",
            source="test",
            tentative=tentative,
        )

    transcript = session.observer_transcript()
    expected = (
        (0.55, True, "incertaine"),
        (0.7, False, "probable"),
        (0.9, False, "très probable"),
        (0.97, False, "quasi certaine"),
    )
    for confidence, tentative, words in expected:
        props = monitor_props(transcript, [flag(confidence, tentative)], CoachingLevel.learner, "fr")
        shown = props["turns"][0]["flags"][0]
        assert shown["tentative"] is tentative
        assert shown["confidenceText"] == words
        assert "%" not in shown["confidenceText"]
    assert props["ui"]["tentative"] == "peut-être"
