"""Agreement between raters on nominal labels: Cohen's kappa (two raters) and Krippendorff's alpha (any number).

The first piece of issue 15 (faculty label sessions; the monitor is one more rater). Pure functions on plain
data, no storage and no UI yet:

- `cohen_kappa(a, b)`: two raters who each labelled the same units; kappa = (p_o - p_e) / (1 - p_e), with p_e
  from each rater's own label frequencies (Cohen 1960).
- `krippendorff_alpha(units)`: one list of values per unit, one value per rater who labelled it (missing values
  simply absent); nominal metric, built from the coincidence matrix (Krippendorff 2011, "Computing
  Krippendorff's Alpha-Reliability"). Units with fewer than two values are not pairable and are left out.
- `per_label`: the same coefficient, label by label, each label against all others (a yes/no question).

Both return None where the coefficient is undefined (no pairable unit, or chance agreement of 1: every rater
used one and the same label), rather than a number that would look like a measurement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from itertools import permutations
from typing import TypeVar

Label = TypeVar("Label", bound=Hashable)


def cohen_kappa(a: Sequence[Label], b: Sequence[Label]) -> float | None:
    """Cohen's kappa for two raters over the same units (same order); None when undefined."""
    if len(a) != len(b):
        raise ValueError(f"the two raters labelled {len(a)} and {len(b)} units: pair them first")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(units: Sequence[Sequence[Label]]) -> float | None:
    """Krippendorff's alpha, nominal metric; `units` holds, per unit, the values the raters gave (any number,
    missing ones left out). None when no unit has two values or when every pairable value is the same."""
    coincidences: dict[tuple[Label, Label], float] = {}
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in permutations(range(m), 2):
            pair = (values[i], values[j])
            coincidences[pair] = coincidences.get(pair, 0.0) + 1.0 / (m - 1)
    n = sum(coincidences.values())
    if n == 0:
        return None
    totals: dict[Label, float] = {}
    for (c, _), weight in coincidences.items():
        totals[c] = totals.get(c, 0.0) + weight
    disagreement_observed = sum(w for (c, k), w in coincidences.items() if c != k) / n
    disagreement_expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k) / (n * (n - 1))
    if disagreement_expected == 0:
        return None
    return 1.0 - disagreement_observed / disagreement_expected


def per_label(
    coefficient: Callable[..., float | None], labels: Sequence[Label], *ratings: Sequence[Sequence[Label]]
) -> dict[Label, float | None]:
    """The coefficient label by label: each unit's values turned into "this label or not".

    For `cohen_kappa` pass the two raters' label lists; for `krippendorff_alpha` pass the units."""
    out: dict[Label, float | None] = {}
    for label in labels:
        if coefficient is cohen_kappa:
            first, second = ratings
            out[label] = cohen_kappa([x == label for x in first], [y == label for y in second])
        else:
            (units,) = ratings
            out[label] = coefficient([[v == label for v in values] for values in units])
    return out
