"""Agreement on kept sessions: faculty raters with one another, and each of them (and their consensus) with the
monitor, which is one more rater (issue 15). Coefficients from `agent.eval.agreement`.

A unit is one turn (for several sessions, a (session, turn) pair). The human raters' agreement is Krippendorff's
alpha over every unit at least two of them labelled, and Cohen's kappa for each pair on the units both labelled;
each is also given label by label (this label or not). The monitor labels every turn (`none` where it flagged
nothing), so it is compared with a rater on the units that rater labelled.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import TypeVar

from agent.domain.annotation import ANNOTATION_LABELS, NONE
from agent.eval.agreement import cohen_kappa, krippendorff_alpha, per_label

MONITOR = "monitor"
CONSENSUS = "consensus"

Unit = TypeVar("Unit", bound=Hashable)


@dataclass(frozen=True)
class PairAgreement:
    first: str
    second: str
    units: int
    kappa: float | None
    by_label: dict[str, float | None]
    agreed: int  # units both gave the same label


@dataclass(frozen=True)
class Disagreement:
    unit: Hashable
    labels: dict[str, str]  # rater -> label
    consensus: str | None


@dataclass
class RaterAgreement:
    raters: list[str]
    units: int  # labelled by at least one rater
    alpha: float | None
    alpha_by_label: dict[str, float | None]
    pairs: list[PairAgreement] = field(default_factory=list)  # rater with rater
    with_monitor: list[PairAgreement] = field(default_factory=list)  # each rater, then the consensus, with it
    disagreements: list[Disagreement] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the labels any of them used, in the taxonomy's order


def _pair(first: str, second: str, a: Mapping[Unit, str], b: Mapping[Unit, str], labels: list[str]) -> PairAgreement:
    common = [unit for unit in a if unit in b]
    x, y = [a[u] for u in common], [b[u] for u in common]
    return PairAgreement(
        first,
        second,
        len(common),
        cohen_kappa(x, y),
        {label: value for label, value in per_label(cohen_kappa, labels, x, y).items()},
        sum(p == q for p, q in zip(x, y, strict=True)),
    )


def rater_agreement(
    ratings: Mapping[str, Mapping[Unit, str]],
    monitor: Mapping[Unit, str] | None = None,
    consensus: Mapping[Unit, str] | None = None,
) -> RaterAgreement:
    """Agreement among the raters, and of each rater and of the consensus with the monitor (when given)."""
    raters = sorted(ratings)
    units = sorted({u for r in raters for u in ratings[r]}, key=repr)
    used = {label for r in raters for label in ratings[r].values()} | set((consensus or {}).values())
    used |= {(monitor or {}).get(u, NONE) for u in units} if monitor is not None else set()
    labels = [label for label in ANNOTATION_LABELS if label in used]
    values = [[ratings[r][u] for r in raters if u in ratings[r]] for u in units]
    report = RaterAgreement(
        raters, len(units), krippendorff_alpha(values), per_label(krippendorff_alpha, labels, values), labels=labels
    )
    report.pairs = [_pair(a, b, ratings[a], ratings[b], labels) for a, b in combinations(raters, 2)]
    if monitor is not None:
        seen = {u: monitor.get(u, NONE) for u in units} | {u: monitor.get(u, NONE) for u in consensus or {}}
        for rater, given in [*((r, ratings[r]) for r in raters), *([(CONSENSUS, consensus)] if consensus else [])]:
            report.with_monitor.append(_pair(rater, MONITOR, given, seen, labels))
    for unit, said in zip(units, values, strict=True):
        if len(set(said)) > 1:
            by_rater = {r: ratings[r][unit] for r in raters if unit in ratings[r]}
            report.disagreements.append(Disagreement(unit, by_rater, (consensus or {}).get(unit)))
    return report


def agreed_labels(
    ratings: Mapping[str, Mapping[Unit, str]], consensus: Mapping[Unit, str], consensus_only: bool = False
) -> dict[Unit, str]:
    """The labels the raters agree on: the consensus where one was recorded, else (unless `consensus_only`) the
    label every rater of a unit gave, when at least two labelled it."""
    agreed: dict[Unit, str] = {}
    if not consensus_only:
        for unit in {u for given in ratings.values() for u in given}:
            said = [ratings[r][unit] for r in ratings if unit in ratings[r]]
            if len(said) >= 2 and len(set(said)) == 1:
                agreed[unit] = said[0]
    agreed.update(consensus)
    return agreed
