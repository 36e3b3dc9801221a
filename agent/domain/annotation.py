"""A rater's label on one turn of a kept session (issue 15): what faculty say the turn does, in the taxonomy.

One label per turn and rater, chosen from `ANNOTATION_LABELS`: a rupture marker (its type, and the party who
ruptures: by default whoever spoke), a repair attempt (a metacommunication function, or the principle of
exploring perspectives), or none; with the evidence, a span quoted from the turn (empty: the whole turn).
The same value is what agreement is computed on and what the eval format calls `gold_label`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.domain.events import AllianceEvent, quote_span
from agent.domain.taxonomy import EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker

NONE = "none"
RUPTURE_LABELS: tuple[str, ...] = tuple(r.value for r in RuptureType)
REPAIR_LABELS: tuple[str, ...] = (*(f.value for f in MetacommFunction), RepairPrinciple.explore_perspectives.value)
ANNOTATION_LABELS: tuple[str, ...] = (*RUPTURE_LABELS, *REPAIR_LABELS, NONE)


class TurnAnnotation(BaseModel):
    """One rater's label on one turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn_id: int = Field(ge=0)
    label: str = Field(description="A rupture type, a repair function or principle, or none (ANNOTATION_LABELS).")
    party: Speaker | None = Field(None, description="Who ruptures (rupture markers only).")
    evidence: str = Field("", max_length=2000, description="The span of the turn that shows it; empty: the turn.")

    @model_validator(mode="after")
    def _consistent(self) -> TurnAnnotation:
        if self.label not in ANNOTATION_LABELS:
            raise ValueError(f"unknown label {self.label!r}: one of {', '.join(ANNOTATION_LABELS)}")
        if (self.party is not None) != (self.label in RUPTURE_LABELS):
            raise ValueError("a party is given for rupture markers, and only for them")
        return self

    @property
    def kind(self) -> EventKind | None:
        if self.label in RUPTURE_LABELS:
            return EventKind.rupture_marker
        return EventKind.repair_attempt if self.label in REPAIR_LABELS else None

    @property
    def principle(self) -> RepairPrinciple | None:
        if self.label == RepairPrinciple.explore_perspectives.value:
            return RepairPrinciple.explore_perspectives
        return RepairPrinciple.metacommunication if self.label in REPAIR_LABELS else None


def annotation(
    turn_id: int, label: str, speaker: Speaker, turn_text: str, party: str = "", evidence: str = ""
) -> TurnAnnotation:
    """A label as a form gives it: the party defaults to the speaker for a rupture; the evidence must be found in
    the turn (case, quotes and spacing aside) and is kept as the turn writes it. Raises ValueError otherwise."""
    who = (Speaker(party) if party else speaker) if label in RUPTURE_LABELS else None
    quote = evidence.strip()
    if quote:
        span = quote_span(turn_text, quote)
        if span is None:
            raise ValueError(f"the evidence is not in turn {turn_id}: {quote[:80]!r}")
        quote = span
    return TurnAnnotation(turn_id=turn_id, label=label, party=who, evidence=quote)


def monitor_label(events: list[AllianceEvent], turn_id: int) -> str:
    """What the monitor said of a turn, as a rater would: its most confident flag there, or none."""
    flags = [e for e in events if e.turn == turn_id and e.kind is not EventKind.missed_repair]
    labels = [e.label() for e in sorted(flags, key=lambda e: -e.confidence) if e.label() in ANNOTATION_LABELS]
    return labels[0] if labels else NONE
