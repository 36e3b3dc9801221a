"""Shared helpers for the OpenAI-path and Chainlit-handler tests: recordings, SSE, a network guard.

The recordings in `tests/fixtures/recorded/` are real responses of a real model, made by
`tests/fixtures/record.py`: each is a `.json` (header, input, abbreviated request, response
status) plus the `.sse` body exactly as the server sent it, after SSE comment lines.

Imported by the test modules, not a conftest: its fixtures are pulled in by name.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from agent.config import Settings

RECORDED_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
PATIENT_RECORDING = "patient_turn.bertrand.fr"
JUDGE_RECORDING = "judge.bertrand.fr"

API_KEY = "sk-test"
BASE_URL = "https://api.example.test/v1"
COMPLETIONS = "/chat/completions"

_ENV_TO_CLEAR = (
    "ALLIANCE_LLM",
    "ALLIANCE_MODEL",
    "ALLIANCE_STRUCTURED_MODE",
    "ALLIANCE_TEMPERATURE",
    "ALLIANCE_TIMEOUT_S",
    "ALLIANCE_MAX_RETRIES",
    "ALLIANCE_LOCAL_MODEL",
    "ALLIANCE_HISTORY_TURNS",
    "ALLIANCE_MAX_REPLY_TOKENS",
    "ALLIANCE_PERSONAS_DIR",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "OPENAI_LOG",
    "DATABASE_URL",
    "LITERAL_API_KEY",
)


# --------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------


def sse_data(body: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of the `data:` lines of an SSE body ([DONE] and comments left out)."""
    events = []
    for line in body.decode("utf-8").splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            events.append(json.loads(line[5:]))
    return events


def sse_text(body: bytes) -> str:
    """What the model wrote, as the stream carried it: content deltas or tool-call arguments."""
    parts: list[str] = []
    for event in sse_data(body):
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            parts.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                parts.append((call.get("function") or {}).get("arguments") or "")
    return "".join(parts)


def sse_blocks(body: bytes) -> list[bytes]:
    """The body cut after each blank line, so that a replay sends one SSE event per chunk."""
    blocks, rest = [], body
    while b"\n\n" in rest:
        head, rest = rest.split(b"\n\n", 1)
        blocks.append(head + b"\n\n")
    if rest:
        blocks.append(rest)
    return blocks


@dataclass(frozen=True)
class Recording:
    name: str
    meta: dict[str, Any]
    body: bytes  # the .sse file: header comments, then the server's bytes

    @property
    def model(self) -> str:
        return str(self.meta["recorded"]["model"])

    @property
    def text(self) -> str:
        return sse_text(self.body)

    @property
    def request_body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.meta["request"]["body"]
        return body

    def response(self, progress: dict[str, int] | None = None) -> httpx.Response:
        """The recorded answer as a streamed httpx response, one SSE event per chunk.

        `progress["sent"]` counts the chunks handed to the client so far, so a test can tell
        whether its consumer saw tokens before the stream ended.
        """
        blocks = sse_blocks(self.body)

        async def stream() -> AsyncIterator[bytes]:
            for block in blocks:
                if progress is not None:
                    progress["sent"] = progress.get("sent", 0) + 1
                yield block

        if progress is not None:
            progress["total"] = len(blocks)
        status = int(self.meta["response"]["status"])
        content_type = self.meta["response"]["content_type"] or "text/event-stream"
        return httpx.Response(status, headers={"content-type": content_type}, content=stream())


def load_recording(name: str) -> Recording:
    meta = json.loads((RECORDED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    body = (RECORDED_DIR / meta["response"]["body_file"]).read_bytes()
    return Recording(name, meta, body)


def schema_shape(node: Any) -> Any:
    """A JSON schema without its prose (descriptions, titles): what the model must produce."""
    if isinstance(node, dict):
        return {k: schema_shape(v) for k, v in node.items() if k not in ("description", "title")}
    if isinstance(node, list):
        return [schema_shape(v) for v in node]
    return node


# --------------------------------------------------------------------------------------
# Hand-written responses
# --------------------------------------------------------------------------------------


def synthetic_tool_call_sse(function: str, arguments: str, model: str, piece: int = 12) -> bytes:
    """A function-calling answer streamed the way OpenAI streams it. SYNTHETIC: written by hand.

    Not a recording of any model: it exists to exercise the function-calling fallback.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        event = {
            "id": "chatcmpl-synthetic",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(event, ensure_ascii=False).encode("utf-8") + b"\n\n"

    out = [b": synthetic - hand-written in tests/openai_support.py, not recorded from a model\n\n"]
    call = {"index": 0, "id": "call_synthetic", "type": "function", "function": {"name": function, "arguments": ""}}
    out.append(chunk({"role": "assistant", "content": None, "tool_calls": [call]}))
    for start in range(0, len(arguments), piece):
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[start : start + piece]}}]}))
    out.append(chunk({}, finish="tool_calls"))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def sse_response(body: bytes) -> httpx.Response:
    blocks = sse_blocks(body)

    async def stream() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())


def error_response(status: int, message: str, kind: str, code: str | None = None) -> httpx.Response:
    """An error in OpenAI's JSON shape."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return httpx.Response(status, json=body)


def request_json(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def structured_mode_of(body: dict[str, Any]) -> str:
    if body.get("tools"):
        return "function_calling"
    kind = (body.get("response_format") or {}).get("type")
    return {"json_schema": "json_schema", "json_object": "json_mode"}.get(kind, "plain")


def structured_name_of(body: dict[str, Any]) -> str | None:
    if body.get("tools"):
        return str(body["tools"][0]["function"]["name"])
    schema = (body.get("response_format") or {}).get("json_schema")
    return str(schema["name"]) if schema else None


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenAI endpoint configured only through the environment, as a user would."""
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", BASE_URL)


@pytest.fixture
def openai_settings(openai_env: None) -> Settings:
    # `_env_file=None`: a developer's own .env must not change what the tests see.
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """Every httpx request is answered by a route here, or fails (assert_all_mocked)."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True) as router:
        yield router
