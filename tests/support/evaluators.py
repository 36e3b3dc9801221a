"""Fake evaluators' one rule (flag the last turn when it is the given party's, quoting its words), and stock events."""

from __future__ import annotations

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EventKind, RuptureType, Speaker


def flag_last_turn(
    transcript: list[PublicTurn],
    speaker: Speaker,
    rupture: RuptureType,
    evidence: str,
    confidence: float,
    **extra: str,
) -> list[AllianceEvent]:
    """A rupture marker on the last turn if `speaker` said it (`evidence` must quote it), else nothing."""
    last = transcript[-1]
    if last.speaker is not speaker:
        return []
    event = AllianceEvent(
        turn=last.id,
        speaker=last.speaker,
        kind=EventKind.rupture_marker,
        rupture=rupture,
        evidence=evidence,
        confidence=confidence,
        **extra,  # type: ignore[arg-type]
    )
    return [event]


def missed_withdrawal_repair(turn: int = 0, tentative: bool = False) -> AllianceEvent:
    """A missed repair after a withdrawal, on a clinician's turn, read with 0.7 confidence."""
    return AllianceEvent(
        turn=turn,
        speaker=Speaker.clinician,
        kind=EventKind.missed_repair,
        rupture=RuptureType.withdrawal,
        evidence="",
        confidence=0.7,
        tentative=tentative,
    )
