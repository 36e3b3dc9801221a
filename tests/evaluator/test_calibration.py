"""Calibrated confidences, and quiet when unsure (issue 13, item 4)."""

from __future__ import annotations

import json

import pytest

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import EventKind, MetacommFunction, RuptureType, Speaker
from agent.evaluator.calibration import (
    CALIBRATION_PATH,
    DEFAULT_THRESHOLD,
    JUDGE_TENTATIVE_BELOW,
    TARGET_PRECISION,
    Calibration,
    Platt,
    choose_threshold,
    family,
    fit_platt,
)
from agent.evaluator.detector import load_default_model
from tests.support.evaluators import missed_withdrawal_repair


def _event(speaker: Speaker, confidence: float, source: str = "detector", **labels: object) -> AllianceEvent:
    kind = EventKind.rupture_marker if "rupture" in labels else EventKind.repair_attempt
    return AllianceEvent(
        turn=1, speaker=speaker, kind=kind, evidence="x", confidence=confidence, source=source, **labels
    )


def test_an_overconfident_family_is_pulled_down_and_an_underconfident_one_up() -> None:
    overconfident = [(0.9, True)] * 5 + [(0.9, False)] * 5  # says 90 %, right half the time
    a, b = fit_platt(overconfident)
    assert Platt(a, b)(0.9) == pytest.approx(0.5, abs=0.08)
    underconfident = [(0.4, True)] * 9 + [(0.4, False)]  # says 40 %, right 90 % of the time
    a, b = fit_platt(underconfident)
    assert Platt(a, b)(0.4) > 0.75


def test_the_threshold_is_the_least_confidence_whose_findings_meet_the_precision_target() -> None:
    findings = [(0.3, False), (0.4, False), (0.5, True), (0.6, True), (0.7, True), (0.8, True), (0.9, True)]
    assert choose_threshold(findings) == 0.5  # 5 of 5 right from 0.5 on; from 0.4 on, 5 of 6 (0.83)
    assert choose_threshold([(0.9, False)] * 10) == DEFAULT_THRESHOLD  # never precise enough: the default
    assert TARGET_PRECISION == 0.85


def test_families_with_too_few_dev_findings_keep_their_raw_confidence() -> None:
    calibration = Calibration.fit([("pat_rupture", 0.6, True), ("pat_rupture", 0.6, False)])
    assert calibration.maps["pat_rupture"] == Platt()
    event = _event(Speaker.patient, 0.6, rupture=RuptureType.withdrawal)
    applied = calibration.apply(event)
    assert applied.confidence == 0.6 and applied.tentative  # below the default threshold: a possibility


def test_detector_events_are_calibrated_and_the_judges_are_not(tmp_path) -> None:
    calibration = Calibration({"clin_repair": Platt(1.0, 2.0, threshold=0.8, fitted_on=40)})
    repair = _event(Speaker.clinician, 0.5, function=MetacommFunction.emotional)
    applied = calibration.apply(repair)
    assert applied.confidence == pytest.approx(0.881, abs=1e-3) and not applied.tentative
    judged = calibration.apply(repair.model_copy(update={"source": "judge", "confidence": JUDGE_TENTATIVE_BELOW - 0.1}))
    assert judged.confidence == pytest.approx(JUDGE_TENTATIVE_BELOW - 0.1) and judged.tentative
    path = tmp_path / "c.json"
    calibration.save(path)
    assert Calibration.load(path).maps == calibration.maps


def test_every_event_has_a_family_but_a_missed_repair_which_follows_its_rupture() -> None:
    assert family(_event(Speaker.clinician, 0.5, rupture=RuptureType.confrontation)) == "clin_rupture"
    assert family(_event(Speaker.patient, 0.5, rupture=RuptureType.withdrawal)) == "pat_rupture"
    missed = missed_withdrawal_repair(turn=1)
    assert family(missed) is None
    assert Calibration().apply(missed) == missed


def test_the_shipped_calibration_was_fitted_on_dev_for_the_shipped_detector() -> None:
    data = json.loads(CALIBRATION_PATH.read_text(encoding="utf-8"))
    assert data["meta"]["detector_train_sha256"] == load_default_model().meta["train_sha256"], "run make calibrate"
    assert data["meta"]["dev_files"] and all("_dev" in name for name in data["meta"]["dev_files"])
    assert any(p["fitted_on"] > 0 for p in data["families"].values())
