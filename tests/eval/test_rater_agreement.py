"""Agreement on labelled sessions: raters with one another, each with the monitor; the agreed labels."""

from __future__ import annotations

import pytest

from agent.eval.agreement import cohen_kappa
from agent.eval.rater_agreement import CONSENSUS, MONITOR, agreed_labels, rater_agreement

ANN = {0: "exploratory", 1: "withdrawal", 2: "none", 3: "emotional"}
BEN = {0: "exploratory", 1: "confrontation", 2: "none", 3: "emotional"}
MONITOR_SAYS = {0: "exploratory", 1: "withdrawal", 3: "reflective"}  # turn 2: nothing flagged


def test_two_raters_get_their_kappa_alpha_and_their_disagreements_turn_by_turn() -> None:
    report = rater_agreement({"ann": ANN, "ben": BEN}, MONITOR_SAYS, {1: "withdrawal"})
    (pair,) = report.pairs
    assert (pair.first, pair.second, pair.units, pair.agreed) == ("ann", "ben", 4, 3)
    assert pair.kappa == pytest.approx(cohen_kappa(list(ANN.values()), list(BEN.values())))
    assert report.alpha is not None and 0 < report.alpha < 1
    assert [(d.unit, d.labels, d.consensus) for d in report.disagreements] == [
        (1, {"ann": "withdrawal", "ben": "confrontation"}, "withdrawal")
    ]
    assert report.labels == ["withdrawal", "confrontation", "reflective", "emotional", "exploratory", "none"]


def test_the_monitor_is_one_more_rater_none_where_it_flagged_nothing() -> None:
    report = rater_agreement({"ann": ANN, "ben": BEN}, MONITOR_SAYS, {1: "withdrawal"})
    by_rater = {p.first: p for p in report.with_monitor}
    assert set(by_rater) == {"ann", "ben", CONSENSUS} and all(p.second == MONITOR for p in report.with_monitor)
    assert (by_rater["ann"].units, by_rater["ann"].agreed) == (4, 3)  # turn 2: both none; turn 3 differs
    assert (by_rater["ben"].units, by_rater["ben"].agreed) == (4, 2)
    assert (by_rater[CONSENSUS].units, by_rater[CONSENSUS].agreed) == (1, 1)
    # Label by label: on "withdrawal" ann and the monitor agree on every turn.
    assert by_rater["ann"].by_label["withdrawal"] == pytest.approx(1.0)


def test_without_two_labels_of_a_unit_nothing_is_measured() -> None:
    report = rater_agreement({"ann": {0: "none", 1: "none"}})
    assert report.alpha is None and report.pairs == [] and report.with_monitor == []


def test_agreed_labels_are_the_consensus_then_unanimous_turns_of_two_raters_or_more() -> None:
    ratings = {"ann": ANN, "ben": BEN, "cy": {4: "clarifying"}}
    assert agreed_labels(ratings, {1: "withdrawal"}) == {0: "exploratory", 1: "withdrawal", 2: "none", 3: "emotional"}
    assert agreed_labels(ratings, {1: "withdrawal"}, consensus_only=True) == {1: "withdrawal"}
