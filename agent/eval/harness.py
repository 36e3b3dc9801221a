"""The eval harness: dataset -> solver -> scorer, in the manner of inspect_ai, in our own code.

- dataset: JSONL items (`agent.eval.dataset`), any file in the minimal format;
- solver: the evaluator (detector, judge or both) run on the item's observer transcript;
- scorer: the events reduced to one label in the item's label set, compared with gold.

Unknown gold labels are counted as unscored and reported; the run always goes to the end
and writes a prediction for every item.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import EventKind, Speaker
from agent.eval.dataset import LabelledItem, read_items
from agent.evaluator.merge import AllianceEvaluator

ALL_LABELS: tuple[str, ...] = (
    "clarifying",
    "reflective",
    "emotional",
    "exploratory",
    "withdrawal",
    "confrontation",
    "none",
)


def predicted_label(speaker: Speaker, events: list[AllianceEvent]) -> str:
    """Reduce a turn's events to one label of the gold format for that speaker."""
    if speaker is Speaker.clinician:
        repairs = [e for e in events if e.kind is EventKind.repair_attempt and e.function is not None]
        return max(repairs, key=lambda e: e.confidence).function.value if repairs else "none"  # type: ignore[union-attr]
    ruptures = [e for e in events if e.kind is EventKind.rupture_marker and e.rupture is not None]
    return max(ruptures, key=lambda e: e.confidence).rupture.value if ruptures else "none"  # type: ignore[union-attr]


@dataclass
class Prediction:
    item: LabelledItem
    label: str
    events: list[AllianceEvent]
    latency_s: float
    error: str | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.item.id,
            "label": self.label,
            "events": [e.model_dump(mode="json") for e in self.events],
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class LabelScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    datasets: list[str]
    evaluator: str
    n: int
    unscored: dict[str, int]
    per_label: dict[str, LabelScore]
    macro_f1: float
    per_speaker_macro_f1: dict[str, float]
    per_lang_macro_f1: dict[str, float]
    confusion: dict[str, dict[str, int]]
    latency_p50_ms: float
    latency_p95_ms: float
    errors: int
    versions: dict[str, str]
    usage: dict[str, Any] = field(default_factory=dict)
    load_errors: list[str] = field(default_factory=list)
    # Calibration of the flags shown: over 10 confidence bins, how far "70 % sure" is from "right 70 % of the
    # time" (expected calibration error; 0 is perfect). Only turns that got a flag count.
    flag_ece: float = 0.0
    flags: int = 0
    flag_rate_per_lang: dict[str, float] = field(default_factory=dict)
    # On the items whose gold is `none`, the share with any event the learner can see at the coach level (any kind,
    # either party, missed repairs too): `shown`, possibilities included; `findings`, those above the calibrated
    # thresholds only (`agent.evaluator.calibration`). Overall and per language.
    shown_rate: dict[str, float] = field(default_factory=dict)
    finding_rate: dict[str, float] = field(default_factory=dict)
    # Macro-F1 when the possibilities are left out (what the learner sees as findings).
    findings_macro_f1: float = 0.0
    reliability: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.__dict__.copy()
        data["per_label"] = {k: v.__dict__ for k, v in self.per_label.items()}
        return data

    def to_markdown(self) -> str:
        lines = [
            "# Alliance evaluator report",
            "",
            f"- datasets: {', '.join(self.datasets)}",
            f"- evaluator: `{self.evaluator}`",
            f"- scored items: {self.n}; unscored: {sum(self.unscored.values())} {dict(self.unscored) or ''}",
            f"- **macro-F1: {self.macro_f1:.3f}**",
            f"- macro-F1 by speaker: {', '.join(f'{k} {v:.3f}' for k, v in self.per_speaker_macro_f1.items())}",
            f"- macro-F1 by language: {', '.join(f'{k} {v:.3f}' for k, v in self.per_lang_macro_f1.items())}",
            f"- macro-F1, findings only (possibilities left out): {self.findings_macro_f1:.3f}",
            f"- calibration of the flags (ECE, 10 bins): {self.flag_ece:.3f} over {self.flags} flags",
            f"- gold-`none` items with a finding: {self.finding_rate or '-'}; with anything shown: {self.shown_rate or '-'}",
            f"- latency per item: p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms; errors: {self.errors}",
            f"- versions: {', '.join(f'{k}={v}' for k, v in self.versions.items())}",
        ]
        if self.usage:
            lines.append(f"- LLM usage: {self.usage}")
        lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for label, score in self.per_label.items():
            lines.append(f"| {label} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} | {score.support} |")
        if self.reliability:
            lines += [
                "",
                "Reliability of the flags (a calibrated monitor has accuracy close to confidence in every bin)",
                "",
                "| confidence bin | flags | mean confidence | right |",
                "|---|---|---|---|",
            ]
            for row in self.reliability:
                span = f"{row['low']:.1f}-{row['high']:.1f}"
                lines.append(f"| {span} | {row['n']} | {row['confidence']:.3f} | {row['accuracy']:.3f} |")
        labels = list(self.confusion)
        lines += [
            "",
            "Confusion (rows: gold, columns: predicted)",
            "",
            "| gold \\ pred | " + " | ".join(labels) + " |",
            "|---" * (len(labels) + 1) + "|",
        ]
        for gold in labels:
            lines.append(f"| {gold} | " + " | ".join(str(self.confusion[gold].get(p, 0)) for p in labels) + " |")
        return "\n".join(lines) + "\n"


