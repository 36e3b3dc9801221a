"""One factory: settings -> chat model. OpenAI-compatible endpoints, the embedded model, a fake.

Every backend is a langchain chat model, so the patient and the judge have one code path.
The embedded model is llama.cpp's OpenAI-compatible server running inside this process
(xllamacpp), reached through the same `ChatOpenAI` client as any remote endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from agent.config import Settings, StructuredMode
from agent.domain.language import as_lang
from agent.i18n.catalog import t
from agent.llm.fake import ScriptedChatModel
from agent.llm.prompt_slots import PromptSlots

LOCAL_API_KEY = "alliance-local"  # the in-process server checks no key; the client needs one
LOCAL_TIMEOUT_S = 600.0


class BackendError(Exception):
    """The model cannot be reached or configured; the message is safe to show a user."""


@dataclass
class ChatBackend:
    model: BaseChatModel
    label: str
    offline_demo: bool = False
    structured_mode: StructuredMode = "auto"
    # Small local models get a shorter patient prompt (CPU prompt processing is the bottleneck).
    compact_prompt: bool = False
    # Local models profit from processing the long system prompt while the learner reads the brief.
    prefill: bool = False
    # Wall-clock budget of one whole structured call (a CPU model needs far more than an API).
    call_timeout_s: float = 60.0
    # Modes that failed on this backend, so that `auto` does not try them again.
    failed_modes: set[str] = field(default_factory=set)
    # The embedded model's processed prompts, kept in files across restarts (None: not kept).
    slots: PromptSlots | None = None


def _http_clients(timeout: float, trust_env: bool = True) -> dict[str, Any]:
    # An explicit httpx client: bounded timeouts, and it is what respx intercepts in tests
    # (openai 3.x would otherwise send through httpx2, past the mock).
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    return {
        "http_client": httpx.Client(timeout=timeout, limits=limits, trust_env=trust_env),
        "http_async_client": httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=trust_env),
    }


def _openai_backend(settings: Settings, model: str) -> ChatBackend:
    from langchain_openai import AzureChatOpenAI, ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    common: dict[str, Any] = {
        "temperature": settings.temperature,
        "timeout": settings.timeout_s,
        "max_retries": 0,  # tenacity owns retries (see `retrying`)
        "stream_chunk_timeout": settings.timeout_s,
        "stream_usage": True,
        **_http_clients(settings.timeout_s),
    }
    base = settings.openai_base_url or ""
    chat: BaseChatModel
    if settings.openai_api_version and ".azure." in base:
        chat = AzureChatOpenAI(
            azure_endpoint=base,
            azure_deployment=model,
            api_version=settings.openai_api_version,
            api_key=key,  # type: ignore[arg-type]
            **common,
        )
    else:
        # Ollama, vLLM, LM Studio and llama.cpp servers take any key; OpenAI needs a real one.
        chat = ChatOpenAI(model=model, api_key=key or "not-needed", base_url=base or None, **common)  # type: ignore[arg-type]
    return ChatBackend(
        chat, f"openai:{model}", structured_mode=settings.structured_mode, call_timeout_s=settings.timeout_s
    )


def local_model_path(settings: Settings) -> Path:
    from agent.llm.local_fetch import ensure_default_model

    if settings.local_model is not None:
        if not settings.local_model.is_file():
            raise BackendError(f"ALLIANCE_LOCAL_MODEL points at {settings.local_model}, which is not a file")
        return settings.local_model
    return ensure_default_model(settings.cache_dir)


def _local_backend(settings: Settings) -> ChatBackend:
    from langchain_openai import ChatOpenAI

    from agent.llm.local_server import LocalServerConfig, get_local_server

    path = local_model_path(settings)
    server = get_local_server(LocalServerConfig.from_settings(settings, path))
    chat = ChatOpenAI(
        model=server.model_name,
        api_key=LOCAL_API_KEY,  # type: ignore[arg-type]
        base_url=server.base_url,
        temperature=settings.temperature,
        timeout=LOCAL_TIMEOUT_S,
        # Before its first token, a CPU model processes the whole prompt: minutes on 2 busy cores.
        stream_chunk_timeout=LOCAL_TIMEOUT_S,
        max_retries=0,
        # Loopback only: a proxy from the environment must never reroute 127.0.0.1.
        **_http_clients(LOCAL_TIMEOUT_S, trust_env=False),
    )
    mode: StructuredMode = "json_schema" if settings.structured_mode == "auto" else settings.structured_mode
    return ChatBackend(
        chat,
        f"local:{path.stem}",
        offline_demo=settings.local_model is None,
        structured_mode=mode,
        compact_prompt=True,
        prefill=True,
        call_timeout_s=LOCAL_TIMEOUT_S,
        slots=PromptSlots(server, server.n_parallel, f"{path.name}:{path.stat().st_size}") if server.slot_dir else None,
    )


def build_backend(settings: Settings, spec: str | None = None) -> ChatBackend:
    """Build the chat backend named by `spec` (local | fake | openai[:MODEL]), else by settings.

    With no spec and no ALLIANCE_LLM, an endpoint in the settings (OPENAI_BASE_URL or
    OPENAI_API_KEY) selects it; otherwise the embedded offline model is used.
    """
    spec = (spec or settings.llm or "").strip()
    if spec == "fake":
        return ChatBackend(ScriptedChatModel(), "fake", structured_mode="json_schema")
    if spec == "local":
        return _local_backend(settings)
    if spec.startswith("openai"):
        _, _, model = spec.partition(":")
        return _openai_backend(settings, model or settings.model)
    if spec:
        raise BackendError(f"unknown LLM {spec!r}: use local, fake or openai:MODEL")
    if settings.endpoint_configured():
        return _openai_backend(settings, settings.model)
    return _local_backend(settings)


_RETRYABLE = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
    httpx.TransportError,
)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, _RETRYABLE)


def retrying(settings: Settings) -> AsyncRetrying:
    """Bounded retries with jittered backoff, on retryable errors only."""
    return AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(settings.max_retries + 1),
        wait=wait_exponential_jitter(multiplier=0.5, max=8.0),
        reraise=True,
    )


def describe_failure(exc: BaseException, lang: str) -> str:
    """A short, safe message for the learner (never the key, never a stack trace)."""
    language = as_lang(lang)
    if isinstance(exc, openai.AuthenticationError):
        return t("llm.failure.auth", language)
    if isinstance(exc, openai.RateLimitError):
        return t("llm.failure.busy", language)
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return t("llm.failure.timeout", language)
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return t("llm.failure.unreachable", language)
    if isinstance(exc, BackendError):
        return str(exc)
    return t("llm.failure.other", language)
