"""The one settings object: ALLIANCE_<FIELD> variables, the endpoint's and database's usual names, no silent typo."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Settings


def test_variables_are_alliance_prefixed_field_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALLIANCE_MODEL", "qwen2.5:7b")
    monkeypatch.setenv("ALLIANCE_LLM", "fake")
    monkeypatch.setenv("ALLIANCE_TIMEOUT_S", "7")
    monkeypatch.setenv("ALLIANCE_PERSONAS_DIR", str(tmp_path))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/alliance")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.model, settings.llm, settings.timeout_s) == ("qwen2.5:7b", "fake", 7.0)
    assert settings.personas_dir == tmp_path
    assert settings.openai_base_url == "http://localhost:11434/v1"
    assert settings.database_url is not None and settings.database_url.get_secret_value().startswith("postgresql")


def test_a_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("ALLIANCE_EVALUATOR=none\nALLIANCE_HISTORY_TURNS=4\n", encoding="utf-8")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.evaluator == "none" and settings.history_turns == 4


def test_a_misspelt_argument_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(TypeError, match="ALLIANCE_PERSONAS_DIR"):
        Settings(_env_file=None, ALLIANCE_PERSONAS_DIR="x")  # type: ignore[call-arg]
    assert Settings(_env_file=None, personas_dir="x").personas_dir == Path("x")  # type: ignore[call-arg]
