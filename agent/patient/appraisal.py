"""The appraisal: the learner's last turn read against the persona's reaction rules, before the model speaks.

A small model decides badly, on its own, whether a blunt refusal should hurt (the probes showed it thanking
the doctor). So the patient's reaction is settled first, outside the model:

1. Each clause of the learner's turn (sentences, cut again at a colon or semicolon) is embedded
   (multilingual-e5-small, `agent.llm.embedding`) and its nearest neighbours are looked up among a generic bank of doctor sentences (`data/stance_bank.yaml`:
   imposing, dismissing, attuning or neutral, in French and English, written for this) and the persona's
   own rule examples. Their similarity-weighted vote says whether the clause ruptures (imposes or
   dismisses), attunes, or is ordinary talk.
2. A turn that ruptures picks, among the persona's rules whose move is withdrawal or confrontation, the one
   whose examples are closest in meaning; a turn that attunes picks among the rules whose move is repair or
   none. An ordinary turn, or a persona with no rule of that kind, is left to the model, as before.
   A rule may instead ask for a form (`trigger: third_person`): the doctor speaks of the patient to someone
   else in the room (`agent.patient.addressing`); unless the turn already ruptures by meaning, that form sets
   it off whatever the words.
3. The chosen rule fixes the hidden state's move, alliance (its shift added to where the alliance stood)
   and emotions; the model then writes the monologue and the reply from it (`patient_state.*.md`).

The vote is deliberately cautious: a clause counts only when most of its neighbours agree, a rupture only
when the clause is also nearer to impositions (and to this persona's rupture examples) than to plain clinical
talk, and a turn that both ruptures and attunes goes with the stronger vote. The parameters were chosen on
the probes written with the rules and the first batch of ordinary turns; the paraphrased probes and the
second batch measure them (`alliance appraisal`, figures in evals/README.md). The evaluator never sees any of this.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from agent.domain.session import AlliancePerception, Session
from agent.domain.taxonomy import ALLIANCE_MAX, ALLIANCE_MIN, Emotion, Lang, Move, Speaker
from agent.llm.embedding import Embedder, shared_embedder
from agent.patient.addressing import pronouns_in, speaks_of_patient
from agent.patient.guard import split_sentences
from agent.persona.model import Persona, Reaction

DATA_DIR = Path(__file__).resolve().parent / "data"
BANK_PATH = DATA_DIR / "stance_bank.yaml"
BANK_VECTORS = DATA_DIR / "stance_bank.npz"  # the bank embedded once: `python -m agent.devtools.stance_bank`
RUPTURING = "rupturing"
ATTUNING = "attuning"
NEUTRAL = "neutral"
SPOKEN_OF = "third_person"  # not a vote: the turn speaks of the patient to someone else (`trigger: third_person`)
_BANK_CLASSES = {"imposes": RUPTURING, "dismisses": RUPTURING, "attunes": ATTUNING, "neutral": NEUTRAL}
RUPTURE_MOVES = (Move.withdrawal, Move.confrontation)
_CLAUSE_BREAK = re.compile(r"\s*[:;]\s+")
NEIGHBOURS = 7  # neighbours that vote for a clause
TEMPERATURE = 0.02  # e5 similarities sit close together: a sharp softmax lets the nearest count more
MIN_SHARE = 0.6  # a clause counts as rupturing or attuning only when this share of the vote agrees
RUPTURE_MARGIN = 0.01  # and as rupturing only when closer to a rupturing sentence than to any neutral one by this
ATTUNE_MARGIN = 0.01  # and as attuning only when at least as close to an attuning sentence as to any neutral one
MAX_CLAUSES = 10
EMBED_DIM = 384


@dataclass(frozen=True)
class Appraisal:
    """The rule a learner's turn set off, and where it leaves the patient."""

    rule: Reaction
    index: int  # the rule's position in the persona's `reactions`
    stance: str  # rupturing, attuning or third_person
    share: float  # the vote share of the deciding clause
    alliance: AlliancePerception
    emotions: list[Emotion]

    @property
    def move(self) -> Move:
        return self.rule.move


