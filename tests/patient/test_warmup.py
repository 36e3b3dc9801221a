"""The start's warm-up: every persona's prompt sent once to a local model, each language's default first."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage

from agent.config import Settings
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.patient.warmup import warm_order, warm_personas
from agent.persona.loader import load_library
from tests.support.fakes import PERSONAS_DIR


async def test_every_persona_prompt_is_sent_once_the_first_of_each_language_first(settings: Settings) -> None:
    personas = list(load_library(PERSONAS_DIR).personas.values())
    prompts: list[str] = []

    def respond(messages: Sequence[BaseMessage]) -> str:
        prompts.append(str(messages[0].content))
        return "."

    local = ChatBackend(ScriptedChatModel(responder=respond), "fake", compact_prompt=True, prefill=True)
    assert await warm_personas(local, personas, settings) == len(personas) == len(prompts)
    order = warm_order(personas)
    assert {p.persona.language for p in order[:2]} == {"fr", "en"} and len(order) == len(set(map(id, order)))
    for loaded, prompt in zip(order, prompts, strict=True):
        assert loaded.persona.display_name in prompt


async def test_an_endpoint_is_not_warmed_and_a_failure_only_skips_that_persona(settings: Settings) -> None:
    personas = list(load_library(PERSONAS_DIR).personas.values())
    endpoint = ChatBackend(ScriptedChatModel(responder=lambda _: "."), "fake")
    assert await warm_personas(endpoint, personas, settings) == 0
    calls = {"n": 0}

    def flaky(messages: Sequence[BaseMessage]) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("model gone")
        return "."

    local = ChatBackend(ScriptedChatModel(responder=flaky), "fake", compact_prompt=True, prefill=True)
    assert await warm_personas(local, personas, settings) == len(personas) - 1
