"""Train the detector's heads on `agent/evaluator/data/detector_train/*.jsonl` (never on the eval sets).

    python -m agent.devtools.detector_train [--dev evals/datasets/gold_fr_dev.jsonl ...]

Softmax regression with L2 and balanced class weights, in numpy. Thresholds and the
sentence weight are chosen on the dev split when one is given (never on held-out).
The weights file records the sha256 of the training data; a test checks they match.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agent.config import REPO_ROOT
from agent.domain.taxonomy import CLINICIAN_LABELS, PATIENT_LABELS, Speaker
from agent.eval.dataset import LabelledItem, read_items
from agent.eval.harness import label_scores
from agent.evaluator.detector import (
    DATA_DIR,
    HEADS,
    MODEL_PATH,
    DetectorModel,
    Head,
    TurnFeatures,
    featurize,
    score_head,
)
from agent.llm.embedding import Embedder

TRAIN_DIR = DATA_DIR / "detector_train"
LABEL_SETS = {Speaker.clinician: CLINICIAN_LABELS, Speaker.patient: PATIENT_LABELS}
L2 = 3e-3
EPOCHS = 600


def training_files(directory: Path = TRAIN_DIR) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def data_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def target(head: str, item: LabelledItem) -> str:
    """The class an item teaches a head."""
    if head == "clin_repair":
        return item.gold_label
    if head == "clin_rupture":
        return item.rupture or "none"
    if head == "clin_perspectives":
        return "explore_perspectives" if "explore_perspectives" in item.repair else "none"
    if item.gold_label in ("withdrawal", "confrontation"):
        return item.gold_label
    metacomm = {"clarifying", "reflective", "emotional", "exploratory", "explore_perspectives"}
    return "repair" if metacomm & set(item.repair) else "none"


def fit_softmax(
    x: NDArray[np.float32], y: NDArray[np.int64], n_classes: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Multinomial logistic regression, balanced class weights, L2, full-batch Adam."""
    n, d = x.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    class_w = np.where(counts > 0, n / (n_classes * np.maximum(counts, 1)), 0.0)
    sample_w = class_w[y][:, None]
    onehot = np.eye(n_classes)[y]
    w = np.zeros((d, n_classes))
    b = np.zeros(n_classes)
    mw, vw, mb, vb = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    lr, beta1, beta2, eps = 0.05, 0.9, 0.999, 1e-8
    for step in range(1, EPOCHS + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad_z = sample_w * (p - onehot) / n
        gw = x.T @ grad_z + L2 * w
        gb = grad_z.sum(axis=0)
        mw = beta1 * mw + (1 - beta1) * gw
        vw = beta2 * vw + (1 - beta2) * gw**2
        mb = beta1 * mb + (1 - beta1) * gb
        vb = beta2 * vb + (1 - beta2) * gb**2
        corr1, corr2 = 1 - beta1**step, 1 - beta2**step
        w -= lr * (mw / corr1) / (np.sqrt(vw / corr2) + eps)
        b -= lr * (mb / corr1) / (np.sqrt(vb / corr2) + eps)
    return w.astype(np.float32), b.astype(np.float32)


def featurize_all(
    items: list[LabelledItem], embedder: Embedder, progress: Callable[[int, int], None] | None = None
) -> list[TurnFeatures]:
    out = []
    for i, item in enumerate(items):
        out.append(featurize(embedder, item.text, item.previous_text()))
        if progress:
            progress(i + 1, len(items))
    return out


def train(items: list[LabelledItem], feats: list[TurnFeatures]) -> dict[str, Head]:
    heads: dict[str, Head] = {}
    for name, (speaker, classes) in HEADS.items():
        rows = [(f, item) for f, item in zip(feats, items, strict=True) if item.speaker is speaker]
        rows = [(f, item) for f, item in rows if target(name, item) in classes]
        x = np.stack([f.turn for f, _ in rows])
        y = np.asarray([classes.index(target(name, item)) for _, item in rows], dtype=np.int64)
        w, b = fit_softmax(x, y, len(classes))
        heads[name] = Head(classes, w, b)
    return heads


def macro_f1(gold: list[str], pred: list[str], labels: tuple[str, ...]) -> float:
    """Mean F1 over a fixed label set (a label never predicted nor seen counts as 0)."""
    return float(np.mean([score.f1 for score in label_scores(gold, pred, labels).values()]))


def tune(model: DetectorModel, dev: list[LabelledItem], feats: list[TurnFeatures]) -> None:
    """Pick the sentence weight and the primary heads' thresholds that maximise dev macro-F1."""
    best: tuple[float, float, float, float] = (-1.0, 0.0, 0.0, 0.0)
    for sentence_weight in (0.0, 0.6, 0.8, 1.0):
        for th_repair in (0.0, 0.35, 0.45, 0.55):
            for th_patient in (0.0, 0.35, 0.45, 0.55):
                f1s = []
                for speaker, head, th in (
                    (Speaker.clinician, "clin_repair", th_repair),
                    (Speaker.patient, "patient", th_patient),
                ):
                    gold, pred = [], []
                    for item, f in zip(dev, feats, strict=True):
                        if item.speaker is not speaker or not item.scorable():
                            continue
                        label, p = score_head(model.heads[head], f, sentence_weight).top()
                        if label == "repair" or p < th:
                            label = "none"
                        gold.append(item.gold_label)
                        pred.append(label)
                    if gold:
                        f1s.append(macro_f1(gold, pred, LABEL_SETS[speaker]))
                score = float(np.mean(f1s)) if f1s else 0.0
                if score > best[0]:
                    best = (score, sentence_weight, th_repair, th_patient)
    _, model.sentence_weight, model.thresholds["clin_repair"], model.thresholds["patient"] = best
    model.meta["dev_macro_f1"] = round(best[0], 4)


def _cached_embedder(cache: Path) -> Embedder:
    """An embedder preloaded from a local cache of sentence vectors (retraining is then quick)."""
    embedder = Embedder(cache_size=1_000_000)
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            for sentence, vector in zip(data["sentences"].tolist(), data["vectors"], strict=True):
                embedder._cache[sentence] = vector
    return embedder


def _save_cache(embedder: Embedder, cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    sentences = list(embedder._cache)
    np.savez(cache, sentences=np.asarray(sentences), vectors=np.stack([embedder._cache[s] for s in sentences]))


def _progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"  embedded {done}/{total}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", nargs="*", type=Path, default=[], help="dev split(s) for tuning (never held-out)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    if any("heldout" in p.name for p in args.dev):
        parser.error("held-out data must never tune the detector")
    files = training_files()
    items = [item for path in files for item in read_items(path).items]
    print(f"training on {len(items)} items from {len(files)} files", file=sys.stderr)
    cache = REPO_ROOT / ".data" / "cache" / "e5-sentences.npz"
    embedder = _cached_embedder(cache)
    # Every item is also seen without its context: a turn read alone (the first of a visit,
    # `alliance flag` without --context-file) must not look like "nothing happened" just
    # because the context vector is empty.
    alone = [item.model_copy(update={"context": []}) for item in items if item.context]
    heads = train(items + alone, featurize_all(items + alone, embedder, _progress))
    thresholds = {
        "clin_repair": 0.0,
        "clin_rupture": 0.5,
        "clin_perspectives": 0.5,
        "patient": 0.0,
        "patient_repair": 0.5,
    }
    model = DetectorModel(heads, thresholds, 1.0, {"train_sha256": data_hash(files), "train_items": len(items)})
    if args.dev:
        dev = [item for path in args.dev for item in read_items(path).items]
        tune(model, dev, featurize_all(dev, embedder, _progress))
        model.meta["dev_files"] = sorted(p.name for p in args.dev)
    _save_cache(embedder, cache)
    model.save(args.out)
    print(f"wrote {args.out} ({model.meta})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
