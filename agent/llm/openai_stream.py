"""The model's text deltas straight from the OpenAI SDK's stream, for `ChatOpenAI` backends (endpoints and the
embedded model's server): one turn's per-chunk path without LangChain's streaming layer.

Issue 16's profile (py-spy, the overhead bench, stub at zero latency) put about 20 ms of a 50 ms turn on the
event loop in `ChatOpenAI.astream`: LangChain turns every chunk into a message chunk, a generation chunk and a
callback, and with a `response_format` it streams through the SDK's beta helper, which builds a partial
completion and its events at every chunk and parses the whole at the end. We need none of that: the text of
each delta. LangChain still serves where it does: the messages, the bound arguments and the request are built
by `ChatOpenAI` (`_get_request_payload`), so the request is the one LangChain sends; the judge (which counts
tokens through LangChain callbacks), Azure, and the scripted model keep LangChain's path.

Behaviour kept from that path: a per-chunk timeout (`stream_chunk_timeout`, a `TimeoutError`); a structured
answer cut at the token limit raises `openai.LengthFinishReasonError`, as the beta helper did.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionChunk


def streams_directly(model: object, bound: dict[str, Any]) -> bool:
    """Whether `model` takes this path: LangChain's own `ChatOpenAI` (not Azure's, which builds its requests its
    own way, nor a subclass that may) on the Chat Completions API (not a model it sends to the Responses API)."""
    return type(model) is ChatOpenAI and not model._use_responses_api({**bound, **model.model_kwargs})


def _text(chunk: ChatCompletionChunk) -> str:
    parts: list[str] = []
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content:
            parts.append(delta.content)
        for call in delta.tool_calls or []:
            if call.function is not None and call.function.arguments:
                parts.append(call.function.arguments)
    return "".join(parts)


def _cut_at_limit(chunk: ChatCompletionChunk) -> openai.LengthFinishReasonError:
    completion = ChatCompletion.model_construct(
        id=chunk.id, choices=[], created=chunk.created, model=chunk.model, object="chat.completion", usage=chunk.usage
    )
    return openai.LengthFinishReasonError(completion=completion)


async def stream_text(model: ChatOpenAI, messages: Sequence[BaseMessage], **bound: Any) -> AsyncIterator[str]:
    """Yield the text of each chunk of the model's answer to `messages`, with `bound` as `.bind(...)` takes it."""
    request: dict[str, Any] = {**bound, "stream": True}
    if model._should_stream_usage(None, **request):
        request["stream_options"] = {"include_usage": True}
    payload = model._get_request_payload(list(messages), **request)
    structured = "response_format" in payload
    timeout = model.stream_chunk_timeout or None
    stream = await model.async_client.create(**payload)
    async with stream:
        chunks = aiter(stream)
        while True:
            try:
                async with asyncio.timeout(timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            text = _text(chunk)
            if text:
                yield text
            if structured and any(choice.finish_reason == "length" for choice in chunk.choices):
                raise _cut_at_limit(chunk)