def bank_hash(path: Path = BANK_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def load_bank(path: Path = BANK_PATH) -> dict[str, list[tuple[str, str]]]:
    """The generic stance bank, per language: (sentence, class) with class rupturing, attuning or neutral."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    bank: dict[str, list[tuple[str, str]]] = {}
    for lang, classes in raw.items():
        bank[lang] = [(text, _BANK_CLASSES[name]) for name, items in classes.items() for text in items]
    return bank


def embed_bank(embedder: Embedder, path: Path = BANK_PATH) -> dict[str, NDArray[np.float32]]:
    """Every bank sentence embedded (unit rows), per language, in `load_bank` order."""
    return {lang: _unit(embedder.embed([text for text, _ in items])) for lang, items in load_bank(path).items()}


def bank_vectors(
    embedder: Embedder, lang: str, path: Path = BANK_PATH, vectors: Path = BANK_VECTORS
) -> NDArray[np.float32]:
    """The bank's vectors for one language: the shipped file when it was built from this very bank, else embedded
    now (about 15 s for both languages on one core)."""
    if vectors.exists() and path == BANK_PATH:
        with np.load(vectors) as shipped:
            if str(shipped["sha256"]) == bank_hash(path) and lang in shipped:
                return np.asarray(shipped[lang], dtype=np.float32)
    return embed_bank(embedder, path).get(lang, np.zeros((0, EMBED_DIM), dtype=np.float32))


def clauses(text: str) -> list[str]:
    """The turn's sentences, cut again at a colon or semicolon ("Let me be blunt: the answer is no."): a preface
    and what follows it often do different things. Fragments of one word stay with nothing."""
    parts = [c.strip() for s in split_sentences(text) for c in _CLAUSE_BREAK.split(s)]
    kept = [c for c in parts if len(c.split()) >= 2]
    return kept[:MAX_CLAUSES] or [text.strip() or "…"]


def _unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def standing(persona: Persona, session: Session) -> AlliancePerception:
    """Where the alliance stands before this turn: the last hidden state's, else the persona's starting one."""
    last = session.last_hidden()
    return last.alliance if last else AlliancePerception(**persona.initial_alliance.model_dump())


def shifted(start: AlliancePerception, rule: Reaction) -> AlliancePerception:
    def clamp(value: int) -> int:
        return max(ALLIANCE_MIN, min(ALLIANCE_MAX, value))

    return AlliancePerception(
        goals=clamp(start.goals + rule.alliance.goals),
        tasks=clamp(start.tasks + rule.alliance.tasks),
        bond=clamp(start.bond + rule.alliance.bond),
    )


Pool = tuple[NDArray[np.float32], list[str], list[int]]
# The pools already built, per embedder, then per (language, bank, rules): every visit of a persona shares one
# (about 380 KB of vectors each: issue 16 measured a connected session's memory). Bounded: personas are few.
_POOLS: weakref.WeakKeyDictionary[object, dict[tuple[object, ...], Pool]] = weakref.WeakKeyDictionary()
_POOLS_PER_EMBEDDER = 64


class Appraiser:
    """Reads a learner's turn against one persona's reaction rules."""

    def __init__(self, persona: Persona, embedder: Embedder | None = None, bank_path: Path = BANK_PATH):
        self.persona = persona
        self.rules = persona.reactions
        self._embedder = embedder
        self._bank_path = bank_path
        self._pool: tuple[NDArray[np.float32], list[str], list[int]] | None = None
        # The rules set off by form, and the pronouns their examples use for the patient: read once, not per turn.
        self._spoken_of = [i for i, rule in enumerate(self.rules) if rule.trigger == "third_person"]
        self._pronouns = pronouns_in(e for i in self._spoken_of for e in self.rules[i].examples)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def _vectors(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        return _unit(self.embedder.embed(texts))

    def pool(self) -> Pool:
        """The neighbours: bank sentences of the persona's language, then every rule example (-1: not a rule).
        Built once per persona (its language, bank and rules) and embedder, shared by its visits; read-only."""
        if self._pool is None:
            key = (
                self.persona.language,
                str(self._bank_path),
                tuple((rule.move in RUPTURE_MOVES, tuple(rule.examples)) for rule in self.rules),
            )
            try:
                shared = _POOLS.setdefault(self.embedder, {})
            except TypeError:  # an embedder that takes no weak reference: this visit's own pool
                shared = {}
            if key not in shared:
                if len(shared) >= _POOLS_PER_EMBEDDER:
                    shared.clear()
                shared[key] = self._build_pool()
            self._pool = shared[key]
        return self._pool

    def _build_pool(self) -> Pool:
        lang: Lang = self.persona.language
        entries = [(cls, -1) for _, cls in load_bank(self._bank_path).get(lang, [])]
        examples: list[str] = []
        for index, rule in enumerate(self.rules):
            cls = RUPTURING if rule.move in RUPTURE_MOVES else ATTUNING
            entries += [(cls, index) for _ in rule.examples]
            examples += rule.examples
        vectors = np.vstack([bank_vectors(self.embedder, lang, self._bank_path), self._vectors(examples)])
        vectors.setflags(write=False)
        return vectors, [cls for cls, _ in entries], [index for _, index in entries]

    def stance(self, text: str) -> tuple[str, float, NDArray[np.float32]]:
        """The turn's stance (rupturing, attuning or neutral), the deciding share, and its clause vectors.

        A clause counts as rupturing only when, beyond its vote, it is closer to some rupturing sentence than to
        every neutral one (by RUPTURE_MARGIN) and at least as close to one of this persona's rupture examples as
        to every neutral sentence: plain instructions and results, which e5 puts near impositions, stay ordinary.
        """
        vectors = self._vectors(clauses(text))
        pool, classes, owners = self.pool()
        kinds = np.array(classes)
        rupturing, attuning, neutral = kinds == RUPTURING, kinds == ATTUNING, kinds == NEUTRAL
        rule_rupturing = rupturing & (np.array(owners) >= 0)
        best = {RUPTURING: 0.0, ATTUNING: 0.0}
        for row in vectors @ pool.T:
            top = np.argsort(row)[::-1][:NEIGHBOURS]
            weights = np.exp((row[top] - row[top[0]]) / TEMPERATURE)
            total = float(weights.sum())
            nearest_neutral = float(row[neutral].max()) if neutral.any() else -1.0
            for cls in best:
                if cls == RUPTURING and not (
                    float(row[rupturing].max()) - nearest_neutral >= RUPTURE_MARGIN
                    and rule_rupturing.any()
                    and float(row[rule_rupturing].max()) >= nearest_neutral
                ):
                    continue
                if cls == ATTUNING and float(row[attuning].max()) - nearest_neutral < ATTUNE_MARGIN:
                    continue
                share = float(weights[kinds[top] == cls].sum()) / total
                best[cls] = max(best[cls], share)
        cls = RUPTURING if best[RUPTURING] >= best[ATTUNING] else ATTUNING
        if best[cls] < MIN_SHARE:
            return NEUTRAL, max(best.values()), vectors
        return cls, best[cls], vectors

    def appraise(self, session: Session) -> Appraisal | None:
        """The rule the learner's last turn sets off, or None (no rules, ordinary talk, or no rule of that kind)."""
        if not self.rules or not session.turns or session.turns[-1].speaker is not Speaker.clinician:
            return None
        text = session.turns[-1].text
        stance, share, vectors = self.stance(text)
        if stance != RUPTURING and self._spoken_of and speaks_of_patient(clauses(text), self._pronouns):
            # Talked about, not to: the form decides, whatever the words' meaning (agent/patient/addressing.py).
            candidates, share, stance = self._spoken_of, 1.0, SPOKEN_OF
        elif stance == NEUTRAL:
            return None
        else:
            candidates = [
                i for i, rule in enumerate(self.rules) if (rule.move in RUPTURE_MOVES) == (stance == RUPTURING)
            ]
        if not candidates:
            return None
        pool, _, owners = self.pool()
        similarity = (vectors @ pool.T).max(axis=0)
        index = max(candidates, key=lambda i: max(float(s) for s, o in zip(similarity, owners, strict=True) if o == i))
        rule = self.rules[index]
        last = session.last_hidden()
        emotions = list(rule.emotions) or (list(last.emotions) if last else [])
        return Appraisal(
            rule, index, stance, round(share, 3), shifted(standing(self.persona, session), rule), emotions[:3]
        )
