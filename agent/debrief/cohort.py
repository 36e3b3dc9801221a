"""The cohort in numbers (issue 15): per learner and per patient, the debrief's counts summed over visits,
the learner's readings of the patient scored, and each visit's alliance trajectory.

Pure: kept visits in, typed rows out; the web edge (`agent.web.cohort`) reads the store, applies the access
rule and renders. Nothing is recounted here: each visit goes through `build_debrief` (with its persona, so the
first repair is judged against the persona's initial alliance exactly as on the visit's own debrief) and its
`Counts` are added up. Only the visit's current branch counts: branches left by "try again" are earlier drafts.

Definitions:
- a *row* is one learner with one persona (patient);
- a *trajectory* is the mean of goals, tasks and bond (the debrief's `mean`) at the start (when the persona is
  known) and after each patient turn of one visit;
- a *reading* counts when the patient turn it names is in the session with a hidden state; its score is
  `score_reading(...).overall` (0 to 1), and the row shows the mean over the row's readings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from agent.debrief.build import build_debrief
from agent.debrief.model import Counts
from agent.domain.reading import PatientReading, score_reading
from agent.domain.session import Session
from agent.domain.taxonomy import MetacommFunction, RuptureType, Speaker
from agent.persona.model import Persona

PersonaOf = Callable[[str], Persona | None]


@dataclass(frozen=True)
class CohortVisit:
    """One kept visit as the cohort sees it: whose, with which patient, when last touched, and what was read."""

    thread_id: str
    learner: str
    updated_at: datetime
    session: Session
    readings: Sequence[PatientReading] = ()

    @property
    def persona_id(self) -> str:
        return self.session.persona_id


@dataclass(frozen=True)
class CohortFilter:
    """Which visits to count: one persona (None: all) and a range of days of the last turn, both ends included."""

    persona: str | None = None
    start: date | None = None
    end: date | None = None

    def admits(self, visit: CohortVisit) -> bool:
        day = visit.updated_at.date()
        return (
            (self.persona is None or visit.persona_id == self.persona)
            and (self.start is None or day >= self.start)
            and (self.end is None or day <= self.end)
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohortRow(_Model):
    """One learner with one patient, over every admitted visit."""

    learner: str
    persona_id: str
    visits: int = 0
    turns: int = 0
    ruptures_by_type: dict[RuptureType, int] = Field(default_factory=lambda: dict.fromkeys(RuptureType, 0))
    ruptures_by_party: dict[Speaker, int] = Field(default_factory=lambda: dict.fromkeys(Speaker, 0))
    repairs_by_function: dict[str, int] = Field(
        default_factory=dict, description="Repair attempts by taxonomy label (a function, or a principle)."
    )
    repairs_by_party: dict[Speaker, int] = Field(default_factory=lambda: dict.fromkeys(Speaker, 0))
    missed_repairs: int = 0
    repairs_worked: int = Field(0, description="Repairs after which the alliance rose.")
    repairs_assessed: int = Field(0, description="Repairs with a point before and after them.")
    readings: int = Field(0, description="Readings of the patient scored against her hidden state.")
    reading_mean: float | None = Field(None, description="Mean overall score of those readings, 0 to 1.")

    @property
    def ruptures(self) -> int:
        return sum(self.ruptures_by_type.values())

    @property
    def repairs(self) -> int:
        return sum(self.repairs_by_function.values())


class Trajectory(_Model):
    """One visit's alliance (mean of goals, tasks and bond) turn by turn; x 0 is the start."""

    learner: str
    persona_id: str
    thread_id: str
    updated_at: datetime
    turns: list[float]
    alliance: list[float]


class Cohort(_Model):
    rows: list[CohortRow]
    trajectories: list[Trajectory]


def reading_scores(session: Session, readings: Iterable[PatientReading]) -> list[float]:
    """The overall score of each reading whose patient turn is in the session with its hidden state."""
    hidden = {turn.id: turn.hidden for turn in session.turns if turn.hidden is not None}
    return [score_reading(r, hidden[r.turn_id]).overall for r in readings if r.turn_id in hidden]


def _add(row: CohortRow, counts: Counts) -> None:
    for rupture, n in counts.ruptures_by_type.items():
        row.ruptures_by_type[rupture] = row.ruptures_by_type.get(rupture, 0) + n
    for speaker, n in counts.ruptures_by_party.items():
        row.ruptures_by_party[speaker] = row.ruptures_by_party.get(speaker, 0) + n
    for speaker, n in counts.repairs_by_party.items():
        row.repairs_by_party[speaker] = row.repairs_by_party.get(speaker, 0) + n
    row.repairs_by_function = dict(Counter(row.repairs_by_function) + Counter(counts.repairs_by_label))
    row.missed_repairs += counts.missed_repairs
    row.repairs_worked += counts.repairs_worked
    row.repairs_assessed += counts.repairs_assessed


def build_cohort(visits: Iterable[CohortVisit], persona_of: PersonaOf, admit: CohortFilter | None = None) -> Cohort:
    """The rows (sorted by learner, then persona) and the trajectories (same order, oldest visit first)."""
    admit = admit or CohortFilter()
    kept = sorted(
        (v for v in visits if admit.admits(v)), key=lambda v: (v.learner, v.persona_id, v.updated_at, v.thread_id)
    )
    rows: dict[tuple[str, str], CohortRow] = {}
    scores: dict[tuple[str, str], list[float]] = {}
    trajectories: list[Trajectory] = []
    for visit in kept:
        key = (visit.learner, visit.persona_id)
        row = rows.setdefault(key, CohortRow(learner=visit.learner, persona_id=visit.persona_id))
        debrief = build_debrief(visit.session, persona_of(visit.persona_id))
        row.visits += 1
        row.turns += debrief.turn_count
        _add(row, debrief.counts)
        scores.setdefault(key, []).extend(reading_scores(visit.session, visit.readings))
        if debrief.timeline:
            trajectories.append(
                Trajectory(
                    learner=visit.learner,
                    persona_id=visit.persona_id,
                    thread_id=visit.thread_id,
                    updated_at=visit.updated_at,
                    turns=[max(p.order, 0.0) for p in debrief.timeline],
                    alliance=[p.mean for p in debrief.timeline],
                )
            )
    for key, row in rows.items():
        found = scores.get(key, [])
        row.readings = len(found)
        row.reading_mean = round(sum(found) / len(found), 4) if found else None
    return Cohort(rows=list(rows.values()), trajectories=trajectories)


def repair_columns(rows: Iterable[CohortRow]) -> list[str]:
    """Every metacommunication function, then any other repair label met (principles), sorted: stable columns."""
    functions = [f.value for f in MetacommFunction]
    others = sorted({label for row in rows for label in row.repairs_by_function} - set(functions))
    return functions + others
