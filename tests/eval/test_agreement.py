"""Agreement coefficients against published worked examples (issue 15)."""

from __future__ import annotations

import pytest

from agent.eval.agreement import cohen_kappa, krippendorff_alpha, per_label

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for Communication,
# University of Pennsylvania, departmental paper 43, section C ("nominal data, any number of observers,
# missing data"): 4 observers, 12 units, values 1-5, "." missing. Published result: alpha_nominal = 0.743.
_ = None
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}


def _units(table: dict[str, list[int | None]]) -> list[list[int]]:
    columns = zip(*table.values(), strict=True)
    return [[v for v in column if v is not None] for column in columns]


def test_krippendorff_alpha_reproduces_krippendorff_2011_nominal_example() -> None:
    alpha = krippendorff_alpha(_units(KRIPPENDORFF_2011))
    assert alpha is not None and round(alpha, 3) == 0.743


def test_cohen_kappa_reproduces_the_textbook_two_by_two_example() -> None:
    # 50 proposals read by two readers: 20 both yes, 5 A yes/B no, 10 A no/B yes, 15 both no. p_o = 0.70,
    # p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.50, kappa = 0.40 (the worked example of Wikipedia's "Cohen's kappa" article).
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    kappa = cohen_kappa(a, b)
    assert kappa is not None and round(kappa, 6) == 0.4


def test_two_raters_alpha_approaches_kappa_and_perfect_agreement_is_one() -> None:
    a = ["withdrawal", "none", "none", "confrontation", "none", "withdrawal", "none", "none"]
    b = ["withdrawal", "none", "confrontation", "confrontation", "none", "none", "none", "none"]
    kappa, alpha = cohen_kappa(a, b), krippendorff_alpha([[x, y] for x, y in zip(a, b, strict=True)])
    assert kappa is not None and alpha is not None and abs(kappa - alpha) < 0.05
    assert cohen_kappa(a, a) == 1.0 and krippendorff_alpha([[x, x, x] for x in a]) == 1.0


def test_undefined_coefficients_are_none_not_a_number() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["none", "none"], ["none", "none"]) is None  # one label only: chance agreement is 1
    assert krippendorff_alpha([[1], [2], []]) is None  # nothing pairable
    with pytest.raises(ValueError, match="pair them first"):
        cohen_kappa(["a"], ["a", "b"])


def test_per_label_asks_each_label_as_a_yes_or_no_question() -> None:
    a = ["withdrawal", "none", "confrontation", "none"]
    b = ["withdrawal", "none", "none", "none"]
    kappas = per_label(cohen_kappa, ["withdrawal", "confrontation", "none"], a, b)
    assert kappas["withdrawal"] == 1.0 and kappas["confrontation"] == 0.0
    alphas = per_label(krippendorff_alpha, ["withdrawal"], [[x, y] for x, y in zip(a, b, strict=True)])
    assert alphas["withdrawal"] == 1.0
