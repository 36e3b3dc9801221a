"""A rehearsal session: turns, the patient's hidden states, alliance events; to and from JSON.

Two views of a session exist on purpose. The full session (this model) holds the hidden
states and is written to transcripts for the debrief and faculty. The observer view
(`observer_transcript`) holds only who said what: it is the only thing the evaluator and
the learner's screen are ever given.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Emotion, Lang, Move, Speaker
from agent.domain.text import clean_text


def _now() -> datetime:
    return datetime.now(UTC)


class AlliancePerception(BaseModel):
    """The alliance as the patient perceives it, on Bordin's three components."""

    model_config = ConfigDict(extra="forbid")

    goals: int = Field(ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Agreement on the aims of the visit.")
    tasks: int = Field(ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Agreement on who does what.")
    bond: int = Field(ge=ALLIANCE_MIN, le=ALLIANCE_MAX, description="Trust in the clinician.")


class HiddenState(BaseModel):
    """What the simulated patient thinks and feels before speaking. Never shown during the visit."""

    model_config = ConfigDict(extra="forbid")

    inner_monologue: str = Field(
        description="One to three sentences of private thought, first person, in the patient's language."
    )
    emotions: list[Emotion] = Field(max_length=3, description="One to three emotions felt right now.")

    @field_validator("inner_monologue")
    @classmethod
    def _clean_monologue(cls, text: str) -> str:
        return clean_text(text)  # revealed at the debrief and in its exports

    @field_validator("emotions", mode="before")
    @classmethod
    def _at_most_three(cls, value: object) -> object:
        # Small models list every emotion they know; keep the first three rather than fail the turn.
        return value[:3] if isinstance(value, list) else value

    alliance: AlliancePerception
    intended_move: Move = Field(description="What the patient means to do with this reply.")
    move_subtype: str | None = Field(None, description="Optional finer subtype of the move.")


class PatientTurnOutput(BaseModel):
    """One structured generation: the hidden state first, then the reply the learner hears."""

    model_config = ConfigDict(extra="forbid")

    hidden: HiddenState
    reply: str = Field(description="What the patient says aloud, in character, in the patient's language.")


class PatientLine(BaseModel):
    """The short form a small model writes when the persona's reaction rules settle the hidden state: the reply,
    then the thought behind it. The move, the alliance and the emotions come from the appraisal, made before the
    model speaks (`agent.patient.appraisal`), or carry on unchanged through ordinary talk; the reply starts at
    the first tokens (field order is generation order under a JSON schema)."""

    model_config = ConfigDict(extra="forbid")

    reply: str = Field(description="What the patient says aloud, in character, in the patient's language.")
    inner_monologue: str = Field(description="One short sentence: the private thought behind the reply.")


class GuardReport(BaseModel):
    """What the leak guard found in a reply and what it did about it."""

    model_config = ConfigDict(extra="forbid")

    leaked: bool = False
    reasons: list[str] = Field(default_factory=list)
    action: str = "none"  # none | repaired | regenerated | fallback
    # What did not sound like the patient (assistant-speak, role confusion, chatbot formatting, the doctor's
    # words repeated), attempt by attempt: agent.patient.voice.
    voice: list[str] = Field(default_factory=list)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    speaker: Speaker
    text: str
    created_at: datetime = Field(default_factory=_now)

    @field_validator("text")
    @classmethod
    def _clean_text(cls, text: str) -> str:
        return clean_text(text)  # a lone surrogate or a NUL must never make the session unsavable

    hidden: HiddenState | None = Field(None, description="Patient turns only: the hidden state behind the reply.")
    guard: GuardReport | None = None


class PublicTurn(BaseModel):
    """A turn as a human observer sees it: who spoke, and the words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    speaker: Speaker
    text: str

    @field_validator("text")
    @classmethod
    def _clean_text(cls, text: str) -> str:
        return clean_text(text)


class Session(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    persona_id: str
    language: Lang
    llm: str = Field(description="Which model played the patient, e.g. 'local:qwen2.5-coder-1.5b'.")
    started_at: datetime = Field(default_factory=_now)
    turns: list[Turn] = Field(default_factory=list)
    events: list[AllianceEvent] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list, description="LLM failures met during the session.")
    parent_id: str | None = Field(None, description="The session this one was rewound from, if any.")
    branch_turn: int | None = Field(
        None, ge=0, description="The learner turn of the parent this session was rewound from (replaced here)."
    )

    def _next_id(self) -> int:
        return len(self.turns)

    def add_learner_turn(self, text: str) -> Turn:
        turn = Turn(id=self._next_id(), speaker=Speaker.clinician, text=text)
        self.turns.append(turn)
        return turn

    def add_patient_turn(self, text: str, hidden: HiddenState, guard: GuardReport | None = None) -> Turn:
        turn = Turn(id=self._next_id(), speaker=Speaker.patient, text=text, hidden=hidden, guard=guard)
        self.turns.append(turn)
        return turn

    def last_hidden(self) -> HiddenState | None:
        return next((t.hidden for t in reversed(self.turns) if t.hidden is not None), None)

    def observer_transcript(self) -> list[PublicTurn]:
        return [PublicTurn(id=t.id, speaker=t.speaker, text=t.text) for t in self.turns]

    def branch_at(self, turn_id: int) -> Session:
        """A new session rewound to just before learner turn `turn_id` ("try again from here").

        It holds copies of the earlier turns and of their events only, so the patient's hidden
        state is the one it had then; this session is left untouched.
        """
        index = next((i for i, t in enumerate(self.turns) if t.id == turn_id), None)
        if index is None:
            raise ValueError(f"turn {turn_id} is not in session {self.id}")
        if self.turns[index].speaker is not Speaker.clinician:
            raise ValueError(f"turn {turn_id} is a patient turn: a session is rewound from a learner turn only")
        return Session(
            persona_id=self.persona_id,
            language=self.language,
            llm=self.llm,
            turns=[t.model_copy(deep=True) for t in self.turns[:index]],
            events=[e.model_copy(deep=True) for e in self.events if e.turn < turn_id],
            failures=[f for f in self.failures if (n := _failure_turn(f)) is not None and n < turn_id],
            parent_id=self.id,
            branch_turn=turn_id,
        )

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Session:
        return cls.model_validate_json(text)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)


_FAILURE_TURN = re.compile(r"^turn (\d+):")


def _failure_turn(failure: str) -> int | None:
    """The turn a failure note is about ("turn 4: TimeoutError"), if it says."""
    match = _FAILURE_TURN.match(failure)
    return int(match.group(1)) if match else None
