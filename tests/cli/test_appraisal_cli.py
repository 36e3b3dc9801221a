"""`alliance appraisal`: the reaction rules checked without a model, with a gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.main import main
from agent.eval.appraisal_check import AppraisalReport, ProbeCase


def test_the_report_is_written_and_the_gate_fails_only_below_its_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    easy, strict = tmp_path / "easy.toml", tmp_path / "strict.toml"
    easy.write_text("[appraisal]\nmin_probe_right = 0.5\nmax_ordinary_rupture = 0.5\n", encoding="utf-8")
    strict.write_text("[appraisal]\nmin_probe_right = 1.01\nmax_ordinary_rupture = 0.0\n", encoding="utf-8")
    status = main(["appraisal", "--persona", "bertrand.fr", "--report", str(tmp_path), "--gate", str(easy)])
    out = capsys.readouterr().out
    assert status == 0 and "| bertrand.fr | flat_refusal_para |" in out
    assert (tmp_path / "appraisal.md").read_text(encoding="utf-8") == out.rstrip("\n") + "\n"
    status = main(["appraisal", "--persona", "bertrand.fr", "--gate", str(strict)])
    err = capsys.readouterr().err
    assert status == 1 and "probe moves right" in err


def test_rates_count_right_wrong_and_left_to_the_model_apart() -> None:
    report = AppraisalReport(
        cases=[
            ProbeCase("p", "a", False, ["withdrawal"], "withdrawal"),
            ProbeCase("p", "a_para", True, ["withdrawal"], "repair"),
            ProbeCase("p", "b", False, ["none", "repair"], None),
            ProbeCase("p", "c", False, [], "none"),  # no expected move: not counted
        ],
        ordinary=[("p", "a", "rupture"), ("p", "a", None), ("p", "b", "attune"), ("p", "b", None)],
    )
    assert report.probe_rates() == {"right": 0.333, "wrong": 0.333, "left_to_model": 0.333, "probes": 3}
    assert report.probe_rates(paraphrase=True)["wrong"] == 1.0
    assert report.ordinary_rate() == 0.25 and report.ordinary_rate("rupture", "b") == 0.0
    assert report.ordinary_rate("attune", "b") == 0.5
    assert report.gate({"min_probe_right": 0.3, "max_ordinary_rupture": 0.25}) == []
    assert len(report.gate({"min_probe_right": 0.4, "max_ordinary_rupture": 0.2})) == 2