def label_scores(gold: list[str], pred: list[str], labels: list[str] | tuple[str, ...]) -> dict[str, LabelScore]:
    scores = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = LabelScore(round(precision, 4), round(recall, 4), round(f1, 4), sum(g == label for g in gold))
    return scores


def _macro(gold: list[str], pred: list[str]) -> float:
    labels = [label for label in ALL_LABELS if label in set(gold) | set(pred)]
    scores = label_scores(gold, pred, labels)
    return round(statistics.fmean(s.f1 for s in scores.values()), 4) if scores else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _flag_confidence(prediction: Prediction) -> float | None:
    """The confidence of the flag that set the predicted label, or None when nothing was flagged."""
    if prediction.label == "none":
        return None
    values = [
        e.confidence
        for e in prediction.events
        if (e.function or e.rupture) and (e.function or e.rupture) == prediction.label
    ]
    return max(values) if values else None


def reliability(pairs: list[tuple[float, bool]], bins: int = 10) -> list[dict[str, float]]:
    """The reliability diagram as rows: per confidence bin with members, its range, size, mean confidence and
    the share of its flags that were right."""
    rows = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [(c, ok) for c, ok in pairs if low <= c < high or (index == bins - 1 and c == 1.0)]
        if members:
            rows.append(
                {
                    "low": low,
                    "high": high,
                    "n": len(members),
                    "confidence": round(statistics.fmean(c for c, _ in members), 4),
                    "accuracy": round(sum(ok for _, ok in members) / len(members), 4),
                }
            )
    return rows


def expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    """ECE over (confidence, correct) pairs: the bins' |accuracy - mean confidence|, weighted by their size."""
    if not pairs:
        return 0.0
    total = sum(row["n"] * abs(row["accuracy"] - row["confidence"]) for row in reliability(pairs, bins))
    return round(total / len(pairs), 4)


def _rates_on_none(items: list[Prediction], hit: Callable[[Prediction], bool]) -> dict[str, float]:
    """The share of gold-`none` items for which `hit` holds (every one a false flag), overall and per language;
    empty when there is no such item."""
    ordinary = [p for p in items if p.item.gold_label == "none"]

    def rate(group: list[Prediction]) -> float:
        return round(sum(hit(p) for p in group) / len(group), 4)

    if not ordinary:
        return {}
    rates = {"all": rate(ordinary)}
    for lang in sorted({p.item.lang for p in ordinary if p.item.lang}):
        rates[lang] = rate([p for p in ordinary if p.item.lang == lang])
    return rates


def _labelled(p: Prediction) -> bool:
    return p.label != "none"


def _shown(p: Prediction) -> bool:
    return bool(p.events)


def _found(p: Prediction) -> bool:
    return any(not e.tentative for e in p.events)


