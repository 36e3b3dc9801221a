"""Malformed input on the command line (issue 12): each test is named after the item it covers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.config import REPO_ROOT
from agent.domain.session import Session


def test_9_the_chat_reads_bytes_that_are_not_utf8_without_a_traceback(tmp_path: Path) -> None:
    transcript = tmp_path / "f.json"
    env = {**os.environ, "ALLIANCE_PERSONAS_DIR": str(REPO_ROOT / "personas")}
    command = ["chat", "--persona", "bertrand.fr", "--llm", "fake", "--jsonl", "--transcript-out", str(transcript)]
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *command],
        input=b"Bonjour \xed\xa0\x80 madame\x00 !\nEt ensuite ?\n",  # a lone surrogate's bytes, a NUL
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    learner = [turn.text for turn in Session.from_json(transcript.read_text(encoding="utf-8")).turns[::2]]
    assert learner == ["Bonjour \ufffd\ufffd\ufffd madame !", "Et ensuite ?"]


def _alliance(args: list[str], tmp_path: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALLIANCE_PERSONAS_DIR": str(REPO_ROOT / "personas"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *args],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=timeout_s,  # `--concurrency 0` used to hang forever: a bound, and a clear failure
        check=False,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert needle in done.stderr, done.stderr


def test_cli_eval_concurrency_must_be_at_least_one(tmp_path: Path) -> None:
    for value in ("0", "-1", "many"):
        done = _alliance(["eval", "--evaluator", "detector", "--concurrency", value], tmp_path)
        _one_clear_line(done, 2, "argument --concurrency: must be a whole number of at least 1")


def test_cli_eval_refuses_an_unreadable_gate_before_any_work(tmp_path: Path) -> None:
    binary = tmp_path / "gate.toml"
    binary.write_bytes(b"\xff\xfe\x00binary\x00")
    _one_clear_line(_alliance(["eval", "--gate", str(binary)], tmp_path), 1, f"--gate {binary}: not a readable")
    _one_clear_line(_alliance(["eval", "--gate", str(tmp_path / "none.toml")], tmp_path), 1, "--gate")


def test_cli_eval_never_succeeds_on_no_input(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    _one_clear_line(_alliance(["eval", "--transcripts", str(missing)], tmp_path), 1, "no such directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_clear_line(_alliance(["eval", "--transcripts", str(empty)], tmp_path), 1, "nothing to score")
    binary = tmp_path / "data.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    _one_clear_line(_alliance(["eval", "--dataset", str(binary)], tmp_path), 1, "nothing to score")


def test_cli_chat_refuses_a_transcript_path_it_cannot_write(tmp_path: Path) -> None:
    chat = ["chat", "--persona", "bertrand.fr", "--llm", "fake", "--transcript-out"]
    _one_clear_line(_alliance([*chat, str(tmp_path)], tmp_path), 2, "is a directory")
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    _one_clear_line(_alliance([*chat, str(blocked / "f.json")], tmp_path), 2, "cannot be written")  # under a file


def test_cli_personas_validate_fails_on_a_folder_with_no_persona(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_clear_line(_alliance(["personas", "validate", str(empty)], tmp_path), 1, "no persona file")
