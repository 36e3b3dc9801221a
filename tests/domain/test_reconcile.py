"""Two writers, one visit (issue 12, item 10): the other writer's turns are kept, ours go on top."""

from __future__ import annotations

from agent.domain.reconcile import reconcile
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Speaker
from agent.domain.visit import VisitState

HIDDEN = HiddenState(
    inner_monologue="Je me méfie un peu.",
    emotions=["anxiety"],
    alliance=AlliancePerception(goals=3, tasks=3, bond=3),
    intended_move="none",
)


def _exchange(session: Session, text: str) -> None:
    session.add_learner_turn(text)
    session.add_patient_turn(f"Réponse à « {text} »", HIDDEN)


def _base() -> Session:
    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    _exchange(session, "Bonjour.")
    return session


def test_10_the_other_writers_turns_are_kept_and_ours_go_after_them() -> None:
    base = _base()
    kept, ours = base.model_copy(deep=True), base.model_copy(deep=True)
    _exchange(kept, "B1")
    _exchange(ours, "A1")
    our_view = VisitState(level="coach", message_turns={"m-bonjour": 0, "m-a1": 2})

    session, view = reconcile(kept, VisitState(), ours, our_view)

    assert [t.text for t in session.turns if t.speaker is Speaker.clinician] == ["Bonjour.", "B1", "A1"]
    assert [t.id for t in session.turns] == list(range(6))
    assert session.turns[5].hidden == HIDDEN  # the patient's state of our turn comes along
    assert view.level == "coach" and view.message_turns == {"m-bonjour": 0, "m-a1": 4}
    assert [t.text for t in kept.turns] == [t.text for t in session.turns[:4]]  # inputs untouched
    assert len(ours.turns) == 4


def test_10_nothing_new_on_our_side_means_the_kept_state_as_it_is() -> None:
    kept = _base()
    _exchange(kept, "B1")
    session, view = reconcile(kept, VisitState(ended=True), _base(), VisitState())
    assert session == kept and view.ended


def test_11_an_ended_visit_stays_ended_and_our_late_turns_are_kept_in_a_branch() -> None:
    base = _base()
    ours = base.model_copy(deep=True)
    _exchange(ours, "Encore une chose ?")

    session, view = reconcile(base, VisitState(ended=True), ours, VisitState())

    assert view.ended and session == base
    assert view.branches[-1].turns[-2].text == "Encore une chose ?"


def test_10_a_rewound_side_keeps_the_kept_state_and_branches_ours() -> None:
    base = _base()
    _exchange(base, "B1")
    ours = base.branch_at(2)
    _exchange(ours, "Autrement dit")
    session, view = reconcile(base, VisitState(), ours, VisitState())
    assert session == base and view.branches[-1].id == ours.id


def test_our_readings_of_the_patient_on_shared_turns_are_kept_beside_the_other_writers() -> None:
    from agent.domain.reading import PatientReading

    base = _base()
    kept, ours = base.model_copy(deep=True), base.model_copy(deep=True)
    _exchange(kept, "B1")
    read = PatientReading(
        turn_id=1, emotions=["anxiety"], alliance=AlliancePerception(goals=3, tasks=3, bond=3), move="none"
    )
    theirs = read.model_copy(update={"at": "2026-01-01T00:00:00+00:00"})

    _, view = reconcile(kept, VisitState(readings=[theirs]), ours, VisitState(readings=[read, theirs]))

    assert view.readings == [theirs, read]
