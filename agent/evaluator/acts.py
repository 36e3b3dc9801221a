"""The communicative-act layer: one act per sentence, before any reading of the alliance (issue 13, 1a).

A turn is split into sentences (`split_sentences`, the detector's own), each sentence is embedded
with the detector's shared multilingual-e5-small (`shared_embedder`), and a softmax head gives a
distribution over the 16 acts of `agent.domain.acts`. The features of a sentence are blocks named
in the weights file, so training and tagging build them the same way (`feature_rows`):

- ``emb``: the sentence embedding;
- ``speaker``: clinician / patient, one-hot;
- ``shape``: the detector's shape features (length, "?", "!", three words or fewer);
- ``prev``: the previous turn's embedding (mean of its sentences), zeros when there is none;
- ``emb_patient``: the sentence embedding again, for patient sentences only (lets the head read
  the same words differently by speaker).

The head is trained by `agent.devtools.act_train` (weights in `agent/evaluator/data/act_model.npz`;
figures in evals/DATA.md, "Act layer: figures"). The alliance layer reads these acts in context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.domain.taxonomy import CommunicativeAct, Speaker
from agent.evaluator.detector import (
    DATA_DIR,
    EMBED_DIM,
    Head,
    shape_features,
    split_sentences,
)
from agent.llm.embedding import Embedder, shared_embedder

ACT_MODEL_PATH = DATA_DIR / "act_model.npz"
ACT_CLASSES: tuple[str, ...] = tuple(a.value for a in CommunicativeAct)
BLOCKS: tuple[str, ...] = ("emb", "speaker", "shape", "prev", "emb_patient")

Matrix = NDArray[np.float32]


def turn_vector(vectors: Matrix) -> NDArray[np.float32]:
    """A turn's vector: the normalised mean of its sentence embeddings."""
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    out: NDArray[np.float32] = (mean / norm if norm > 0 else mean).astype(np.float32)
    return out


def feature_rows(
    vectors: Matrix,
    sentences: list[str],
    speaker: Speaker,
    prev_vec: NDArray[np.float32] | None,
    blocks: tuple[str, ...],
) -> Matrix:
    """One feature row per sentence, from its embedding and the named feature blocks."""
    n = len(sentences)
    parts: list[Matrix] = []
    for block in blocks:
        if block == "emb":
            parts.append(vectors)
        elif block == "speaker":
            onehot = [1.0, 0.0] if speaker is Speaker.clinician else [0.0, 1.0]
            parts.append(np.tile(np.asarray(onehot, np.float32), (n, 1)))
        elif block == "shape":
            parts.append(np.asarray([shape_features(s) for s in sentences], np.float32))
        elif block == "prev":
            prev = prev_vec if prev_vec is not None else np.zeros(EMBED_DIM, np.float32)
            parts.append(np.tile(prev.astype(np.float32), (n, 1)))
        elif block == "emb_patient":
            parts.append(vectors if speaker is Speaker.patient else np.zeros_like(vectors))
        else:
            raise ValueError(f"unknown feature block {block!r}")
    return np.concatenate(parts, axis=1).astype(np.float32)


@dataclass
class ActModel:
    head: Head
    blocks: tuple[str, ...]
    meta: dict[str, Any]

    def save(self, path: Path) -> None:
        meta = {**self.meta, "blocks": list(self.blocks), "classes": list(self.head.classes)}
        np.savez_compressed(
            path,
            w=self.head.weights,
            b=self.head.bias,
            meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path = ACT_MODEL_PATH) -> ActModel:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            head = Head(tuple(meta.pop("classes")), data["w"].astype(np.float32), data["b"].astype(np.float32))
        return cls(head, tuple(meta.pop("blocks")), meta)


@dataclass(frozen=True)
class SentenceAct:
    """The act of one sentence of a turn, its probability, and the whole distribution."""

    index: int
    text: str
    act: CommunicativeAct
    probability: float
    probs: tuple[float, ...]  # one per `ACT_CLASSES`, in that order; sums to 1

    def prob(self, act: CommunicativeAct | str) -> float:
        return self.probs[ACT_CLASSES.index(str(act))]

    def ranked(self, k: int = 3) -> list[tuple[CommunicativeAct, float]]:
        order = sorted(range(len(self.probs)), key=lambda i: -self.probs[i])[:k]
        return [(CommunicativeAct(ACT_CLASSES[i]), self.probs[i]) for i in order]


class ActTagger:
    """Tags every sentence of a turn with its communicative act."""

    def __init__(self, model: ActModel | None = None, embedder: Embedder | None = None):
        self.model = model or load_act_model()
        self.embedder = embedder or shared_embedder()
        if self.model.head.classes != ACT_CLASSES:
            raise ValueError("act model classes differ from CommunicativeAct: retrain with agent.devtools.act_train")

    @property
    def uses_context(self) -> bool:
        return "prev" in self.model.blocks

    def tag(self, text: str, speaker: Speaker, prev: str = "") -> list[SentenceAct]:
        sentences = split_sentences(text)
        prev_sentences = split_sentences(prev) if prev.strip() and self.uses_context else []
        vectors = self.embedder.embed(sentences + prev_sentences)
        prev_vec = turn_vector(vectors[len(sentences) :]) if prev_sentences else None
        return self.tag_vectors(vectors[: len(sentences)], sentences, speaker, prev_vec)

    def tag_vectors(
        self, vectors: Matrix, sentences: list[str], speaker: Speaker, prev_vec: NDArray[np.float32] | None = None
    ) -> list[SentenceAct]:
        """The same from precomputed sentence embeddings (training, evaluation, a caller that has them)."""
        x = feature_rows(vectors, sentences, speaker, prev_vec, self.model.blocks)
        probs = self.model.head.probs(x).astype(np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)
        out = []
        for i, (sentence, row) in enumerate(zip(sentences, probs, strict=True)):
            best = int(np.argmax(row))
            out.append(
                SentenceAct(
                    i, sentence, CommunicativeAct(ACT_CLASSES[best]), float(row[best]), tuple(float(p) for p in row)
                )
            )
        return out


@lru_cache(maxsize=1)
def load_act_model() -> ActModel:
    if not ACT_MODEL_PATH.exists():
        raise FileNotFoundError(f"{ACT_MODEL_PATH} is missing: run `python -m agent.devtools.act_train`")
    return ActModel.load(ACT_MODEL_PATH)


@lru_cache(maxsize=1)
def shared_act_tagger() -> ActTagger:
    """One tagger per process, on the detector's shared embedder (its cache is shared too)."""
    return ActTagger()
