"""Structured output that works on every backend, and streams.

Order of preference: a JSON schema response format (OpenAI, vLLM, llama.cpp, Ollama), then
function calling, then plain JSON mode with the schema in the prompt. Whatever the mode, the
model's JSON arrives here as text deltas, so callers can watch one field (the patient's
reply) grow while the rest is still being written, and parse the whole at the end with
pydantic.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import openai
from langchain_core.messages import AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, ValidationError

from agent.llm.backends import ChatBackend
from agent.llm.openai_stream import stream_text, streams_directly

T = TypeVar("T", bound=BaseModel)

MODES_IN_ORDER = ("json_schema", "function_calling", "json_mode")


class StructuredOutputError(Exception):
    """The model's answer could not be read as the expected structure."""


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the strict form OpenAI requires (all keys required, no extras). A copy: the
    caller may change it."""
    return copy.deepcopy(_strict_schema(model))


@lru_cache(maxsize=32)
def _strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Built once per model (a turn built it again each time); shared: never changed after."""
    schema = copy.deepcopy(model.model_json_schema())

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("default", None)
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(schema)
    return schema


def _modes(backend: ChatBackend) -> list[str]:
    if backend.structured_mode != "auto":
        return [backend.structured_mode]
    return [m for m in MODES_IN_ORDER if m not in backend.failed_modes] or ["json_mode"]


def _arguments(mode: str, name: str, schema: dict[str, Any], max_tokens: int | None) -> dict[str, Any]:
    """What the request binds for `mode` (as `BaseChatModel.bind` takes it)."""
    extra: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
    if mode == "json_schema":
        fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        return {"response_format": fmt, **extra}
    if mode == "function_calling":
        tool = {"type": "function", "function": {"name": name, "description": name, "parameters": schema}}
        return {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": name}}, **extra}
    return {"response_format": {"type": "json_object"}, **extra}


async def _deltas(
    backend: ChatBackend, prompt: list[BaseMessage], arguments: dict[str, Any], callbacks: list[Any] | None
) -> AsyncIterator[str]:
    """The answer's text deltas: straight from the OpenAI SDK for a `ChatOpenAI` (`agent.llm.openai_stream`), else
    through LangChain (the scripted model, Azure, and callers that count tokens with LangChain callbacks)."""
    if not callbacks and streams_directly(backend.model, arguments):
        async for text in stream_text(backend.model, prompt, **arguments):  # type: ignore[arg-type]
            yield text
        return
    runnable: Any = backend.model.bind(**arguments)  # its chunks are AIMessageChunks
    async for chunk in runnable.astream(prompt, config={"callbacks": callbacks} if callbacks else None):
        text = _delta_text(chunk)
        if text:
            yield text


def _with_schema_hint(messages: Sequence[BaseMessage], schema: dict[str, Any]) -> list[BaseMessage]:
    hint = "Answer with one JSON object only, matching this JSON Schema:\n" + json.dumps(schema, ensure_ascii=False)
    return [*messages, SystemMessage(content=hint)]


def _delta_text(chunk: AIMessageChunk) -> str:
    if chunk.tool_call_chunks:
        return "".join(c.get("args") or "" for c in chunk.tool_call_chunks)
    content = chunk.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def _mode_unsupported(exc: BaseException) -> bool:
    """Errors that mean 'this endpoint does not do that response format', not 'try later'."""
    if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError, openai.NotFoundError)):
        return True
    # llama-cpp-python's server answers an unsupported json_schema with a 500.
    return isinstance(exc, openai.InternalServerError) and "schema" in str(exc).lower()


async def stream_json(
    backend: ChatBackend,
    messages: Sequence[BaseMessage],
    output: type[BaseModel],
    name: str,
    max_tokens: int | None = None,
    callbacks: list[Any] | None = None,
) -> AsyncIterator[str]:
    """Yield the model's JSON answer as text deltas, picking the first mode the backend accepts.

    Falls back to the next mode only when a mode is refused before any token arrived.
    """
    schema = _strict_schema(output)  # only read below
    modes = _modes(backend)
    for index, mode in enumerate(modes):
        arguments = _arguments(mode, name, schema, max_tokens)
        prompt = list(messages) if mode == "json_schema" else _with_schema_hint(messages, schema)
        started = False
        try:
            async for text in _deltas(backend, prompt, arguments, callbacks):
                started = True
                yield text
            return
        except Exception as exc:
            if started or index == len(modes) - 1 or not _mode_unsupported(exc):
                raise
            backend.failed_modes.add(mode)


def parse_output(text: str, output: type[T]) -> T:
    """Parse the full JSON text into the model, tolerating code fences around it."""
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`")
        cleaned = cleaned[cleaned.find("{") :] if "{" in cleaned else cleaned
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end < start:
        raise StructuredOutputError("no JSON object in the model's answer")
    try:
        return output.model_validate_json(cleaned[start : end + 1])
    except ValidationError as exc:
        raise StructuredOutputError(
            f"the model's answer does not match {output.__name__}: {exc.error_count()} errors"
        ) from exc


class FieldWatcher:
    """Follows one top-level string field of a JSON object being streamed, emitting its growth."""

    def __init__(self, field: str):
        self.field = field
        self.buffer = ""
        self.emitted = ""

    def feed(self, delta: str) -> str:
        self.buffer += delta
        if f'"{self.field}"' not in self.buffer:
            return ""
        try:
            partial = parse_partial_json(self.buffer)
        except (json.JSONDecodeError, ValueError):
            return ""
        value = partial.get(self.field) if isinstance(partial, dict) else None
        if isinstance(value, str) and value and "\ud800" <= value[-1] <= "\udbff":
            value = value[:-1]  # half of an escaped surrogate pair: wait for the other half
        if not isinstance(value, str) or not value.startswith(self.emitted):
            return ""
        new = value[len(self.emitted) :]
        self.emitted = value
        return new
