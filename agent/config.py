"""One settings object, read from the environment and `.env`. `.env.example` documents each field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

StructuredMode = Literal["auto", "json_schema", "function_calling", "json_mode"]


class Settings(BaseSettings):
    # Our own variables are ALLIANCE_<FIELD>; the endpoint and the database keep the names every tool uses.
    model_config = SettingsConfigDict(
        env_prefix="ALLIANCE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio, llama.cpp server).
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_api_version: str | None = Field(None, validation_alias="OPENAI_API_VERSION")
    model: str = Field("gpt-4o-mini", description="model name (Azure: the deployment name)")
    llm: str | None = Field(None, description="local | fake | openai:MODEL; empty = auto")
    structured_mode: StructuredMode = Field("auto")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    slow_notice_s: float = Field(
        30.0,
        gt=0,
        description="Seconds without a word from the patient before the learner is told it is slow (the turn is kept).",
    )

    # Embedded model (used when no endpoint is configured).
    local_model: Path | None = Field(None)
    cache_dir: Path = Field(REPO_ROOT / ".data")
    local_ctx: int = Field(
        8192,
        ge=1024,
        description="Context of the embedded model, shared by its 2 parallel slots.",
    )
    local_threads: int | None = Field(None, ge=1)

    # The session.
    personas_dir: Path = Field(REPO_ROOT / "personas")
    history_turns: int = Field(
        12,
        ge=2,
        le=200,
        description="Turns of verbatim history the patient sees (a window; older turns drop out).",
    )
    max_reply_tokens: int = Field(700, ge=32)
    max_message_chars: int = Field(
        8000,
        ge=100,
        le=1_000_000,
        description="The longest learner message the patient is given; a longer one is refused with a notice.",
    )
    evaluator: Literal["detector", "judge", "both", "none"] = Field(
        "detector",
        description="The app's live monitor: the offline detector, the LLM judge, both merged, or none.",
    )

    # Kept sessions and logins.
    data_dir: Path = Field(
        REPO_ROOT / ".data",
        description="The SQLite database, the generated login secret and the default users file live here.",
    )
    database_url: SecretStr | None = Field(
        None, validation_alias="DATABASE_URL", description="postgresql://... to keep sessions in PostgreSQL."
    )
    users_file: Path | None = Field(None, description="TOML users file; default DATA_DIR/users.toml.")
    users: SecretStr | None = Field(None, description="NAME:ROLE:HASH entries, separated by commas or spaces.")

    def __init__(self, **values: Any) -> None:
        # Arguments by field name (or the endpoint's and database's own names); anything else is a mistake
        # that pydantic-settings would silently ignore (extra="ignore" is for the environment and .env).
        known = set(type(self).model_fields) | {
            f.validation_alias for f in type(self).model_fields.values() if isinstance(f.validation_alias, str)
        }
        unknown = sorted(k for k in values if not k.startswith("_") and k not in known)
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(unknown)} (use field names, e.g. personas_dir)")
        super().__init__(**values)

    def endpoint_configured(self) -> bool:
        return bool(self.openai_base_url or self.openai_api_key)

    def users_path(self) -> Path:
        return self.users_file or self.data_dir / "users.toml"


def get_settings() -> Settings:
    return Settings()
