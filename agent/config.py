"""One settings object, read from the environment and `.env`. `.env.example` documents each field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

StructuredMode = Literal["auto", "json_schema", "function_calling", "json_mode"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    # OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio, llama.cpp server).
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_api_version: str | None = Field(None, validation_alias="OPENAI_API_VERSION")
    alliance_model: str = Field("gpt-4o-mini", validation_alias="ALLIANCE_MODEL")
    alliance_llm: str | None = Field(
        None, validation_alias="ALLIANCE_LLM", description="local | fake | openai:MODEL; empty = auto"
    )
    structured_mode: StructuredMode = Field("auto", validation_alias="ALLIANCE_STRUCTURED_MODE")
    temperature: float = Field(0.7, ge=0.0, le=2.0, validation_alias="ALLIANCE_TEMPERATURE")
    request_timeout_s: float = Field(60.0, gt=0, validation_alias="ALLIANCE_TIMEOUT_S")
    max_retries: int = Field(3, ge=0, le=10, validation_alias="ALLIANCE_MAX_RETRIES")

    # Embedded model (used when no endpoint is configured).
    local_model: Path | None = Field(None, validation_alias="ALLIANCE_LOCAL_MODEL")
    cache_dir: Path = Field(REPO_ROOT / ".data", validation_alias="ALLIANCE_CACHE_DIR")
    local_ctx: int = Field(
        8192,
        ge=1024,
        validation_alias="ALLIANCE_LOCAL_CTX",
        description="Context of the embedded model, shared by its 2 parallel slots.",
    )
    local_threads: int | None = Field(None, ge=1, validation_alias="ALLIANCE_LOCAL_THREADS")

    # The session.
    personas_dir: Path = Field(REPO_ROOT / "personas", validation_alias="ALLIANCE_PERSONAS_DIR")
    history_turns: int = Field(
        12,
        ge=2,
        le=200,
        validation_alias="ALLIANCE_HISTORY_TURNS",
        description="Turns of verbatim history the patient sees (a window; older turns drop out).",
    )
    max_reply_tokens: int = Field(700, ge=32, validation_alias="ALLIANCE_MAX_REPLY_TOKENS")
    evaluator: Literal["detector", "judge", "both", "none"] = Field(
        "detector",
        validation_alias="ALLIANCE_EVALUATOR",
        description="The app's live monitor: the offline detector, the LLM judge, both merged, or none.",
    )

    # Kept sessions and logins.
    data_dir: Path = Field(
        REPO_ROOT / ".data",
        validation_alias="ALLIANCE_DATA_DIR",
        description="The SQLite database, the generated login secret and the default users file live here.",
    )
    database_url: SecretStr | None = Field(
        None, validation_alias="DATABASE_URL", description="postgresql://... to keep sessions in PostgreSQL."
    )
    users_file: Path | None = Field(
        None, validation_alias="ALLIANCE_USERS_FILE", description="TOML users file; default DATA_DIR/users.toml."
    )
    users: SecretStr | None = Field(
        None, validation_alias="ALLIANCE_USERS", description="NAME:ROLE:HASH entries, separated by commas or spaces."
    )

    def endpoint_configured(self) -> bool:
        return bool(self.openai_base_url or self.openai_api_key)

    def users_path(self) -> Path:
        return self.users_file or self.data_dir / "users.toml"


def get_settings() -> Settings:
    return Settings()
