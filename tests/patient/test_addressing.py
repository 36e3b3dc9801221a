"""Whom the doctor speaks to: a third-person turn about the patient, said to someone else in the room."""

from __future__ import annotations

import pytest

from agent.patient.addressing import pronouns_in, speaks_of_patient
from agent.patient.appraisal import clauses

SHE = frozenset({"she", "her"})


@pytest.mark.parametrize(
    "turn",
    [
        "Mom, is she sleeping at all?",
        "Thanks for bringing her in. How long has she been like this?",
        "I appreciate you coming. When did she stop eating?",  # "you" is in one sentence, not in the other
        "Lisa, walk me through what her mornings are like: does she get up on her own?",
    ],
)
def test_a_sentence_about_her_said_to_no_one_as_you_speaks_of_the_patient(turn: str) -> None:
    assert speaks_of_patient(clauses(turn), SHE)


@pytest.mark.parametrize(
    "turn",
    [
        "Riley, what do you think is going on?",
        "I appreciate you getting her here today.",  # said to the mother: she is spoken to
        "Mrs. Hayes, could you wait outside for a few minutes?",
        "How is he sleeping, your little brother?",  # "he": not the pronouns of the rule's examples
        "How has he been since the last visit?",
    ],
)
def test_a_turn_that_speaks_to_someone_or_of_someone_else_does_not(turn: str) -> None:
    assert not speaks_of_patient(clauses(turn), SHE)


def test_french_counts_elle_and_il_but_not_impersonal_il() -> None:
    elle = pronouns_in(["Madame, est-ce qu'elle mange bien à la maison?"])
    assert elle == {"elle"}
    assert speaks_of_patient(clauses("Depuis quand est-ce qu'elle ne va plus à l'école?"), elle)
    assert not speaks_of_patient(clauses("Est-ce que vous dormez mieux? Elle va bien, votre fille?"), elle)
    il = pronouns_in(["Il dort mal depuis quand, votre père?", "Est-ce qu'il prend ses pilules?"])
    assert "il" in il
    assert speaks_of_patient(clauses("Est-ce qu'il mange seul le midi?"), il)
    assert not speaks_of_patient(clauses("Il faut faire une prise de sang. Il y a un labo en bas."), il)


def test_a_rule_without_pronouns_reads_every_third_person_pronoun() -> None:
    assert pronouns_in(["Mom, what are the mornings like?"]) == frozenset()
    assert speaks_of_patient(clauses("Is he eating?"))
    assert not speaks_of_patient(clauses("Are you eating?"))