def score(predictions: list[Prediction], datasets: list[str], evaluator: str, versions: dict[str, str]) -> Report:
    scored = [p for p in predictions if p.item.scorable()]
    unscored = Counter(p.item.gold_label for p in predictions if not p.item.scorable())
    gold = [p.item.gold_label for p in scored]
    pred = [p.label for p in scored]
    labels = [label for label in ALL_LABELS if label in set(gold) | set(pred)]
    confusion = {g: dict(Counter(p for gg, p in zip(gold, pred, strict=True) if gg == g)) for g in labels}
    by_speaker = {
        s.value: _macro(
            [p.item.gold_label for p in scored if p.item.speaker is s], [p.label for p in scored if p.item.speaker is s]
        )
        for s in Speaker
        if any(p.item.speaker is s for p in scored)
    }
    langs: list[str] = sorted({p.item.lang for p in scored if p.item.lang})
    by_lang = {
        lang: _macro(
            [p.item.gold_label for p in scored if p.item.lang == lang], [p.label for p in scored if p.item.lang == lang]
        )
        for lang in langs
    }
    latencies = [p.latency_s * 1000 for p in predictions]
    flagged = [(c, p.label == p.item.gold_label) for p in scored if (c := _flag_confidence(p)) is not None]
    label_rates = _rates_on_none(scored, _labelled)
    return Report(
        datasets=datasets,
        evaluator=evaluator,
        n=len(scored),
        unscored=dict(unscored),
        per_label=label_scores(gold, pred, labels),
        macro_f1=_macro(gold, pred),
        per_speaker_macro_f1=by_speaker,
        per_lang_macro_f1=by_lang,
        confusion=confusion,
        latency_p50_ms=round(percentile(latencies, 0.5), 2),
        latency_p95_ms=round(percentile(latencies, 0.95), 2),
        errors=sum(p.error is not None for p in predictions),
        versions=versions,
        flag_ece=expected_calibration_error(flagged),
        reliability=reliability(flagged),
        flags=len(flagged),
        flag_rate_per_lang={lang: label_rates.get(lang, 0.0) for lang in langs},
        shown_rate=_rates_on_none(scored, _shown),
        finding_rate=_rates_on_none(scored, _found),
        findings_macro_f1=_macro(
            gold, [predicted_label(p.item.speaker, [e for e in p.events if not e.tentative]) for p in scored]
        ),
    )


def _progress(done: int, total: int, out: TextIO) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    if done not in (1, total) and int(width * (done - 1) / total) == filled:
        return  # redraw only when the bar grows
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        out.write("\n")
    out.flush()


async def solve(
    items: list[LabelledItem], evaluator: AllianceEvaluator, concurrency: int = 1, progress: TextIO | None = None
) -> list[Prediction]:
    """Run the evaluator on every item; an item that fails is predicted `none` with its error."""
    semaphore = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: LabelledItem) -> Prediction:
        nonlocal done
        async with semaphore:
            started = time.perf_counter()
            try:
                events = await evaluator.evaluate(item.transcript(), item.lang or "en")
                prediction = Prediction(
                    item, predicted_label(item.speaker, events), events, time.perf_counter() - started
                )
            except Exception as exc:  # one broken item never stops the run
                prediction = Prediction(item, "none", [], time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
            done += 1
            if progress is not None:
                _progress(done, len(items), progress)
            return prediction

    return list(await asyncio.gather(*(one(item) for item in items)))


def load_datasets(paths: list[Path]) -> tuple[list[LabelledItem], list[str]]:
    items: list[LabelledItem] = []
    errors: list[str] = []
    for path in paths:
        loaded = read_items(path)
        items.extend(loaded.items)
        errors.extend(loaded.errors)
    return items, errors


def write_predictions(predictions: list[Prediction], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for prediction in predictions:
            handle.write(json.dumps(prediction.record(), ensure_ascii=False) + "\n")


def write_report(report: Report, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    (directory / "report.md").write_text(report.to_markdown(), encoding="utf-8")


def flag_rate(report: Report) -> float:
    """The share of items whose gold label is `none` that got a flag anyway (every one a false flag)."""
    ordinary = report.confusion.get("none", {})
    total = sum(ordinary.values())
    return (total - ordinary.get("none", 0)) / total if total else 0.0


def _rates(rates: dict[str, float]) -> str:
    per_lang = " ".join(f"{lang}={rate:.4f}" for lang, rate in rates.items() if lang != "all")
    return f"{rates.get('all', 0.0):.4f} ({per_lang})"


def flag_rate_line(report: Report) -> str:
    per_lang = " ".join(f"{lang}={rate:.4f}" for lang, rate in report.flag_rate_per_lang.items())
    return (
        f"flag_rate_on_none={flag_rate(report):.4f} ({per_lang}) flag_ece={report.flag_ece:.4f} flags={report.flags}"
        f" findings_on_none={_rates(report.finding_rate)} shown_on_none={_rates(report.shown_rate)}"
    )


def final_line(report: Report) -> str:
    return f"macro_f1={report.macro_f1:.4f} n={report.n}"
