"""The alliance layer (issue 13, item 1b): a reading of one turn means what its context makes of it."""

from __future__ import annotations

import asyncio

import pytest

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker
from agent.evaluator.context import MISSED_FLOOR, explicit_metacommunication, in_context, rupture_open
from agent.evaluator.detector import Detector
from agent.evaluator.merge import AllianceEvaluator

C, P = Speaker.clinician, Speaker.patient
REFLECTION_EN = "It sounds like this has been really hard for you."
REFLECTION_FR = "On dirait que ça a été très difficile pour vous."


def _transcript(*turns: tuple[Speaker, str]) -> list[PublicTurn]:
    return [PublicTurn(id=i, speaker=s, text=text) for i, (s, text) in enumerate(turns)]


def _repair(turn: int) -> AllianceEvent:
    return AllianceEvent(
        turn=turn,
        speaker=C,
        kind=EventKind.repair_attempt,
        function=MetacommFunction.emotional,
        principle=RepairPrinciple.metacommunication,
        evidence="",
        confidence=0.7,
        rationale="test",
        source="test",
    )


@pytest.fixture(scope="module")
def evaluator() -> AllianceEvaluator:
    return AllianceEvaluator(Detector())


def _kinds(evaluator: AllianceEvaluator, lang: str, *turns: tuple[Speaker, str]) -> set[EventKind]:
    return {e.kind for e in asyncio.run(evaluator.evaluate(_transcript(*turns), lang))}


def test_a_repair_reading_with_no_rupture_open_is_ordinary_skill_and_not_shown() -> None:
    turn = PublicTurn(id=2, speaker=C, text=REFLECTION_EN)
    assert in_context([_repair(2)], turn, rupture_may_be_open=False) == []
    assert in_context([_repair(2)], turn, rupture_may_be_open=True) == [_repair(2)]


def test_explicit_metacommunication_is_a_repair_move_by_itself() -> None:
    named = PublicTurn(
        id=0, speaker=C, text="I think I didn't explain that clearly; what I meant was the scan is fine."
    )
    assert explicit_metacommunication(named.text)
    assert in_context([_repair(0)], named, rupture_may_be_open=False) == [_repair(0)]
    assert not explicit_metacommunication("Your blood tests came back normal.")


def test_a_rupture_stays_open_for_a_few_turns_only() -> None:
    assert rupture_open([0.9, 0.1])
    assert not rupture_open([0.1, 0.2])
    assert not rupture_open([0.9, 0.1, 0.1, 0.1, 0.1])  # out of the window


@pytest.mark.parametrize(("lang", "reflection"), [("en", REFLECTION_EN), ("fr", REFLECTION_FR)])
def test_the_same_reflection_is_a_repair_after_a_withdrawal_and_nothing_after_an_answer(
    evaluator: AllianceEvaluator, lang: str, reflection: str
) -> None:
    withdrawn = "Fine. Whatever." if lang == "en" else "Correct. Comme vous voulez."
    answer = (
        "I started smoking at sixteen, mostly with friends after school."
        if lang == "en"
        else "J'ai commencé à fumer à seize ans, surtout avec des amis après l'école."
    )
    after_withdrawal = _kinds(evaluator, lang, (C, "Let's go over your medication."), (P, withdrawn), (C, reflection))
    after_answer = _kinds(evaluator, lang, (C, "When did you start smoking?"), (P, answer), (C, reflection))
    assert EventKind.repair_attempt in after_withdrawal
    assert EventKind.repair_attempt not in after_answer


@pytest.mark.parametrize(
    "text",
    [
        "Your blood tests came back normal, and the CT scan showed no bleeding.",
        "Je vais examiner vos réflexes et votre équilibre, d'accord ?",
        "Hi, what brings you in today?",
    ],
)
def test_plain_clinical_turns_at_the_start_of_a_visit_get_no_repair_flag(
    evaluator: AllianceEvaluator, text: str
) -> None:
    assert EventKind.repair_attempt not in _kinds(evaluator, "en", (C, text))


def test_a_weak_withdrawal_reading_leaves_no_missed_repair_behind(evaluator: AllianceEvaluator) -> None:
    """'Bonjour, merci pour votre question.' was once read as a withdrawal at 45 %, and the next turn a miss."""
    turns = _transcript((C, "Bonjour madame, comment allez-vous ?"), (P, "Bonjour, merci pour votre question."))
    patient_events = asyncio.run(evaluator.evaluate(turns, "fr"))
    weak = [e for e in patient_events if e.kind is EventKind.rupture_marker and e.confidence < MISSED_FLOOR]
    turns.append(PublicTurn(id=2, speaker=C, text="Qu'est-ce qui vous amène aujourd'hui ?"))
    events = asyncio.run(evaluator.evaluate(turns, "fr"))
    if weak or not patient_events:
        assert EventKind.missed_repair not in {e.kind for e in events}


def test_a_clear_confrontation_still_calls_for_a_repair(evaluator: AllianceEvaluator) -> None:
    turns = _transcript(
        (C, "Your scan is normal, you can go back to work on Monday."),
        (P, "You're not listening to me at all, this is a waste of my time."),
        (C, "Your next appointment is on March 12 at 2 pm."),
    )
    events = asyncio.run(evaluator.evaluate(turns, "en"))
    assert [e.rupture for e in events if e.kind is EventKind.missed_repair] == [RuptureType.confrontation]


