"""The eval harness and its gate: format, unscored labels, reports, and a gate that can fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.cli.eval import THRESHOLDS, check_gate
from agent.cli.main import main
from agent.config import REPO_ROOT
from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import Speaker
from agent.eval.harness import Report, flag_rate_line, load_datasets, predicted_label, score, solve
from agent.evaluator.detector import Detector, DetectorModel, Head, load_default_model
from agent.evaluator.merge import AllianceEvaluator

HELDOUT = [REPO_ROOT / "evals/datasets/gold_fr_heldout.jsonl", REPO_ROOT / "evals/datasets/gold_en_heldout.jsonl"]


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def test_minimal_format_foreign_labels_and_broken_lines_run_to_the_end(tmp_path, capsys):
    dataset = _write(
        tmp_path / "other_team.jsonl",
        [
            {
                "id": "a",
                "context": [],
                "speaker": "patient",
                "text": "You never listen to me, this is useless.",
                "gold_label": "confrontation",
                "extra": 1,
            },
            {
                "id": "b",
                "context": [{"speaker": "patient", "text": "I'm scared."}],
                "speaker": "clinician",
                "text": "That sounds really frightening.",
                "gold_label": "validation",
            },
            "{not json",
            {"id": "c", "context": [], "speaker": "clinician", "text": "Please sit down.", "gold_label": "none"},
        ],
    )
    predictions = tmp_path / "p.jsonl"
    report_dir = tmp_path / "report"
    status = main(
        [
            "eval",
            "--dataset",
            str(dataset),
            "--predictions-out",
            str(predictions),
            "--report",
            str(report_dir),
            "--quiet",
        ]
    )
    out = capsys.readouterr()
    assert status == 0
    last = out.out.strip().splitlines()[-1]
    assert last.startswith("macro_f1=") and last.endswith(" n=2"), last
    float(last.split()[0].split("=")[1])
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]  # every readable item predicted, unscored ones too
    assert rows[1]["label"] in ("clarifying", "reflective", "emotional", "exploratory", "none")
    assert all(set(r) >= {"id", "label", "events"} for r in rows)
    report = json.loads((report_dir / "report.json").read_text())
    assert report["unscored"] == {"validation": 1}
    assert any("not JSON" in e for e in report["load_errors"])
    assert "| label | precision | recall | F1 | support |" in (report_dir / "report.md").read_text()
    assert "not JSON" in out.err


def test_predicted_label_takes_the_most_confident_event_of_the_speakers_label_set():

    events = [
        AllianceEvent(
            turn=0, speaker=Speaker.clinician, kind="repair_attempt", function="emotional", evidence="x", confidence=0.6
        ),
        AllianceEvent(
            turn=0,
            speaker=Speaker.clinician,
            kind="repair_attempt",
            function="exploratory",
            evidence="x",
            confidence=0.8,
        ),
        AllianceEvent(
            turn=0,
            speaker=Speaker.clinician,
            kind="rupture_marker",
            rupture="confrontation",
            evidence="x",
            confidence=0.9,
        ),
    ]
    assert predicted_label(Speaker.clinician, events) == "exploratory"
    assert predicted_label(Speaker.patient, events) == "confrontation"
    assert predicted_label(Speaker.clinician, []) == "none"


def _broken_model() -> DetectorModel:
    """The shipped detector with its weights shuffled: same shapes, no knowledge."""
    good = load_default_model()
    rng = np.random.default_rng(0)
    heads = {
        name: Head(h.classes, rng.permutation(h.weights.ravel()).reshape(h.weights.shape), h.bias)
        for name, h in good.heads.items()
    }
    return DetectorModel(heads, dict(good.thresholds), good.sentence_weight, dict(good.meta))


async def _heldout_report(detector: Detector) -> Report:
    items, _ = load_datasets(HELDOUT)
    predictions = await solve(items, AllianceEvaluator(detector))
    return score(predictions, ["heldout"], "detector", {})


def _report(macro_f1: float, flagged: int = 0, ordinary: int = 10) -> Report:
    none = {"none": ordinary - flagged, "withdrawal": flagged}
    return Report(["x"], "detector", ordinary, {}, {}, macro_f1, {}, {}, {"none": none}, 0.0, 0.0, 0, {})


async def test_gate_fails_with_a_broken_detector_and_passes_with_the_shipped_one():
    broken = await _heldout_report(Detector(_broken_model()))
    failure = check_gate(broken, "detector", THRESHOLDS)
    assert failure is not None and "below the threshold" in failure
    shipped = await _heldout_report(Detector())
    assert check_gate(shipped, "detector", THRESHOLDS) is None
    assert shipped.macro_f1 > broken.macro_f1


def test_gate_without_threshold_is_a_failure(tmp_path):
    thresholds = _write(tmp_path / "t.toml", ["[heldout.detector]", "macro_f1 = 0.5"])
    assert check_gate(_report(0.9), "judge", thresholds) is not None
    assert check_gate(_report(0.4), "detector", thresholds) is not None
    assert check_gate(_report(0.6), "detector", thresholds) is None
    assert check_gate(_report(0.6), "detector", thresholds, gate_set="external") is not None


def test_the_external_gate_is_a_ceiling_on_flags_over_ordinary_turns(tmp_path):
    thresholds = _write(tmp_path / "t.toml", ["[external.detector]", "max_flag_rate = 0.3"])
    assert check_gate(_report(0.0, flagged=3), "detector", thresholds, gate_set="external") is None
    failure = check_gate(_report(0.0, flagged=4), "detector", thresholds, gate_set="external")
    assert failure is not None and "40" in failure and "30" in failure


def test_heldout_is_never_used_for_tuning():
    from agent.devtools.detector_train import main as train_main

    with pytest.raises(SystemExit):
        train_main(["--dev", str(HELDOUT[0]), "--out", "/dev/null"])
    assert all("heldout" not in name for name in load_default_model().meta.get("dev_files", []))


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_grows_when_it_does_not():
    from agent.eval.harness import expected_calibration_error

    honest = [(0.75, True)] * 3 + [(0.75, False)]  # 75 % sure, right 3 times in 4
    assert expected_calibration_error(honest) == 0.0
    overconfident = [(0.95, True), (0.95, False)]
    assert expected_calibration_error(overconfident) == pytest.approx(0.45)
    assert expected_calibration_error([]) == 0.0


def test_the_ordinary_gate_has_ceilings_on_findings_and_on_anything_shown(tmp_path):
    """Issue 13, item 5: every event the learner could see counts on ordinary turns, possibilities apart."""
    thresholds = _write(tmp_path / "t.toml", ["[ordinary.detector]", "max_finding_rate = 0.05", "max_shown_rate = 0.2"])
    report = _report(0.0)
    report.finding_rate, report.shown_rate = {"all": 0.04}, {"all": 0.15}
    assert check_gate(report, "detector", thresholds, gate_set="ordinary") is None
    report.finding_rate = {"all": 0.06}
    failure = check_gate(report, "detector", thresholds, gate_set="ordinary")
    assert failure is not None and "max_finding_rate" in failure
    report.finding_rate, report.shown_rate = {"all": 0.04}, {"all": 0.25}
    failure = check_gate(report, "detector", thresholds, gate_set="ordinary")
    assert failure is not None and "max_shown_rate" in failure


def test_findings_and_possibilities_are_counted_apart_on_ordinary_turns():
    from agent.eval.dataset import LabelledItem
    from agent.eval.harness import Prediction
    from tests.support.evaluators import missed_withdrawal_repair

    def item(i: int, lang: str) -> LabelledItem:
        return LabelledItem(id=str(i), context=[], speaker=Speaker.clinician, text="x", gold_label="none", lang=lang)

    predictions = [
        Prediction(
            item(0, "en"), "none", [missed_withdrawal_repair(tentative=False)], 0.0
        ),  # a finding, though the label stays none
        Prediction(item(1, "en"), "none", [missed_withdrawal_repair(tentative=True)], 0.0),  # a possibility only
        Prediction(item(2, "fr"), "none", [], 0.0),
        Prediction(item(3, "fr"), "none", [], 0.0),
    ]
    report = score(predictions, ["x"], "detector", {})
    assert report.finding_rate == {"all": 0.25, "en": 0.5, "fr": 0.0}
    assert report.shown_rate == {"all": 0.5, "en": 1.0, "fr": 0.0}
    assert "findings_on_none=0.2500" in flag_rate_line(report)


def test_the_report_carries_a_reliability_diagram_of_its_flags():
    from agent.eval.harness import reliability

    rows = reliability([(0.72, True), (0.75, False), (0.95, True)])
    assert [(r["low"], r["n"], r["accuracy"]) for r in rows] == [(0.7, 2, 0.5), (0.9, 1, 1.0)]
    report = _report(0.5)
    report.reliability = rows
    assert "| 0.7-0.8 | 2 | 0.735 | 0.500 |" in report.to_markdown()
