"""A model that rambles past the token limit is regenerated, not surfaced as a failure."""

from __future__ import annotations

from pathlib import Path

import openai
from openai.types.chat import ChatCompletion

from agent.domain.session import Session
from agent.patient.engine import PatientEngine
from agent.persona.loader import load_persona

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
