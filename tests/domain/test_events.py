"""Alliance events: consistent labels, and evidence that is always a real quote of the turn."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agent.domain.events import AllianceEvent, validate_evidence
from agent.domain.taxonomy import SUBTYPES, EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker

TURN = "Je comprends.  C'est « frustrant » d’attendre, et je m'excuse de vous avoir pressée tout à l'heure."


def event(**fields: Any) -> AllianceEvent:
    base: dict[str, Any] = {
        "turn": 3,
        "speaker": Speaker.clinician,
        "kind": EventKind.repair_attempt,
        "function": MetacommFunction.emotional,
        "evidence": "C'est « frustrant »",
        "confidence": 0.8,
    }
    base.update(fields)
    return AllianceEvent(**base)


# --------------------------------------------------------------------------- validation


def test_rupture_marker_without_rupture_type_fails() -> None:
    with pytest.raises(ValidationError, match="rupture type"):
        event(kind=EventKind.rupture_marker, function=None, rupture=None)


def test_rupture_marker_with_rupture_type_is_valid() -> None:
    marker = event(
        kind=EventKind.rupture_marker, function=None, rupture=RuptureType.withdrawal, speaker=Speaker.patient
    )
    assert marker.label() == "withdrawal"


def test_repair_attempt_without_function_or_principle_fails() -> None:
    with pytest.raises(ValidationError, match="function or a principle"):
        event(function=None, principle=None)


def test_a_metacommunication_function_implies_the_metacommunication_principle() -> None:
    repair = event(function=MetacommFunction.clarifying)
    assert repair.principle is RepairPrinciple.metacommunication
    assert repair.label() == "clarifying"


def test_explore_perspectives_needs_no_function() -> None:
    repair = event(function=None, principle=RepairPrinciple.explore_perspectives)
    assert repair.function is None
    assert repair.label() == "explore_perspectives"


def test_unknown_subtype_fails() -> None:
    with pytest.raises(ValidationError, match="unknown subtype"):
        event(subtype="being_rude")


def test_known_subtype_is_accepted() -> None:
    subtype = next(iter(SUBTYPES))
    assert event(subtype=subtype).subtype == subtype


@pytest.mark.parametrize("confidence", [-0.1, 1.5])
def test_confidence_is_a_probability(confidence: float) -> None:
    with pytest.raises(ValidationError):
        event(confidence=confidence)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        event(hidden_state="nope")


def test_missed_repair_label_is_its_rupture() -> None:
    missed = event(kind=EventKind.missed_repair, function=None, rupture=RuptureType.confrontation, evidence="")
    assert missed.label() == "confrontation"


# --------------------------------------------------------------------------- evidence


def test_exact_quote_is_kept() -> None:
    kept = validate_evidence(event(evidence="je m'excuse de vous avoir pressée"), TURN)
    assert kept is not None and kept.evidence == "je m'excuse de vous avoir pressée"


def test_surrounding_quotes_and_spaces_are_stripped_from_an_exact_quote() -> None:
    kept = validate_evidence(event(evidence='  "je m\'excuse de vous avoir pressée"  '), TURN)
    assert kept is not None and kept.evidence == "je m'excuse de vous avoir pressée"


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("JE M'EXCUSE de vous avoir PRESSÉE", "je m'excuse de vous avoir pressée"),  # case
        ("d'attendre, et je", "d’attendre, et je"),  # straight vs typographic apostrophe
        ("Je comprends. C'est", "Je comprends.  C'est"),  # collapsed whitespace
        ("je  comprends.\nc'est", "Je comprends.  C'est"),
    ],
)
def test_near_miss_quotes_are_snapped_onto_the_exact_text(quote: str, expected: str) -> None:
    kept = validate_evidence(event(evidence=quote), TURN)
    assert kept is not None
    assert kept.evidence == expected
    assert kept.evidence in TURN


def test_french_guillemets_quoted_with_straight_quotes_are_snapped() -> None:
    """A judge writing English-style quotes drops the spaces French puts inside « »."""
    kept = validate_evidence(event(evidence="C'est \"frustrant\" d'attendre"), TURN)
    assert kept is not None
    assert kept.evidence == "C'est « frustrant » d’attendre"


@pytest.mark.parametrize(
    "quote",
    [
        "je suis désolé de vous avoir bousculée",  # paraphrase
        "Je comprends votre colère",  # invented
        "",
        '""',
        "   ",
    ],
)
def test_invented_or_empty_quotes_are_dropped(quote: str) -> None:
    assert validate_evidence(event(evidence=quote), TURN) is None


def test_missed_repair_needs_no_quote() -> None:
    missed = event(kind=EventKind.missed_repair, function=None, rupture=RuptureType.withdrawal, evidence="")
    assert validate_evidence(missed, TURN) is missed


def test_validation_does_not_change_the_other_fields() -> None:
    original = event(evidence="JE COMPRENDS", confidence=0.42, rationale="Validation de l'émotion.")
    kept = validate_evidence(original, TURN)
    assert kept is not None
    assert kept.model_dump(exclude={"evidence"}) == original.model_dump(exclude={"evidence"})
    assert original.evidence == "JE COMPRENDS"  # the input event is not mutated
