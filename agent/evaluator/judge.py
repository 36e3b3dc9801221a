"""The LLM judge: structured findings on the last turn, from the observer transcript only."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import openai
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import Settings
from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import SUBTYPES, EventKind, Lang, MetacommFunction, RepairPrinciple, RuptureType, glossary
from agent.llm.backends import ChatBackend, retrying
from agent.llm.prompts import prompt_hash, render, template_text
from agent.llm.structured import StructuredOutputError, parse_output, stream_json

CONTEXT_TURNS = 6
PROMPTS = ("judge.md", "judge_examples.md")


# The rationale's language, named for the model (prompt text, not a string for people).
LANGUAGE_NAMES: dict[Lang, str] = {"fr": "French", "en": "English"}


class JudgeFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["rupture_marker", "repair_attempt"]
    rupture: RuptureType | None
    function: MetacommFunction | None
    principle: RepairPrinciple | None
    subtype: str | None
    evidence: str = Field(description="Exact quote from the last turn.")
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str


class JudgeOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[JudgeFinding]


def transcript_text(transcript: list[PublicTurn]) -> str:
    return "\n".join(f"[{t.speaker.value}] {t.text}" for t in transcript[-CONTEXT_TURNS:])


def judge_prompt_version() -> str:
    return "+".join(f"{name}:{prompt_hash(name)}" for name in PROMPTS)


class Judge:
    def __init__(self, backend: ChatBackend, settings: Settings):
        self.backend = backend
        self.settings = settings
        self._usage = UsageMetadataCallbackHandler()

    def usage(self) -> dict[str, Any]:
        """Tokens used so far, per model (as the endpoint reported them)."""
        return {model: dict(counts) for model, counts in self._usage.usage_metadata.items()}

    def messages(self, transcript: list[PublicTurn], lang: Lang) -> list[SystemMessage | HumanMessage]:
        system = render(
            "judge.md",
            glossary=glossary("en"),
            language_name=LANGUAGE_NAMES[lang],
            examples=template_text("judge_examples.md").strip(),
        )
        user = f"Transcript:\n{transcript_text(transcript)}\nFindings:"
        return [SystemMessage(content=system), HumanMessage(content=user)]

    async def _collect(self, messages: list[SystemMessage | HumanMessage]) -> str:
        raw = ""
        async for attempt in retrying(self.settings):
            with attempt:
                deltas = stream_json(self.backend, messages, JudgeOutput, "alliance_findings", callbacks=[self._usage])
                raw = "".join([d async for d in deltas])
        return raw

    async def _ask(self, transcript: list[PublicTurn], lang: Lang) -> JudgeOutput:
        messages = self.messages(transcript, lang)
        last_error: StructuredOutputError | None = None
        for _ in range(2):  # one bounded retry on a malformed answer
            try:
                return parse_output(await self._collect(messages), JudgeOutput)
            except openai.LengthFinishReasonError:
                last_error = StructuredOutputError("the answer was cut at the token limit")
            except StructuredOutputError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def judge(self, transcript: list[PublicTurn], lang: Lang) -> list[AllianceEvent]:
        output = await asyncio.wait_for(self._ask(transcript, lang), timeout=self.backend.call_timeout_s)
        last = transcript[-1]
        events = []
        for finding in output.findings:
            try:
                events.append(
                    AllianceEvent(
                        turn=last.id,
                        speaker=last.speaker,
                        kind=EventKind(finding.kind),
                        rupture=finding.rupture,
                        function=finding.function,
                        principle=finding.principle,
                        subtype=finding.subtype if finding.subtype in SUBTYPES else None,
                        evidence=finding.evidence,
                        confidence=finding.confidence,
                        rationale=finding.rationale[:300],
                        source="judge",
                    )
                )
            except ValidationError:
                continue  # an inconsistent finding (e.g. a repair with no function) is dropped, not fatal
        return events
