"""Hand-made visits for the cohort tests: known ruptures, repairs, a missed repair and readings."""

from __future__ import annotations

from agent.domain.events import AllianceEvent
from agent.domain.reading import PatientReading
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Emotion, EventKind, MetacommFunction, Move, RuptureType, Speaker


def _hidden(level: int, emotions: list[Emotion], move: Move) -> HiddenState:
    alliance = AlliancePerception(goals=level, tasks=level, bond=level)
    return HiddenState(inner_monologue="Pensée.", emotions=emotions, alliance=alliance, intended_move=move)


def _event(turn: int, speaker: Speaker, kind: EventKind, **label: object) -> AllianceEvent:
    evidence = "" if kind is EventKind.missed_repair else "mot"
    return AllianceEvent(turn=turn, speaker=speaker, kind=kind, evidence=evidence, confidence=0.9, **label)  # type: ignore[arg-type]


def counted_visit(persona_id: str = "bertrand.fr") -> Session:
    """Alliance 3 → 4 → 2 → 3 (goals = tasks = bond) on patient turns 1, 3, 5, 7. Flags:
    - turn 1 (patient): withdrawal marker; turn 2 (learner): clarifying repair, and the alliance rose (3 → 4);
    - turn 4 (learner): a confrontation marker, and a missed repair; turn 5 (patient): a confrontation marker;
    - turn 7 (patient): an emotional repair by the patient, the alliance rose (2 → 3);
    - turn 8 (learner): a reflective repair with no reply after it (not assessed).
    """
    session = Session(persona_id=persona_id, language="fr", llm="fake")
    levels = {1: (3, [Emotion.anxiety, Emotion.shame], Move.withdrawal), 3: (4, [Emotion.anger], Move.confrontation)}
    levels |= {5: (2, [Emotion.sadness], Move.confrontation), 7: (3, [Emotion.sadness], Move.repair)}
    for turn in range(9):
        if turn in levels:
            session.add_patient_turn(f"mot {turn}", _hidden(*levels[turn]))
        else:
            session.add_learner_turn(f"mot {turn}")
    clinician, patient = Speaker.clinician, Speaker.patient
    session.events = [
        _event(1, patient, EventKind.rupture_marker, rupture=RuptureType.withdrawal),
        _event(2, clinician, EventKind.repair_attempt, function=MetacommFunction.clarifying),
        _event(4, clinician, EventKind.rupture_marker, rupture=RuptureType.confrontation),
        _event(4, clinician, EventKind.missed_repair, rupture=RuptureType.confrontation),
        _event(5, patient, EventKind.rupture_marker, rupture=RuptureType.confrontation),
        _event(7, patient, EventKind.repair_attempt, function=MetacommFunction.emotional),
        _event(8, clinician, EventKind.repair_attempt, function=MetacommFunction.reflective),
    ]
    return session


def reading(turn_id: int, level: int, emotions: list[Emotion], move: Move) -> PatientReading:
    alliance = AlliancePerception(goals=level, tasks=level, bond=level)
    return PatientReading(turn_id=turn_id, emotions=emotions, alliance=alliance, move=move)


def exact_reading() -> PatientReading:
    """Turn 1 read exactly: score 1."""
    return reading(1, 3, [Emotion.anxiety, Emotion.shame], Move.withdrawal)


def half_reading() -> PatientReading:
    """Turn 3 read half right: emotions 1/2 (anger of anger, sadness), alliance 1 - 3/6 = 0.5, move 0: 1/3 overall."""
    return reading(3, 1, [Emotion.anger, Emotion.sadness], Move.none)
