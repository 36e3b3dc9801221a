"""Calibrated confidences, and quiet when unsure (issue 13, item 4).

The detector's raw confidences are softmax outputs of heads trained with balanced class weights: a
"0.52" was not right 52 % of the time. Each family of finding (a clinician's repair function, a
clinician's exploring of goals and tasks, a clinician's rupture, a patient's rupture, a patient's
repair) gets its own Platt map, fitted on the dev split (`agent.devtools.calibrate`): the
probability that a finding of that family, read with this raw confidence, is right.

A finding is shown as such when its calibrated confidence reaches the family's threshold, the least
one at which the dev split's findings were right at least `TARGET_PRECISION` of the time. Below it the
event is kept and marked `tentative`: the monitor shows it muted, as "possible", and the eval counts
findings and possibilities apart. A family with too few dev findings to fit keeps its raw confidence
and `DEFAULT_THRESHOLD`. The judge's events are not calibrated (no capable model was measured): they
are tentative below `JUDGE_TENTATIVE_BELOW`. A missed repair inherits the rupture it points back to.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import EventKind, Speaker
from agent.evaluator.detector import DATA_DIR

CALIBRATION_PATH = DATA_DIR / "calibration.json"
TARGET_PRECISION = 0.85
DEFAULT_THRESHOLD = 0.85
JUDGE_TENTATIVE_BELOW = 0.6
MIN_FIT = 12  # dev findings a family needs, with right and wrong ones among them, to be fitted
MIN_SHOWN = 5  # dev findings a threshold must keep for its precision to mean anything

FAMILIES = ("clin_repair", "clin_perspectives", "clin_rupture", "pat_rupture", "pat_repair")


def family(event: AllianceEvent) -> str | None:
    """The calibration family of an event (None for a missed repair, which follows its rupture)."""
    if event.kind is EventKind.missed_repair:
        return None
    if event.speaker is Speaker.clinician:
        if event.kind is EventKind.rupture_marker:
            return "clin_rupture"
        return "clin_repair" if event.function is not None else "clin_perspectives"
    return "pat_rupture" if event.kind is EventKind.rupture_marker else "pat_repair"


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Platt:
    """calibrated = sigmoid(a * logit(raw) + b); the identity when a = 1, b = 0."""

    a: float = 1.0
    b: float = 0.0
    threshold: float = DEFAULT_THRESHOLD
    fitted_on: int = 0  # dev findings the map was fitted on (0: not fitted)

    def __call__(self, raw: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self.a * _logit(raw) + self.b)))


def fit_platt(pairs: list[tuple[float, bool]], steps: int = 3000, lr: float = 0.05) -> tuple[float, float]:
    """Logistic regression of rightness on the raw confidence's logit (gradient descent, light L2 towards
    the identity so a small set cannot make it absurd)."""
    a, b = 1.0, 0.0
    xs = [_logit(c) for c, _ in pairs]
    ys = [1.0 if ok else 0.0 for _, ok in pairs]
    n = len(pairs)
    for _ in range(steps):
        ga = gb = 0.0
        for x, y in zip(xs, ys, strict=True):
            p = 1.0 / (1.0 + math.exp(-(a * x + b)))
            ga += (p - y) * x
            gb += p - y
        a -= lr * (ga / n + 0.01 * (a - 1.0))
        b -= lr * (gb / n + 0.01 * b)
    return a, b


def choose_threshold(calibrated: list[tuple[float, bool]]) -> float:
    """The least calibrated confidence whose findings at or above it were right TARGET_PRECISION of the time,
    keeping at least MIN_SHOWN of them; DEFAULT_THRESHOLD when none qualifies."""
    for value, _ in sorted(calibrated):
        kept = [ok for c, ok in calibrated if c >= value]
        if len(kept) >= MIN_SHOWN and sum(kept) / len(kept) >= TARGET_PRECISION:
            return round(value, 4)
    return DEFAULT_THRESHOLD


@dataclass
class Calibration:
    maps: dict[str, Platt] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)

    @classmethod
    def fit(cls, findings: Iterable[tuple[str, float, bool]], meta: dict[str, object] | None = None) -> Calibration:
        """From (family, raw confidence, right) of every dev finding."""
        by_family: dict[str, list[tuple[float, bool]]] = {name: [] for name in FAMILIES}
        for name, raw, ok in findings:
            by_family[name].append((raw, ok))
        maps = {}
        for name, pairs in by_family.items():
            if len(pairs) >= MIN_FIT and 0 < sum(ok for _, ok in pairs) < len(pairs):
                a, b = fit_platt(pairs)
                platt = Platt(a, b, fitted_on=len(pairs))
                maps[name] = replace(platt, threshold=choose_threshold([(platt(c), ok) for c, ok in pairs]))
            else:
                maps[name] = Platt(fitted_on=0)
        return cls(maps, meta or {})

    def save(self, path: Path = CALIBRATION_PATH) -> None:
        data = {"meta": self.meta, "families": {k: v.__dict__ for k, v in sorted(self.maps.items())}}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = CALIBRATION_PATH) -> Calibration:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({k: Platt(**v) for k, v in data["families"].items()}, data.get("meta", {}))

    def apply(self, event: AllianceEvent) -> AllianceEvent:
        """The event with its calibrated confidence, marked tentative below its family's threshold."""
        name = family(event)
        if name is None:
            return event
        if event.source != "detector":  # the judge's reading, alone or merged: not calibrated
            return event.model_copy(update={"tentative": event.confidence < JUDGE_TENTATIVE_BELOW})
        platt = self.maps.get(name, Platt())
        confidence = round(platt(event.confidence), 3)
        return event.model_copy(update={"confidence": confidence, "tentative": confidence < platt.threshold})


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    return Calibration.load()
