"""Text from outside (a learner's message, a model's reply, a file) made safe to keep, show and export.

One bad character must never poison a visit: a lone surrogate cannot be encoded (the session could
no longer be saved, and every later turn failed), NUL truncates the copy a database keeps, and
escape or bell characters reach terminals and exports. So, at every edge and in the turn model:
lone surrogates become U+FFFD; NUL, the other C0 controls but tab and newline, DEL and the C1
controls are removed; CRLF and CR become LF. Everything else, every script and emoji, is kept.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\r\n?")


def clean_text(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text  # the common case, at no cost
    return _CONTROL.sub("", _NEWLINES.sub("\n", _SURROGATE.sub("\ufffd", text)))
