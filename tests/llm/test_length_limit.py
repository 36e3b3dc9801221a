"""A model that rambles past the token limit is regenerated, not surfaced as a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from openai.types.chat import ChatCompletion

from agent.config import Settings
from agent.domain.session import Session
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.patient.engine import PatientEngine
from agent.persona.loader import load_persona
from tests.support.fakes import sequence_responder

PERSONA = Path(__file__).resolve().parents[2] / "personas" / "bertrand.en.yaml"


def _length_error() -> openai.LengthFinishReasonError:
    completion = ChatCompletion.model_validate(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "{"}}],
        }
    )
    return openai.LengthFinishReasonError(completion=completion)


async def test_length_limit_then_valid_answer_is_a_regeneration(settings, scripted_backend, turn_json):
    calls = {"n": 0}

    def responder(messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise _length_error()
        return turn_json("I'm still getting headaches most days.")

    persona = load_persona(PERSONA)
    engine = PatientEngine(persona, scripted_backend(responder), settings)
    session = Session(persona_id="bertrand.en", language="en", llm="fake")
    session.add_learner_turn("How have you been?")
    result = await engine.respond(session)
    assert result.output.reply == "I'm still getting headaches most days."
    assert result.attempts == 2 and calls["n"] == 2


class _CutModel(ScriptedChatModel):
    """Streams its scripted text, then stops at the 'token limit' whenever the text is not whole JSON."""

    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        text = self._respond(messages)
        for piece in self._pieces(text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        if not text.rstrip().endswith("}"):
            raise _length_error()


def _short_engine(settings: Settings, *answers: str) -> tuple[PatientEngine, _CutModel]:
    model = _CutModel(responder=sequence_responder(*answers), chunk_size=9)
    backend = ChatBackend(model, "fake", structured_mode="json_schema", compact_prompt=True, prefill=True)
    engine = PatientEngine(load_persona(PERSONA), backend, settings)
    assert engine.short
    return engine, model


def _asked(text: str) -> Session:
    session = Session(persona_id="bertrand.en", language="en", llm="fake")
    session.add_learner_turn(text)
    return session


WHOLE = "Right. I'll think about it, but I'm not sure Monday works for me."
RAMBLED = '{"reply": "' + WHOLE + '", "inner_monologue": "He did not even ask me what the psychologist'


async def test_a_short_answer_cut_in_its_thought_keeps_its_whole_reply_without_asking_again(settings):
    """Roy's paraphrased probe failed on a cut answer even though its reply was whole: nothing had streamed."""
    engine, model = _short_engine(settings, RAMBLED)
    result = await engine.respond(_asked("How have you been sleeping?"))  # no sink: nothing shown while it came
    assert result.output.reply == WHOLE and result.attempts == 1 and len(model.calls) == 1
    assert result.output.hidden.inner_monologue.startswith("He did not even ask me")


async def test_a_short_answer_cut_inside_its_reply_is_asked_again(settings):
    cut_reply = '{"reply": "Right. I will think about it, but honestly I do not see how I could possibly go'
    fine = json.dumps({"reply": "Maybe. I don't know yet.", "inner_monologue": "Not again."})
    engine, model = _short_engine(settings, cut_reply, fine)
    result = await engine.respond(_asked("How have you been sleeping?"))
    assert result.output.reply == "Maybe. I don't know yet." and result.attempts == 2 and len(model.calls) == 2


async def test_a_short_answer_cut_inside_its_reply_every_time_keeps_its_whole_sentences_at_the_last_try(settings):
    cut_reply = '{"reply": "Right. I will think about it, but honestly I do not see how I could possibly go'
    engine, model = _short_engine(settings, cut_reply)
    result = await engine.respond(_asked("How have you been sleeping?"))
    assert result.output.reply == "Right." and len(model.calls) == result.attempts > 1
