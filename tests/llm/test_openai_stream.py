"""The patient's stream straight from the OpenAI SDK (`agent.llm.openai_stream`): the same text and the same request
as LangChain's path, the token limit and a stalled stream reported as before, and who keeps LangChain's path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
import respx
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import AzureChatOpenAI, ChatOpenAI

from agent.config import Settings
from agent.domain.session import PatientTurnOutput
from agent.llm.backends import build_backend
from agent.llm.fake import ScriptedChatModel
from agent.llm.openai_stream import stream_text, streams_directly
from agent.llm.structured import _arguments, _delta_text, strict_json_schema
from tests.support.openai_http import COMPLETIONS, PATIENT_RECORDING, load_recording, request_json

PATIENT = load_recording(PATIENT_RECORDING)
MESSAGES = [SystemMessage(content="You are Mme Bertrand."), HumanMessage(content="Bonjour.")]


def arguments(max_tokens: int | None = 300) -> dict[str, Any]:
    return _arguments("json_schema", "patient_turn", strict_json_schema(PatientTurnOutput), max_tokens)


def model_of(settings: Settings) -> ChatOpenAI:
    model = build_backend(settings, f"openai:{PATIENT.model}").model
    assert isinstance(model, ChatOpenAI)
    return model


async def test_the_direct_path_yields_langchains_text_and_sends_langchains_request(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request_json(request))
        return PATIENT.response()

    api.post(COMPLETIONS).mock(side_effect=answer)
    model = model_of(openai_settings)
    assert streams_directly(model, arguments())
    direct = "".join([text async for text in stream_text(model, MESSAGES, **arguments())])
    chunks = [chunk async for chunk in model.bind(**arguments()).astream(MESSAGES)]
    through_langchain = "".join(_delta_text(chunk) for chunk in chunks)
    assert direct == PATIENT.text
    assert through_langchain == direct
    assert sent[0] == sent[1]


def _sse(events: list[dict[str, Any]]) -> httpx.Response:
    async def stream() -> AsyncIterator[bytes]:
        for event in events:
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())


def _chunk(content: str, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}


async def test_a_structured_answer_cut_at_the_token_limit_raises_after_its_text(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    api.post(COMPLETIONS).mock(return_value=_sse([_chunk('{"reply": "Je'), _chunk(" suis", finish="length")]))
    seen: list[str] = []
    with pytest.raises(openai.LengthFinishReasonError):
        async for text in stream_text(model_of(openai_settings), MESSAGES, **arguments()):
            seen.append(text)
    assert "".join(seen) == '{"reply": "Je suis'


async def test_a_stream_that_stalls_raises_a_timeout(openai_settings: Settings, api: respx.MockRouter) -> None:
    never = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"data: " + json.dumps(_chunk('{"reply": "Je')).encode() + b"\n\n"
        await never.wait()

    api.post(COMPLETIONS).mock(
        return_value=httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stalled())
    )
    model = model_of(openai_settings).model_copy(update={"stream_chunk_timeout": 0.01})
    seen: list[str] = []
    with pytest.raises(TimeoutError):
        async for text in stream_text(model, MESSAGES, **arguments()):
            seen.append(text)
    assert seen == ['{"reply": "Je']


def test_azure_the_scripted_model_and_the_responses_api_keep_langchains_path(openai_settings: Settings) -> None:
    azure = AzureChatOpenAI(
        azure_endpoint="https://x.openai.azure.example.test",
        azure_deployment="d",
        api_version="2024-10-21",
        api_key="k",
    )
    responses = ChatOpenAI(model="m", api_key="k", use_responses_api=True)  # type: ignore[arg-type]
    assert not streams_directly(azure, arguments())
    assert not streams_directly(ScriptedChatModel(), arguments())
    assert not streams_directly(responses, arguments())
    assert streams_directly(model_of(openai_settings), arguments())
