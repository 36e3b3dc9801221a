"""Credentials in OPENAI_BASE_URL never reach a log line (issue 12, item 8)."""

from __future__ import annotations

import http.server
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.config import REPO_ROOT
from agent.llm import redaction


def test_8_userinfo_in_a_url_is_redacted() -> None:
    assert redaction.redact("POST http://alice:s3cret@llm.example:8000/v1/x") == "POST http://***@llm.example:8000/v1/x"
    assert redaction.redact("https://token:@host/v1 and ftp://u:p@h") == "https://***@host/v1 and ftp://***@h"
    assert redaction.redact("mailto-ish user@host and http://host/v1") == "mailto-ish user@host and http://host/v1"


def test_8_every_log_record_is_redacted_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    try:
        redaction.install()
        redaction.install()  # idempotent
        with caplog.at_level(logging.INFO):
            logging.getLogger("httpx").info("HTTP Request: %s %s", "POST", "http://bob:hunter2@127.0.0.1:9/v1")
        assert "hunter2" not in caplog.text and "http://***@127.0.0.1:9/v1" in caplog.text
    finally:
        logging.setLogRecordFactory(previous)


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # an endpoint that answers, badly: the client logs the request's URL
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_8_the_verbose_cli_never_prints_the_base_url_credentials(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "ALLIANCE_PERSONAS_DIR": str(REPO_ROOT / "personas"),
        "OPENAI_BASE_URL": f"http://carol:pa55word@127.0.0.1:{server.server_address[1]}/v1",
        "OPENAI_API_KEY": "sk-not-a-real-key",
        "ALLIANCE_MAX_RETRIES": "0",
        "ALLIANCE_TIMEOUT_S": "5",
    }
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "-v", "chat", "--persona", "bertrand.fr", "--evaluator", "none"],
        input=b"Bonjour.\n",
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    server.shutdown()
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert "HTTP Request: POST http://***@127.0.0.1" in output  # the request was logged, credentials redacted
    assert "pa55word" not in output and "carol:" not in output
