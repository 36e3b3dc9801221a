"""Whom the doctor speaks to: the patient, or someone else in the room about the patient.

A teenager brought in by her mother, an old man with his daughter, a patient with an interpreter: the doctor
who asks the companion "how long has she been like this?" talks about the patient as if she were not there.
The words are those of an ordinary clinical question, so the appraisal's embedding cannot see it; a reaction
rule asks for it by form instead (`trigger: third_person`).

A sentence (cut again at a colon or semicolon) speaks *of* someone in the third person when it holds a
singular third-person pronoun (she, her, he, him…; elle, il, lui…; French impersonal "il" as in "il faut" or
"il y a" does not count) and speaks *to* nobody in the second person (no you, your…; vous, tu, ton…). "I
appreciate you getting her here" is said to the mother and does not count; "does she eat anything?" does.
Pronouns cannot say who "she" is, so only a persona that declares such a rule (someone is in the room with
the patient) reads turns this way, and only for the pronouns its examples use for the patient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

THIRD_PERSON = re.compile(
    r"\b(she|her|hers|herself|he|him|his|himself|elle|elle-même|lui|lui-même)\b"
    r"|\bil\b(?!\s+(y\b|faut|fallait|faudra|faudrait|s'agit|semble|semblerait|paraît|parait|vaut|reste|se peut"
    r"|arrive|est (important|possible|temps|vrai|probable|normal|clair|utile|rare|fréquent|difficile)))",
    re.IGNORECASE,
)
SECOND_PERSON = re.compile(
    r"\b(you|your|yours|yourself|yourselves|y'all|vous|votre|vos|vôtre|tu|toi|ton|ta|tes|te)\b|\bt'",
    re.IGNORECASE,
)


def pronouns_in(examples: Iterable[str]) -> frozenset[str]:
    """The third-person pronouns a rule's examples use for the patient ("she", "her"): the turn is read for those
    only, so a rule written about a girl is not set off by "how is he sleeping?" said of her baby brother."""
    return frozenset(m.group(0).lower() for text in examples for m in THIRD_PERSON.finditer(_folded(text)))


def speaks_of_patient(sentences: Iterable[str], pronouns: frozenset[str] = frozenset()) -> bool:
    """True when one of the turn's sentences (`appraisal.clauses`) speaks of a third person, with one of these
    pronouns (any, when none are given), and to no one."""
    for sentence in sentences:
        folded = _folded(sentence)
        said = {m.group(0).lower() for m in THIRD_PERSON.finditer(folded)}
        if (said & pronouns if pronouns else said) and not SECOND_PERSON.search(folded):
            return True
    return False


def _folded(text: str) -> str:
    return text.replace("’", "'")
