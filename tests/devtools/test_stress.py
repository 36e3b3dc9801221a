"""`make e2e-stress` (issue 12, item 16): the e2e tests run again and again beside CPU hogs; a failing run
fails the whole, every run is bounded, and no hog outlives the tool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.devtools import stress

PASSING = "import pytest\n\npytestmark = pytest.mark.e2e\n\n\ndef test_ok():\n    assert True\n"
FAILING = "import pytest\n\npytestmark = pytest.mark.e2e\n\n\ndef test_broken():\n    assert False\n"


def _suite(tmp_path: Path, body: str) -> str:
    path = tmp_path / "test_suite_e2e.py"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_16_every_run_passing_beside_a_hog_is_a_pass(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert stress.main(["--runs", "2", "--hogs", "1", "--out", str(out), _suite(tmp_path, PASSING)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] == 2 and summary["hogs"] == 1 and len(summary["details"]) == 2


def test_16_one_failing_run_fails_the_stress(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert stress.main(["--runs", "1", "--hogs", "0", "--out", str(out), _suite(tmp_path, FAILING)]) == 1
    assert "1 failed" in (out / "run-01.log").read_text(encoding="utf-8")


def test_16_a_run_past_its_bound_is_stopped_and_failed(tmp_path: Path) -> None:
    hang = "import pytest, time\n\npytestmark = pytest.mark.e2e\n\n\ndef test_hang():\n    time.sleep(600)\n"
    out = tmp_path / "report"
    code = stress.main(["--runs", "1", "--hogs", "0", "--run-timeout", "5", "--out", str(out), _suite(tmp_path, hang)])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["details"][0]["summary"].startswith("timed out")


def test_16_no_hog_outlives_the_block() -> None:
    with stress.hogs(2) as procs:
        assert all(proc.poll() is None for proc in procs)
    assert all(proc.poll() is not None for proc in procs)


def test_16_bad_arguments_are_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        stress.main(["--runs", "0"])
    assert exit_info.value.code == 2
