"""A scripted chat model for tests and for `--llm fake`: no network, deterministic, streams.

A responder function maps the messages to the text the model "generates". Tests pass their
own responders (including broken JSON, slow or failing ones); the default responder plays a
minimal patient so the whole app can be tried without any model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from agent.domain.language import guess_language

Responder = Callable[[Sequence[BaseMessage]], str]


def default_patient_responder(messages: Sequence[BaseMessage]) -> str:
    """A polite, minimal patient turn in the language of the system prompt."""
    system = next((str(m.content) for m in messages if isinstance(m, SystemMessage)), "")
    fr = guess_language(system) == "fr"
    reply = (
        "Bonjour docteur. Je suis encore fatiguée et j'ai mal à la tête presque tous les jours."
        if fr
        else "Hello doctor. I'm still tired and I get headaches almost every day."
    )
    hidden = {
        "inner_monologue": "J'espère qu'il va m'écouter." if fr else "I hope they will listen to me.",
        "emotions": ["anxiety"],
        "alliance": {"goals": 4, "tasks": 4, "bond": 5},
        "intended_move": "none",
        "move_subtype": None,
    }
    return json.dumps({"hidden": hidden, "reply": reply}, ensure_ascii=False)


class ScriptedChatModel(BaseChatModel):
    """Chat model whose output is computed by a Python function; streams in small chunks."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responder: Responder = default_patient_responder
    chunk_size: int = 6
    delay_s: float = 0.0
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "alliance-scripted"

    def _respond(self, messages: list[BaseMessage]) -> str:
        self.calls.append(list(messages))
        return self.responder(messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._respond(messages)))])

    def _pieces(self, text: str) -> Iterator[str]:
        for start in range(0, len(text), self.chunk_size):
            yield text[start : start + self.chunk_size]

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._pieces(self._respond(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        text = self._respond(messages)
        for piece in self._pieces(text):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
