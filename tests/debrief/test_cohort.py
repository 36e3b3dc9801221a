"""The cohort's counting (agent.debrief.cohort) on hand-made visits whose figures are known."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agent.debrief.cohort import CohortFilter, CohortVisit, build_cohort, reading_scores, repair_columns
from agent.domain.taxonomy import Emotion, Move, RuptureType, Speaker
from agent.persona.model import Persona
from tests.support.cohort import counted_visit, exact_reading, half_reading, reading


def _no_persona(persona_id: str) -> Persona | None:
    return None


def _visit(learner: str, day: int, persona_id: str = "bertrand.fr", readings: tuple = ()) -> CohortVisit:  # type: ignore[type-arg]
    when = datetime(2026, 3, day, 10, 0, tzinfo=UTC)
    return CohortVisit(f"{learner}-{persona_id}-{day}", learner, when, counted_visit(persona_id), readings)


def test_one_visit_counts_ruptures_by_type_and_party_repairs_by_function_missed_and_risen() -> None:
    cohort = build_cohort([_visit("alice", 1)], _no_persona)

    (row,) = cohort.rows
    assert (row.learner, row.persona_id, row.visits, row.turns) == ("alice", "bertrand.fr", 1, 9)
    assert row.ruptures_by_type == {RuptureType.withdrawal: 1, RuptureType.confrontation: 2}
    assert row.ruptures_by_party == {Speaker.clinician: 1, Speaker.patient: 2}
    assert row.repairs_by_function == {"clarifying": 1, "emotional": 1, "reflective": 1}
    assert row.repairs_by_party == {Speaker.clinician: 2, Speaker.patient: 1}
    assert row.missed_repairs == 1
    # Turn 2 (3 -> 4) and turn 7 (2 -> 3) rose; turn 8 has no reply after it, so it is not assessed.
    assert (row.repairs_worked, row.repairs_assessed) == (2, 2)
    assert (row.ruptures, row.repairs) == (3, 3)
    assert row.readings == 0 and row.reading_mean is None


def test_visits_of_one_learner_and_patient_add_up_and_other_pairs_get_their_own_row() -> None:
    visits = [_visit("bob", 2), _visit("alice", 1), _visit("alice", 3), _visit("alice", 4, "other.en")]
    cohort = build_cohort(visits, _no_persona)

    keys = [(r.learner, r.persona_id, r.visits) for r in cohort.rows]
    assert keys == [("alice", "bertrand.fr", 2), ("alice", "other.en", 1), ("bob", "bertrand.fr", 1)]
    twice = cohort.rows[0]
    assert twice.turns == 18 and twice.missed_repairs == 2 and twice.repairs_worked == 4
    assert twice.ruptures_by_type[RuptureType.confrontation] == 4
    assert twice.repairs_by_function == {"clarifying": 2, "emotional": 2, "reflective": 2}


def test_readings_are_scored_against_the_hidden_state_of_the_turn_they_name_and_averaged() -> None:
    session = counted_visit()
    assert reading_scores(session, [exact_reading()]) == [1.0]
    assert reading_scores(session, [half_reading()]) == [pytest.approx(1 / 3)]
    # A reading of a turn that is not a patient turn in this session (rewound, or a learner turn) is not scored.
    stray = [reading(2, 4, [Emotion.anger], Move.none), reading(40, 4, [Emotion.anger], Move.none)]
    assert reading_scores(session, stray) == []

    visits = [_visit("alice", 1, readings=(exact_reading(),)), _visit("alice", 2, readings=(half_reading(), *stray))]
    (row,) = build_cohort(visits, _no_persona).rows
    assert row.readings == 2
    assert row.reading_mean == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)


def test_the_filter_keeps_one_persona_and_a_range_of_days_both_ends_included() -> None:
    visits = [_visit("alice", 1), _visit("alice", 2), _visit("alice", 3), _visit("alice", 2, "other.en")]

    by_persona = build_cohort(visits, _no_persona, CohortFilter(persona="other.en"))
    assert [(r.persona_id, r.visits) for r in by_persona.rows] == [("other.en", 1)]
    by_days = build_cohort(visits, _no_persona, CohortFilter(start=date(2026, 3, 2), end=date(2026, 3, 3)))
    assert [(r.persona_id, r.visits) for r in by_days.rows] == [("bertrand.fr", 2), ("other.en", 1)]
    both = build_cohort(visits, _no_persona, CohortFilter("bertrand.fr", date(2026, 3, 2), date(2026, 3, 2)))
    assert [(r.persona_id, r.visits) for r in both.rows] == [("bertrand.fr", 1)]
    assert [t.updated_at.day for t in both.trajectories] == [2]


def test_each_visit_has_a_trajectory_of_the_mean_alliance_starting_from_the_persona_s(
    persona_fr: Persona,
) -> None:
    cohort = build_cohort([_visit("alice", 1), _visit("bob", 1)], lambda _: persona_fr)

    start = persona_fr.initial_alliance
    initial = round((start.goals + start.tasks + start.bond) / 3, 2)
    assert [t.learner for t in cohort.trajectories] == ["alice", "bob"]
    path = cohort.trajectories[0]
    assert path.turns == [0.0, 1.0, 3.0, 5.0, 7.0]
    assert path.alliance == [initial, 3.0, 4.0, 2.0, 3.0]


def test_repair_columns_are_every_function_then_any_other_label_met() -> None:
    (row,) = build_cohort([_visit("alice", 1)], _no_persona).rows
    row.repairs_by_function["explore_perspectives"] = 1
    assert repair_columns([row]) == ["clarifying", "reflective", "emotional", "exploratory", "explore_perspectives"]
