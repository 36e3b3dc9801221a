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
