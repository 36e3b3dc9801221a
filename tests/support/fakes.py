"""Shared fixtures: an isolated environment, settings, and a scripted (fake) chat backend.

Every test runs in its own empty working directory with the OpenAI, DATABASE_URL and ALLIANCE_*
variables removed (ALLIANCE_CACHE_DIR excepted: it only says where the fetched local model lives), so
no developer `.env` or shell export can change what a test sees. The network guard (loopback
only) is its own plugin: tests/support/network.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent.config import REPO_ROOT, Settings
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel

Responder = Callable[[Sequence[BaseMessage]], str]

PERSONAS_DIR = REPO_ROOT / "personas"
_KEPT_ALLIANCE_VARS = {"ALLIANCE_CACHE_DIR"}
_OPENAI_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION")
_DATABASE_VARS = ("DATABASE_URL",)  # a developer's database (even on loopback) is never written by a test


# --------------------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in (*_OPENAI_VARS, *_DATABASE_VARS):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("ALLIANCE_") and name not in _KEPT_ALLIANCE_VARS:
            monkeypatch.delenv(name, raising=False)
    # The command line speaks the terminal's language: pin English, as CI has it, so a developer's French
    # locale changes no expected output (tests of the French CLI set their own locale).
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no stray `.env` is read from the repo or the caller's directory
    yield workdir


# --------------------------------------------------------------------------- settings and backends


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings for the fake backend; keyword arguments override fields (by field name)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "llm": "fake",
            "personas_dir": PERSONAS_DIR,
            "max_retries": 0,  # no tenacity backoff sleeps in unit tests
            "timeout_s": 30.0,
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)
        for name, value in values.items():
            assert getattr(settings, name) == value, f"Settings ignored {name}={value!r}"
        return settings

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def build_scripted_backend(responder: Responder, *, chunk_size: int = 6, delay_s: float = 0.0) -> ChatBackend:
    model = ScriptedChatModel(responder=responder, chunk_size=chunk_size, delay_s=delay_s)
    return ChatBackend(model, "fake", structured_mode="json_schema")


@pytest.fixture
def scripted_backend() -> Callable[..., ChatBackend]:
    """Factory: responder function (messages -> model text) -> a ChatBackend over ScriptedChatModel."""
    return build_scripted_backend


def patient_json(
    reply: str,
    monologue: str = "Je me demande ce qu'il pense de moi.",
    *,
    emotions: Sequence[str] = ("anxiety",),
    alliance: tuple[int, int, int] = (4, 4, 4),
    move: str = "none",
    subtype: str | None = None,
) -> str:
    """The JSON text of one patient turn, as the model would write it (hidden state first)."""
    goals, tasks, bond = alliance
    hidden = {
        "inner_monologue": monologue,
        "emotions": list(emotions),
        "alliance": {"goals": goals, "tasks": tasks, "bond": bond},
        "intended_move": move,
        "move_subtype": subtype,
    }
    return json.dumps({"hidden": hidden, "reply": reply}, ensure_ascii=False)


@pytest.fixture
def turn_json() -> Callable[..., str]:
    """Factory for the JSON of one patient turn (see `patient_json`)."""
    return patient_json


def sequence_responder(*texts: str) -> Responder:
    """A responder that answers each call with the next text (the last one repeats)."""
    calls = {"n": 0}

    def respond(messages: Sequence[BaseMessage]) -> str:
        index = min(calls["n"], len(texts) - 1)
        calls["n"] += 1
        return texts[index]

    return respond


@pytest.fixture
def responder_sequence() -> Callable[..., Responder]:
    return sequence_responder
