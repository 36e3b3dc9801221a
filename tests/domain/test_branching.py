"""Branching a session: trying again from a learner turn keeps what came before, the original stays as it was."""

from __future__ import annotations

import json

import pytest

from agent.domain.session import Session
from tests.support.visits import FR_SHAME, french_session


def test_branch_at_keeps_earlier_turns_and_their_events_only() -> None:
    original = french_session()
    before = original.to_json()
    branch = original.branch_at(4)
    assert branch.id != original.id and (branch.parent_id, branch.branch_turn) == (original.id, 4)
    assert [t.id for t in branch.turns] == [0, 1, 2, 3]
    assert {e.turn for e in branch.events} == {3}
    assert branch.last_hidden() is not None and branch.last_hidden().inner_monologue == FR_SHAME  # type: ignore[union-attr]
    branch.turns[3].text = "changed"
    branch.add_learner_turn("Je vois que ça vous a touchée.")
    assert original.to_json() == before  # the original is untouched
    assert branch.turns[-1].id == 4


def test_branch_at_refuses_a_patient_turn_or_an_unknown_turn() -> None:
    session = french_session()
    with pytest.raises(ValueError, match="patient turn"):
        session.branch_at(3)
    with pytest.raises(ValueError, match="not in session"):
        session.branch_at(42)


def test_branch_at_keeps_failures_of_earlier_turns_only() -> None:
    session = french_session()
    session.failures = ["turn 2: TimeoutError", "turn 6: APIConnectionError", "odd note"]
    assert session.branch_at(4).failures == ["turn 2: TimeoutError"]


def test_old_transcripts_without_branch_fields_still_load() -> None:
    data = json.loads(french_session().to_json())
    del data["parent_id"], data["branch_turn"]
    loaded = Session.from_json(json.dumps(data))
    assert loaded.parent_id is None and loaded.branch_turn is None and len(loaded.turns) == 12
    assert Session.from_json(loaded.branch_at(2).to_json()).branch_turn == 2
