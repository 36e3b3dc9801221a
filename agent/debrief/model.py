"""The debrief as data: typed pydantic models, and their JSON export."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.domain.reading import ReadingMoment
from agent.domain.session import AlliancePerception
from agent.domain.taxonomy import (
    Emotion,
    EventKind,
    Lang,
    MetacommFunction,
    Move,
    RepairPrinciple,
    RuptureType,
    Speaker,
)

MAX_ALTERNATIVES = 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelinePoint(_Model):
    """The alliance the patient perceived at one turn (or at the start, when `initial`)."""

    turn: int = Field(ge=0)
    initial: bool = False
    goals: int
    tasks: int
    bond: int
    mean: float
    emotions: list[Emotion] = Field(default_factory=list)

    @property
    def order(self) -> float:
        """Position in time: the initial point comes before turn 0."""
        return -0.5 if self.initial else float(self.turn)


class DebriefEvent(_Model):
    """One evaluator flag placed on the timeline; `label` is a taxonomy id."""

    turn: int
    speaker: Speaker
    kind: EventKind
    label: str
    rupture: RuptureType | None = None
    function: MetacommFunction | None = None
    principle: RepairPrinciple | None = None
    subtype: str | None = None
    evidence: str = ""
    rationale: str = ""


class FlaggedMoment(_Model):
    """An exchange with a flag: the learner's words beside the patient's thoughts right after them."""

    learner_turn: int | None
    learner_text: str | None
    patient_turn: int | None
    patient_reply: str | None
    inner_monologue: str | None
    emotions: list[Emotion] = Field(default_factory=list)
    alliance: TimelinePoint | None = None
    learner_events: list[DebriefEvent] = Field(default_factory=list)
    patient_events: list[DebriefEvent] = Field(default_factory=list)


class MissedRepair(_Model):
    turn: int
    rupture: RuptureType | None
    rupture_turn: int | None = Field(description="The patient turn that showed the rupture.")
    patient_text: str | None
    learner_text: str


class Alternative(_Model):
    """A reply the learner could have tried, in the persona's language, naming its repair move."""

    move: str = Field(description="A MetacommFunction or RepairPrinciple id from the taxonomy.")
    principle: RepairPrinciple
    function: MetacommFunction | None = None
    text: str
    language: Lang


class KeyMoment(_Model):
    learner_turn: int | None
    patient_turn: int | None
    reason: Literal["largest_drop", "first_rupture"]
    before: float | None = None
    after: float | None = None
    drop: float | None = None
    rupture: RuptureType | None = None
    respond_turn: int | None = Field(None, description="The learner's next turn, where a repair was due.")
    respond_text: str | None = None
    alternatives: list[Alternative] = Field(default_factory=list)


class RepairOutcome(_Model):
    turn: int
    speaker: Speaker
    labels: list[str]
    before: float | None
    after: float | None
    worked: bool | None = Field(description="None when a point before or after is missing.")


class Counts(_Model):
    ruptures_by_type: dict[RuptureType, int]
    ruptures_by_party: dict[Speaker, int]
    repairs_by_label: dict[str, int]
    repairs_by_party: dict[Speaker, int]
    repairs_worked: int
    repairs_assessed: int
    missed_repairs: int


class BranchTrack(_Model):
    session_id: str
    opening: str | None = Field(description="The learner's words at the branch point in this branch.")
    points: list[TimelinePoint]
    final: TimelinePoint | None


class Comparison(_Model):
    branch_turn: int
    start: TimelinePoint | None = Field(description="The shared alliance just before the branch point.")
    this: BranchTrack
    other: BranchTrack


class ReadingComparison(_Model):
    """The learner's reading of the patient at one turn beside her hidden state then, and its score (0 to 1)."""

    turn: int
    moment: ReadingMoment
    said_emotions: list[Emotion]
    felt_emotions: list[Emotion]
    said_alliance: AlliancePerception
    felt_alliance: AlliancePerception
    said_move: Move
    felt_move: Move
    emotions_score: float
    alliance_score: float
    move_score: float
    overall: float


class Debrief(_Model):
    session_id: str
    persona_id: str
    patient_name: str | None
    language: Lang = Field(description="The persona's language: that of the alternatives.")
    llm: str
    started_at: datetime
    turn_count: int
    parent_id: str | None = None
    branch_turn: int | None = None
    timeline: list[TimelinePoint]
    events: list[DebriefEvent]
    flagged: list[FlaggedMoment]
    missed_repairs: list[MissedRepair]
    key_moment: KeyMoment | None
    repairs: list[RepairOutcome]
    counts: Counts
    comparison: Comparison | None = None
    readings: list[ReadingComparison] = Field(default_factory=list)


# --------------------------------------------------------------------------- building blocks


def to_json(debrief: Debrief) -> str:
    return debrief.model_dump_json(indent=2)
