"""The `alliance` command: `chat` over stdin/stdout with the fake model, and `flag`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.domain.session import Session
from agent.llm.backends import ChatBackend

CLARIFYING_FR = (
    "J'ai l'impression que ce que je vous ai dit tout à l'heure a été mal reçu ; comment l'avez-vous compris ?"
)
CONFRONTATION_EN = "You're not listening to me at all, this is a waste of my time."
INFORMATIONAL_EN = "Your next appointment is on March 12 at 2 pm."

LEARNER_LINES = [
    "Bonjour madame Bertrand, comment allez-vous depuis votre chute ?",
    CLARIFYING_FR,
    "Votre prochain rendez-vous est le 12 mars à 14 h.",
]


def run_chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, list[dict[str, Any]], str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(["chat", *args])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return status, lines, captured.err


def run_flag(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    status = main(["flag", *args])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------- chat


def test_chat_jsonl_session_with_the_fake_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    transcript_file = tmp_path / "out" / "session.json"
    stdin = "\n".join([LEARNER_LINES[0], "", LEARNER_LINES[1], "   ", LEARNER_LINES[2]]) + "\n"
    status, lines, _ = run_chat(
        monkeypatch,
        capsys,
        stdin,
        "--persona",
        "bertrand.fr",
        "--llm",
        "fake",
        "--jsonl",
        "--transcript-out",
        str(transcript_file),
    )
    assert status == 0
    types = [line["type"] for line in lines]
    assert types[0] == "session_start" and types[-1] == "session_end"
    start = lines[0]
    assert start["persona"] == "bertrand.fr" and start["language"] == "fr" and start["llm"] == "fake"
    assert start["offline_demo"] is False

    replies = [line for line in lines if line["type"] == "patient_reply"]
    assert [r["turn"] for r in replies] == [1, 3, 5]  # one per non-blank learner line, after its turn
    assert all(r["text"].strip() and "{" not in r["text"] for r in replies)

    events = [line for line in lines if line["type"] == "alliance_event"]
    assert events, "the detector runs by default"
    assert all(set(e) >= {"turn", "speaker", "kind", "evidence", "confidence"} for e in events)
    clarifying = [e for e in events if e["turn"] == 2 and e.get("function") == "clarifying"]
    assert clarifying and clarifying[0]["speaker"] == "clinician"
    assert clarifying[0]["evidence"] in CLARIFYING_FR
    assert "error" not in types and "monitor_unavailable" not in types

    end = lines[-1]
    assert end == {"type": "session_end", "turns": 6, "failures": 0}

    session = Session.from_json(transcript_file.read_text(encoding="utf-8"))
    assert session.id == start["session"]
    assert [t.text for t in session.turns if t.speaker.value == "clinician"] == LEARNER_LINES
    patient_turns = [t for t in session.turns if t.speaker.value == "patient"]
    assert len(patient_turns) == 3
    assert all(t.hidden is not None and t.hidden.inner_monologue for t in patient_turns)  # hidden states kept
    assert {e.turn for e in session.events} >= {2}
    # The hidden monologue is in the transcript file, never on stdout.
    monologue = patient_turns[0].hidden.inner_monologue  # type: ignore[union-attr]
    assert monologue not in "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)


def test_chat_in_english_without_evaluator(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run_chat(
        monkeypatch,
        capsys,
        "Hello, how are you?\n",
        "--persona",
        "bertrand.en",
        "--llm",
        "fake",
        "--jsonl",
        "--evaluator",
        "none",
    )
    assert status == 0
    assert [line["type"] for line in lines] == ["session_start", "patient_reply", "patient_state", "session_end"]
    assert lines[0]["language"] == "en"
    assert lines[1]["text"].startswith("Hello doctor")  # the fake model answers in the persona's language
    state = lines[2]  # the move, the alliance and the emotions, for scripts: never the monologue
    assert state["move"] in {"none", "withdrawal", "confrontation", "repair"} and set(state["alliance"]) == {
        "goals",
        "tasks",
        "bond",
    }
    assert "inner_monologue" not in json.dumps(lines)


def test_chat_plain_text_mode_prints_the_brief_and_the_replies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Bonjour.\n"))
    status = main(["chat", "--persona", "bertrand.fr", "--llm", "fake", "--evaluator", "none"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("Mme Bertrand — ")
    assert "Mme Bertrand: Bonjour docteur." in out


def test_chat_by_persona_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from agent.config import REPO_ROOT

    custom = tmp_path / "custom.en.yaml"
    custom.write_text((REPO_ROOT / "personas" / "bertrand.en.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    status, lines, _ = run_chat(
        monkeypatch, capsys, "Hi.\n", "--persona", str(custom), "--llm", "fake", "--jsonl", "--evaluator", "none"
    )
    assert status == 0 and lines[0]["persona"] == "custom.en"


def test_unknown_persona_exits_2_naming_the_known_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, err = run_chat(monkeypatch, capsys, "Bonjour.\n", "--persona", "dupont.fr", "--llm", "fake")
    assert status == 2
    assert lines == []
    assert "dupont.fr" in err
    assert "bertrand.en" in err and "bertrand.fr" in err
    assert "Traceback" not in err


def test_broken_persona_file_exits_2_with_its_location(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("language: fr\ncolour: blue\n", encoding="utf-8")
    status, _, err = run_chat(monkeypatch, capsys, "", "--persona", str(broken), "--llm", "fake")
    assert status == 2
    assert f"{broken}:2: colour: unknown field" in err


def test_unknown_llm_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_chat(monkeypatch, capsys, "", "--persona", "bertrand.fr", "--llm", "gemini")
    assert status == 2
    assert "unknown LLM" in err


def test_patient_failure_is_an_error_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scripted_backend: Callable[..., ChatBackend]
) -> None:
    from agent.cli import chat

    def broken(_: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(chat, "build_backend", lambda settings, spec=None: scripted_backend(broken))
    status, lines, _ = run_chat(
        monkeypatch, capsys, "Bonjour.\n", "--persona", "bertrand.fr", "--llm", "fake", "--jsonl", "--evaluator", "none"
    )
    assert status == 1
    errors = [line for line in lines if line["type"] == "error"]
    assert errors == [{"type": "error", "turn": 0, "message": "Le modèle a échoué sur ce tour."}]
    assert lines[-1] == {"type": "session_end", "turns": 1, "failures": 1}


# --------------------------------------------------------------------------- flag


def test_flag_clarifying_repair_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    status, events = run_flag(capsys, "--text", CLARIFYING_FR, "--speaker", "clinician", "--lang", "fr")
    assert status == 0
    assert [(e["kind"], e["function"]) for e in events if e["kind"] == "repair_attempt"] == [
        ("repair_attempt", "clarifying")
    ]
    assert all(e["turn"] == 0 and e["speaker"] == "clinician" and e["evidence"] in CLARIFYING_FR for e in events)


def test_flag_patient_confrontation_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    status, events = run_flag(capsys, "--text", CONFRONTATION_EN, "--speaker", "patient")
    assert status == 0
    assert [(e["kind"], e["rupture"]) for e in events] == [("rupture_marker", "confrontation")]
    assert events[0]["evidence"] in CONFRONTATION_EN


def test_flag_informational_turn_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    status, events = run_flag(capsys, "--text", INFORMATIONAL_EN)
    assert status == 0
    assert events == []


def test_flag_with_context_reports_a_missed_repair(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text(json.dumps([{"speaker": "patient", "text": CONFRONTATION_EN}]), encoding="utf-8")
    status, events = run_flag(capsys, "--text", INFORMATIONAL_EN, "--context-file", str(context))
    assert status == 0
    missed = [e for e in events if e["kind"] == "missed_repair"]
    assert len(missed) == 1 and missed[0]["turn"] == 1 and missed[0]["rupture"] == "confrontation"


def test_flag_with_a_bad_context_file_fails_clearly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    context = tmp_path / "context.json"
    context.write_text('{"speaker": "patient"}', encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["flag", "--text", INFORMATIONAL_EN, "--context-file", str(context)])
    assert "--context-file" in str(info.value.code)


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
