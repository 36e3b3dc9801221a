"""A rater's label on one turn: the taxonomy's values only, the party for ruptures, the evidence from the turn."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.domain.annotation import ANNOTATION_LABELS, TurnAnnotation, annotation, monitor_label
from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker

TEXT = "Comme vous voulez. C'est vous le docteur."


def test_the_labels_are_the_taxonomys() -> None:
    assert ANNOTATION_LABELS == (
        "withdrawal",
        "confrontation",
        "clarifying",
        "reflective",
        "emotional",
        "exploratory",
        "explore_perspectives",
        "none",
    )


def test_a_rupture_defaults_to_the_speakers_party_and_keeps_the_evidence_as_the_turn_writes_it() -> None:
    label = annotation(3, "withdrawal", Speaker.patient, TEXT, evidence="  c’est VOUS le docteur ")
    assert (label.party, label.evidence, label.kind) == (
        Speaker.patient,
        "C'est vous le docteur",
        EventKind.rupture_marker,
    )
    assert annotation(3, "withdrawal", Speaker.patient, TEXT, party="clinician").party is Speaker.clinician


def test_repairs_carry_their_principle_and_no_party() -> None:
    assert annotation(2, "emotional", Speaker.clinician, TEXT, party="patient").party is None
    assert annotation(2, "emotional", Speaker.clinician, TEXT).principle is RepairPrinciple.metacommunication
    assert (
        annotation(2, "explore_perspectives", Speaker.clinician, TEXT).principle is RepairPrinciple.explore_perspectives
    )
    assert annotation(2, "none", Speaker.clinician, TEXT).kind is None


def test_evidence_not_in_the_turn_and_unknown_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="not in turn 3"):
        annotation(3, "withdrawal", Speaker.patient, TEXT, evidence="je pars")
    with pytest.raises(ValidationError):
        TurnAnnotation(turn_id=1, label="hostility")
    with pytest.raises(ValidationError):
        TurnAnnotation(turn_id=1, label="none", party=Speaker.patient)


def test_the_monitor_label_of_a_turn_is_its_most_confident_flag() -> None:
    def flag(turn: int, confidence: float, **what: object) -> AllianceEvent:
        kind = EventKind.rupture_marker if "rupture" in what else EventKind.repair_attempt
        return AllianceEvent(turn=turn, speaker=Speaker.patient, kind=kind, evidence="x", confidence=confidence, **what)  # type: ignore[arg-type]

    events = [
        flag(1, 0.6, rupture=RuptureType.withdrawal),
        flag(1, 0.9, function=MetacommFunction.clarifying, principle=RepairPrinciple.metacommunication),
    ]
    assert monitor_label(events, 1) == "clarifying"
    assert monitor_label(events, 2) == "none"
