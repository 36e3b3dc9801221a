"""One settings object, read from the environment and `.env`. `.env.example` documents each field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

StructuredMode = Literal["auto", "json_schema", "function_calling", "json_mode"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_key(text: str) -> str:
    """`scheme://host[:port]` as browsers send it in `Origin`: lower case, no default port, no path.

    Raises ValueError for anything else (a wildcard, a path, credentials, another scheme)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{text!r} is not an origin like https://host or http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an origin: no path, query or fragment")
    port = parts.port  # raises ValueError on a bad port
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, _DEFAULT_PORTS[parts.scheme]) else "")


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
    db_pool_size: int = Field(
        10, ge=1, description="PostgreSQL connections each app process keeps open (SQLite: unused)."
    )
    db_max_overflow: int = Field(
        20, ge=0, description="PostgreSQL connections each app process may open beyond db_pool_size at busy times."
    )
    users_file: Path | None = Field(None, description="TOML users file; default DATA_DIR/users.toml.")
    users: SecretStr | None = Field(None, description="NAME:ROLE:HASH entries, separated by commas or spaces.")
    login_failures_per_user: int = Field(
        5, ge=1, description="Failed logins allowed for one user name within login_window_s; then 429 until it passes."
    )
    login_failures_per_address: int = Field(
        50,
        ge=1,
        description="Failed logins allowed from one client address within login_window_s (a class behind NAT).",
    )
    login_window_s: float = Field(900.0, gt=0, description="The sliding window of the login limits, in seconds.")

    # Other origins (scheme://host[:port]) allowed to call the app with the login cookie. Empty: same origin only.
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins, e.g. https://lms.example.org; never '*'."
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):  # "a, b" or "a b"; a JSON list too, as pydantic-settings would read it
            return json.loads(value) if value.lstrip().startswith("[") else value.replace(",", " ").split()
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        if any(origin.strip() == "*" for origin in value):
            raise ValueError("'*' would let any site read learners' sessions with their login: list the origins")
        return list(dict.fromkeys(origin_key(origin) for origin in value))

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
