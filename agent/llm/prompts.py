"""Prompt templates live in `prompts/` as files, rendered strictly in a sandbox.

A missing variable is an error, never an empty string; persona text is data and cannot run
code in the template (sandboxed Jinja). Each rendered prompt can be traced to its file by a
short content hash, recorded in eval reports.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"

_env = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True
)


@lru_cache(maxsize=64)
def template_text(name: str) -> str:
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


@lru_cache(maxsize=64)
def _compiled(name: str) -> Template:
    # Compiling is most of a render's cost: once per prompt file and process (the files do not change at run time).
    return _env.from_string(template_text(name))


def render(name: str, **variables: Any) -> str:
    """Render `prompts/<name>`; raises jinja2.UndefinedError when a variable is missing."""
    return _compiled(name).render(**variables).strip()


def render_string(text: str, **variables: Any) -> str:
    """Render author-supplied template text (persona fields) in the same sandbox."""
    return _env.from_string(text).render(**variables)


def prompt_hash(name: str) -> str:
    return hashlib.sha256(template_text(name).encode("utf-8")).hexdigest()[:12]