@pytest.mark.parametrize(
    "text",
    [
        "I think I came across as harsh just now. What worries you most about all this?",
        "Je crois que j'ai été brusque. Qu'est-ce qui vous inquiète dans un retour rapide ?",
        "I notice we keep going around in circles, and I wonder if I've been pushing too hard.",
    ],
)
def test_the_clinician_naming_their_part_is_a_repair_move_even_with_no_rupture_read(text: str) -> None:
    turn = PublicTurn(id=4, speaker=C, text=text)
    assert in_context([_repair(4)], turn, rupture_may_be_open=False) == [_repair(4)]


def test_the_act_layer_can_make_a_turn_metacommunication() -> None:
    from agent.domain.acts import CommunicativeAct

    plain = "Could we look at this differently?"
    assert not explicit_metacommunication(plain)
    assert explicit_metacommunication(plain, [(CommunicativeAct.metacommunication, 0.8)])
    assert not explicit_metacommunication(plain, [(CommunicativeAct.metacommunication, 0.3)])


@pytest.mark.parametrize(
    ("speaker", "lang", "text"),
    [
        (C, "en", "Your blood pressure today is 128 over 82."),
        (C, "en", "Your blood tests came back normal, and the CT scan showed no bleeding."),
        (C, "fr", "Je vais vous prescrire de l'acétaminophène, 500 mg toutes les six heures."),
        (C, "fr", "Je vais examiner vos réflexes et votre équilibre, d'accord ?"),
        (P, "fr", "Bonjour, merci pour votre question."),
    ],
)
def test_the_issues_ordinary_turns_get_no_flag(
    evaluator: AllianceEvaluator, speaker: Speaker, lang: str, text: str
) -> None:
    """Issue 13's examples: each once drew a flag (a confrontation, a repair, a withdrawal)."""
    assert asyncio.run(evaluator.evaluate(_transcript((speaker, text)), lang)) == []


def test_ordinary_talk_clears_a_rupture_reading_and_nothing_else() -> None:
    from agent.domain.acts import CommunicativeAct

    marker = _repair(0).model_copy(update={"kind": EventKind.rupture_marker, "rupture": RuptureType.withdrawal})
    greeting = PublicTurn(id=0, speaker=P, text="Bonjour, merci pour votre question.")
    assert in_context([marker], greeting, False, [(CommunicativeAct.social, 0.9)]) == []
    assert in_context([marker], greeting, False, [(CommunicativeAct.social, 0.4)]) == [marker]  # unsure: kept
    shrug = PublicTurn(id=0, speaker=P, text="Okay.")
    assert in_context([marker], shrug, False, [(CommunicativeAct.minimal_reply, 0.98)]) == [marker]


def test_a_plain_answer_to_a_closed_question_is_no_withdrawal_and_a_minimal_one_still_is() -> None:
    from agent.domain.acts import CommunicativeAct as A

    marker = _repair(1).model_copy(
        update={"speaker": P, "kind": EventKind.rupture_marker, "rupture": RuptureType.withdrawal}
    )
    answer = PublicTurn(id=1, speaker=P, text="Since Thursday evening.")
    asked = [(A.closed_question, 0.9)]
    assert in_context([marker], answer, False, [(A.self_disclosure, 0.8)], asked) == []
    assert in_context([marker], answer, False, [(A.self_disclosure, 0.8)], [(A.open_question, 0.9)]) == [marker]
    assert in_context([marker], answer, False, [(A.minimal_reply, 0.9)], asked) == [marker]  # "Fine." to a question
    confrontation = marker.model_copy(update={"rupture": RuptureType.confrontation})
    assert in_context([confrontation], answer, False, [(A.self_disclosure, 0.8)], asked) == [confrontation]


def test_a_clinician_turning_toward_the_patient_is_not_withdrawing() -> None:
    from agent.domain.acts import CommunicativeAct as A

    marker = _repair(1).model_copy(update={"kind": EventKind.rupture_marker, "rupture": RuptureType.withdrawal})
    turn = PublicTurn(id=1, speaker=C, text="That sounds tiring.")
    assert in_context([marker], turn, False, [(A.simple_reflection, 0.7)]) == []
    assert in_context([marker], turn, False, [(A.minimal_reply, 0.7), (A.open_question, 0.9)]) == [marker]


def test_ordinary_answers_and_reflections_raise_nothing_end_to_end(evaluator: AllianceEvaluator) -> None:
    """Turns from a run of the ordinary set that once drew a withdrawal (patient) or a missed repair."""
    assert not _kinds(evaluator, "en", (C, "Have you ever had a reaction to penicillin?"), (P, "No, never had one."))
    assert not _kinds(evaluator, "fr", (C, "Depuis quand il a de la fièvre?"), (P, "Depuis jeudi soir."))
    assert EventKind.missed_repair not in _kinds(
        evaluator,
        "en",
        (C, "Have you ever had a reaction to penicillin?"),
        (P, "No, never had one."),
        (C, "Good. I'll prescribe amoxicillin, then."),
    )


def test_a_patient_asking_questions_seeks_the_exchange_and_is_not_withdrawing() -> None:
    from agent.domain.acts import CommunicativeAct as A

    marker = _repair(1).model_copy(
        update={"speaker": P, "kind": EventKind.rupture_marker, "rupture": RuptureType.withdrawal}
    )
    question = PublicTurn(id=1, speaker=P, text="Alors, c'est cassé ?")
    assert in_context([marker], question, False, [(A.closed_question, 0.9)]) == []
    leaving = PublicTurn(id=1, speaker=P, text="D'accord. Je peux y aller ?")
    assert in_context([marker], leaving, False, [(A.minimal_reply, 0.9), (A.closed_question, 0.9)]) == [marker]
    challenge = marker.model_copy(update={"rupture": RuptureType.confrontation})
    assert in_context([challenge], question, False, [(A.closed_question, 0.9)]) == [challenge]
