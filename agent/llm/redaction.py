"""No credential in a log line: `scheme://user:password@host` is written `scheme://***@host`.

OPENAI_BASE_URL may carry credentials (`http://user:pass@host/v1`); the HTTP clients log request
URLs at INFO, which `-v` and the app's logs show. The API key itself is never logged (it travels in a
header); this closes the other door. Installed once per process by the CLI and the web app: every
record of every logger is redacted when it is made, whatever handler writes it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@:]*:[^/\s@]*@")


def redact(text: str) -> str:
    return _USERINFO.sub(r"\g<scheme>***@", text)


def install() -> None:
    """Redact every log record from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_alliance_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    factory._alliance_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
