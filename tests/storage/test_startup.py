"""A sessions database that cannot be opened stops the app at start-up, with a message that says what to do
(issue 12, item 13). Before: the error was logged and every request got a 500."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from agent.config import REPO_ROOT

CHAINLIT = Path(sys.executable).with_name("chainlit")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_13_a_corrupt_database_file_refuses_to_start_and_names_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    broken = data / "alliance.db"
    broken.write_bytes(b"this is not a SQLite database, only bytes\n" * 100)
    cwd = tmp_path / "cwd"
    shutil.copytree(REPO_ROOT / ".chainlit", cwd / ".chainlit")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ALLIANCE_", "CHAINLIT_"))}
    env |= {"ALLIANCE_LLM": "fake", "ALLIANCE_DATA_DIR": str(data), "DATABASE_URL": ""}
    done = subprocess.run(
        [str(CHAINLIT), "run", str(REPO_ROOT / "agent" / "web" / "app.py"), "--headless", "--port", str(_free_port())],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=180,  # it must stop by itself; a server that starts anyway never returns and fails here
        check=False,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode != 0, output
    assert str(broken) in output and "move it aside" in output, output
    assert broken.read_bytes().startswith(b"this is not a SQLite")  # the damaged file is left for recovery
