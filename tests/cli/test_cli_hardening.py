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
