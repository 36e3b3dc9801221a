"""A tiny French/English language guess, for checks (probes, fake model). Not a classifier of record."""

from __future__ import annotations

import re

from agent.domain.labels import Lang

_FR = frozenset(
    [
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "et",
        "est",
        "je",
        "vous",
        "tu",
        "il",
        "elle",
        "nous",
        "on",
        "pas",
        "que",
        "qui",
        "mais",
        "avec",
        "pour",
        "dans",
        "sur",
        "ce",
        "ça",
        "cette",
        "mon",
        "ma",
        "mes",
        "votre",
        "vos",
        "suis",
        "êtes",
        "ai",
        "avez",
        "très",
        "bien",
        "oui",
        "non",
    ]
)
_EN = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "is",
        "are",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "not",
        "that",
        "who",
        "but",
        "with",
        "for",
        "in",
        "on",
        "this",
        "my",
        "your",
        "am",
        "have",
        "has",
        "very",
        "well",
        "yes",
        "no",
        "it",
        "to",
        "of",
    ]
)
_WORD = re.compile(r"[a-zàâçéèêëîïôûùüÿœ']+", re.I)


def _counts(text: str) -> tuple[int, int]:
    words = [w.lower().strip("'") for w in _WORD.findall(text)]
    return sum(w in _FR for w in words), sum(w in _EN for w in words)


def guess_language(text: str) -> str:
    """'fr' or 'en' by common-word counts; ties go to 'en'."""
    fr, en = _counts(text)
    return "fr" if fr > en else "en"


def is_written_in(text: str, lang: str) -> bool:
    """Whether the text is in `lang`, or too short to tell ("Correct.", "OK", "D'accord" say nothing either way)."""
    fr, en = _counts(text)
    if fr == en:
        return True
    return ("fr" if fr > en else "en") == lang


def as_lang(value: str | None) -> Lang:
    """A language code from outside (a request, a CLI flag, a stored session) as one we serve: fr, else en."""
    return "fr" if (value or "").lower().startswith("fr") else "en"
