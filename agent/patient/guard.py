"""The leak guard: nothing of the hidden state or of the instructions reaches the learner.

Checked before any text is shown: role names and prompt vocabulary ("inner monologue",
"system prompt", taxonomy ids), JSON debris, and verbatim spans (eight words or more) of the
hidden inner monologue, the persona's secret pre-visit thoughts or the prompt's own
instructions. While a reply streams, `StreamGuard` holds back the last eight words, so that a
span or a term is caught before any of it is released.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from agent.domain.taxonomy import EMOTIONS, FUNCTIONS, MOVES, RUPTURES, SUBTYPES, Lang
from agent.i18n.catalog import t

SPAN_WORDS = 8

_TERMS = [
    # English
    r"inner monologue",
    r"internal monologue",
    r"hidden state",
    r"system prompt",
    r"my instructions",
    r"these instructions",
    r"the instructions i (was|were) given",
    r"as an ai",
    r"an ai (language )?model",
    r"language model",
    r"simulated patient",
    r"role-?play",
    r"\bpersona\b",
    r"rupture marker",
    r"metacommunication",
    r"intended move",
    r"alliance score",
    r"\bjson\b",
    # French
    r"monologue int[ée]rieur",
    r"[ée]tat cach[ée]",
    r"\bprompt\b",
    r"mes consignes",
    r"ces consignes",
    r"mes instructions",
    r"ces instructions",
    r"en tant qu.ia",
    r"intelligence artificielle",
    r"mod[èe]le de langage",
    r"patiente? simul[ée]e?",
    r"jeu de r[ôo]le",
    r"m[ée]tacommunication",
    r"marqueur de rupture",
]
_ROLE_LINE = re.compile(r"(^|\n)\s*(system|assistant|user|utilisateur|syst[èe]me|patient|docteur|doctor)\s*:", re.I)
_JSON_DEBRIS = re.compile(r"[{}]|\"(reply|hidden|inner_monologue|emotions|alliance|intended_move)\"\s*:")


def _taxonomy_ids() -> list[str]:
    ids: set[str] = set(SUBTYPES)
    for table in (EMOTIONS, FUNCTIONS, MOVES, RUPTURES):
        ids.update(k.value for k in table)
    # Plain words ("anger", "none") are ordinary speech; only the snake_case ids betray the rubric.
    return sorted(i for i in ids if "_" in i)


_FORBIDDEN = re.compile("|".join([*_TERMS, *(re.escape(i) for i in _taxonomy_ids())]), re.I)
_WORD = re.compile(r"\w[\w\u0300-\u036f]*", re.UNICODE)  # combining accents stay inside a word


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(folded)


def _shingles(text: str, n: int = SPAN_WORDS) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


_TEMPLATE_SYNTAX = re.compile(r"\{[{%#].*?[}%#]\}", re.S)


@lru_cache(maxsize=512)
def _spans(text: str, template: bool = False) -> frozenset[tuple[str, ...]]:
    """A text's spans, once per text: most secrets (the persona's monologue, the prompt templates) and every allowed
    phrasing are the same at every turn, and folding them word by word again took about a tenth of a turn's time
    on the event loop (issue 16's profile)."""
    return frozenset(_shingles(_TEMPLATE_SYNTAX.sub(" ", text) if template else text))


@dataclass
class LeakGuard:
    """Secrets for one patient turn: what must never be echoed in the reply."""

    secrets: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # phrases the patient may say (their phrasings)
    _shingles: set[tuple[str, ...]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self._shingles = set().union(*(_spans(secret, template=True) for secret in self.secrets))
        if self._shingles:
            self._shingles -= set().union(*(_spans(phrase) for phrase in self.allowed))

    @classmethod
    def for_turn(cls, secrets: Iterable[str], allowed: Iterable[str] = ()) -> LeakGuard:
        return cls(secrets=[s for s in secrets if s], allowed=list(allowed))

    def reasons(self, text: str) -> list[str]:
        found: list[str] = []
        for match in _FORBIDDEN.finditer(text):
            found.append(f"forbidden term: {match.group(0)!r}")
        if _ROLE_LINE.search(text):
            found.append("role label")
        if _JSON_DEBRIS.search(text):
            found.append("JSON debris")
        if self._shingles and _shingles(text) & self._shingles:
            found.append(f"verbatim span of {SPAN_WORDS}+ words from hidden text")
        return found

    def repair(self, text: str) -> str:
        """Drop the sentences that leak; what is left is safe (possibly empty)."""
        kept = [s for s in split_sentences(text) if not self.reasons(s)]
        repaired = " ".join(kept).strip()
        return repaired if not self.reasons(repaired) else ""


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?…])\s+|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]


class StreamGuard:
    """Release streamed text only once it is known to be safe; stop at the first leak."""

    def __init__(self, guard: LeakGuard, holdback_words: int = SPAN_WORDS):
        self.guard = guard
        self.holdback_words = holdback_words
        self.buffer = ""
        self.released = 0
        self.tripped = False

    def feed(self, delta: str) -> str:
        if self.tripped:
            return ""
        self.buffer += delta
        if self.guard.reasons(self.buffer):
            self.tripped = True
            return ""
        # Any leak is detected as soon as it is complete, and none spans more than
        # `SPAN_WORDS` words: releasing only what precedes the last ones is therefore safe.
        starts = [m.start() for m in _WORD.finditer(self.buffer)]
        if len(starts) <= self.holdback_words:
            return ""
        safe_until = max(self.released, starts[-self.holdback_words])
        out = self.buffer[self.released : safe_until]
        self.released = safe_until
        return out

    def finish(self) -> str:
        """End of stream: release the held-back tail if the whole text is clean."""
        if self.tripped or self.guard.reasons(self.buffer):
            self.tripped = True
            return ""
        out = self.buffer[self.released :]
        self.released = len(self.buffer)
        return out


def fallback_reply(lang: Lang) -> str:
    """The neutral, in-character line said when no checked reply could be had."""
    return t("patient.fallback_reply", lang)
