"""`alliance labels export` and `alliance labels agreement`, on a database with two raters' labels; the export
runs through `alliance eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.cli.arguments import build_parser
from agent.cli.labels import run
from agent.config import REPO_ROOT, Settings
from agent.domain.annotation import TurnAnnotation
from agent.domain.taxonomy import Speaker
from agent.domain.visit import VisitState
from agent.eval.dataset import read_items
from agent.storage.access import Requester
from agent.storage.labels import LabelStore
from agent.storage.sessions import SessionStore, database_url, make_engine
from tests.support.storage import make_rich_session

THREAD = str(uuid.uuid4())


def _label(turn: int, label: str) -> TurnAnnotation:
    return TurnAnnotation(turn_id=turn, label=label, party=Speaker.patient if label == "withdrawal" else None)


@pytest.fixture
async def labelled(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    settings = make_settings(data_dir=tmp_path / "data")
    engine = make_engine(database_url(settings))
    await SessionStore(engine).save(THREAD, "alice", make_rich_session(2), VisitState(ended=True))
    labels = LabelStore(engine)
    ann, ben = Requester("ann", "faculty"), Requester("ben", "faculty")
    await labels.save(THREAD, ann, [_label(0, "exploratory"), _label(1, "withdrawal"), _label(2, "none")])
    await labels.save(THREAD, ben, [_label(0, "exploratory"), _label(1, "none"), _label(2, "none")])
    await labels.decide(THREAD, ben, _label(1, "withdrawal"))
    await engine.dispose()
    return settings


def _run(settings: Settings, *argv: str) -> int:
    return run(build_parser().parse_args(["labels", *argv]), settings)


def test_export_writes_the_agreed_labels_without_the_learner_unless_asked(
    labelled: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "labels.jsonl"
    assert _run(labelled, "export", "--out", str(out)) == 0
    assert "3 agreed labels from 1 sessions" in capsys.readouterr().out
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(i["speaker"], i["text"], i["gold_label"]) for i in items] == [
        ("clinician", "Bonjour, question 0 ?", "exploratory"),
        ("patient", "Réponse 0.", "withdrawal"),
        ("clinician", "Bonjour, question 1 ?", "none"),
    ]
    second = items[1]
    assert second["rupture"] == "withdrawal" and second["party"] == "patient" and second["context"][0]["text"]
    assert second["provenance"]["agreed"] == "consensus" and second["provenance"]["raters"] == ["ann", "ben"]
    assert "alice" not in out.read_text(encoding="utf-8")
    assert read_items(out).errors == [] and len(read_items(out).items) == 3  # the eval format reads it

    assert _run(labelled, "export", "--out", str(out), "--consensus-only", "--with-learner") == 0
    (only,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert only["gold_label"] == "withdrawal" and only["provenance"]["learner"] == "alice"


def test_agreement_prints_kappa_alpha_and_the_monitor(labelled: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(labelled, "agreement", "--session", THREAD) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("raters=ann,ben units=3 alpha=")
    kappa = next(line for line in lines if line.startswith("kappa[ann,ben]="))
    assert kappa.endswith("units=3 agreed=2") and kappa != "kappa[ann,ben]=- units=3 agreed=2"
    assert any(line.startswith("kappa[consensus,monitor]=") for line in lines)


def test_an_unknown_session_or_no_label_is_one_clear_line(
    labelled: Settings, make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(labelled, "agreement", "--session", str(uuid.uuid4())) == 2
    assert "no kept session" in capsys.readouterr().err
    empty = make_settings(data_dir=tmp_path / "empty")
    assert _run(empty, "export", "--out", str(tmp_path / "x.jsonl")) == 2
    assert "no labelled session yet" in capsys.readouterr().err


def test_the_export_runs_through_alliance_eval(labelled: Settings, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    assert _run(labelled, "export", "--out", str(out)) == 0
    env = {**os.environ, "ALLIANCE_PERSONAS_DIR": str(REPO_ROOT / "personas"), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "eval", "--dataset", str(out), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Scored: three items, the labels of the export as the eval's classes.
    assert "n=3" in done.stdout.splitlines()[-1] and "macro_f1=" in done.stdout, done.stdout
    assert "exploratory" in done.stdout and "withdrawal" in done.stdout
