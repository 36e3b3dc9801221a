"""The learner reads the patient: what they think she felt, how she rated the alliance and what she was about
to do, said before her hidden state is revealed, and scored against it (issue 15).

A reading is about one patient turn: the last one at the debrief, or a flagged rupture during the visit (at
the `coach` level). The score has three parts, each from 0 to 1, and their mean:
- emotions: the overlap of the two sets (Jaccard: shared / all named; 1 when both are empty);
- alliance: 1 minus the mean distance on goals, tasks and bond, over the scale's width (6 points);
- move: 1 if the learner named the move she intended, else 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.domain.session import AlliancePerception, HiddenState, Turn
from agent.domain.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Emotion, Move

ReadingMoment = Literal["debrief", "visit"]


class PatientReading(BaseModel):
    """What the learner thinks the patient felt, rated and intended at one of her turns."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=0, description="The patient turn the reading is about.")
    emotions: list[Emotion] = Field(max_length=3, description="Up to three emotions the learner thinks she felt.")
    alliance: AlliancePerception
    move: Move = Field(description="What the learner thinks she was about to do.")
    moment: ReadingMoment = Field("debrief", description="At the debrief, or during the visit at a flagged rupture.")
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @field_validator("emotions")
    @classmethod
    def _distinct(cls, emotions: list[Emotion]) -> list[Emotion]:
        return list(dict.fromkeys(emotions))


class ReadingScore(BaseModel):
    """How close a reading came to the hidden state, each part from 0 to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emotions: float = Field(ge=0, le=1)
    alliance: float = Field(ge=0, le=1)
    move: float = Field(ge=0, le=1)

    @property
    def overall(self) -> float:
        return (self.emotions + self.alliance + self.move) / 3


def score_reading(reading: PatientReading, hidden: HiddenState) -> ReadingScore:
    """Score a reading against the patient's hidden state at that turn."""
    said, felt = set(reading.emotions), set(hidden.emotions)
    emotions = 1.0 if not said and not felt else len(said & felt) / len(said | felt)
    width = ALLIANCE_MAX - ALLIANCE_MIN
    guessed, rated = reading.alliance, hidden.alliance
    distance = sum(abs(getattr(guessed, c) - getattr(rated, c)) for c in ("goals", "tasks", "bond")) / 3
    return ReadingScore(
        emotions=emotions, alliance=1.0 - distance / width, move=float(reading.move == hidden.intended_move)
    )


def read_after(reading: PatientReading, turn: Turn) -> bool:
    """Whether the reading was given after the turn was written: one older than its turn was about a turn that
    trying again replaced (same id, another reply). An unreadable or naive time counts as after."""
    try:
        return datetime.fromisoformat(reading.at) >= turn.created_at
    except (TypeError, ValueError):
        return True
