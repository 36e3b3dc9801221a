"""The state of one visit beyond its turns, kept with the session in our own table (never in Chainlit's).

The coaching level, the turns the monitor could not assess, which chat message is which learner
turn (editing one tries again from there), the branches left by trying again, and whether the
visit was ended (the debrief, with the patient's thoughts, is the learner's only after that).
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.domain.reading import PatientReading
from agent.domain.session import Session

log = logging.getLogger(__name__)


class VisitState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    level: str | None = None
    unavailable: list[int] = Field(default_factory=list, description="Turns the evaluator could not assess.")
    branches: list[Session] = Field(
        default_factory=list, description="Branches left by trying again from an earlier turn, oldest first."
    )
    message_turns: dict[str, int] = Field(
        default_factory=dict, description="Which learner turn each of the learner's chat messages is, by message id."
    )
    ended: bool = Field(False, description="The learner ended the visit (and may read the debrief).")
    attempt: int = Field(
        1, ge=1, description="Counts up when the learner tries again after ending: the earlier attempt was debriefed."
    )
    readings: list[PatientReading] = Field(
        default_factory=list, description="The learner's readings of the patient, before her thoughts were revealed."
    )

    @field_validator("unavailable")
    @classmethod
    def _sorted(cls, turns: list[int]) -> list[int]:
        return sorted(set(turns))

    def record(self, message_id: str, turn_id: int) -> None:
        self.message_turns[message_id] = turn_id

    def turn_for(self, message_id: str | None) -> int | None:
        return self.message_turns.get(message_id) if message_id else None

    def mark_unavailable(self, turn_id: int) -> None:
        if turn_id not in self.unavailable:
            self.unavailable = sorted([*self.unavailable, turn_id])

    def branch(self, session: Session, turn_id: int) -> Session:
        """Try again from a learner turn: the new branch; the old one is kept. Raises ValueError on a bad turn.

        After the end, this is a new attempt (the learner has read the patient's thoughts): `attempt` counts it,
        so faculty see that the later turns were written with the debrief in mind.
        """
        branched = session.branch_at(turn_id)  # first: a refused turn changes nothing
        self.branches.append(session)
        self.message_turns = {m: t for m, t in self.message_turns.items() if t < turn_id}
        self.unavailable = [t for t in self.unavailable if t < turn_id]
        if self.ended:
            self.attempt += 1
            self.ended = False
        return branched

    def earlier_branch(self) -> Session | None:
        return self.branches[-1] if self.branches else None

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | None) -> VisitState:
        """Tolerant: a row from an older version, or a damaged branch, loses that part, never the visit."""
        try:
            return cls.model_validate_json(raw or "{}")
        except ValidationError:
            pass
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            data = None
        state = cls()
        if not isinstance(data, dict):
            log.warning("visit state unreadable: starting from defaults")
            return state
        for name in ("level", "unavailable", "message_turns", "ended", "attempt"):
            if name in data:
                try:
                    setattr(state, name, getattr(cls.model_validate({name: data[name]}), name))
                except ValidationError:
                    log.warning("visit state: %s unreadable, dropped", name)
        for item in data.get("branches") or []:
            try:
                state.branches.append(Session.model_validate(item))
            except ValidationError:
                log.warning("visit state: a damaged branch dropped")
        for item in data.get("readings") or []:
            try:
                state.readings.append(PatientReading.model_validate(item))
            except ValidationError:
                log.warning("visit state: a damaged reading dropped")
        return state
