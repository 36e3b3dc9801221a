"""The stub OpenAI-compatible server, and fault drills through the real OpenAI code path.

The stub runs in-process on 127.0.0.1 (uvicorn); the app's backend reaches it over HTTP
through `OPENAI_BASE_URL`, exactly as it would a real endpoint. Every fault ends the same
way for the learner: no crash, no lost turn, a clear message, and the next message works
once the endpoint recovers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from agent.config import Settings
from agent.conversation import Conversation
from agent.devtools.stub_llm import Stub, StubConfig, build_app, completion_text
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import Speaker
from agent.evaluator.judge import Judge
from agent.llm.backends import build_backend
from agent.persona.loader import load_persona
from tests.support.fakes import PERSONAS_DIR


class RunningStub:
    def __init__(self, stub: Stub, url: str, server: uvicorn.Server):
        self.stub, self.url, self.server = stub, url, server

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "OPENAI_API_KEY": "sk-stub-secret",
            "model": "stub",
            "max_retries": 2,
            "timeout_s": 5,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def running_stub() -> AsyncIterator[RunningStub]:
    stub = Stub(StubConfig())
    config = uvicorn.Config(build_app(stub), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield RunningStub(stub, f"http://127.0.0.1:{port}", server)
    server.should_exit = True
    await task


def _conversation(running: RunningStub, persona: str = "bertrand.fr", **overrides: object) -> Conversation:
    settings = running.settings(**overrides)
    backend = build_backend(settings, "openai:stub")
    loaded = load_persona(PERSONAS_DIR / f"{persona}.yaml")
    return Conversation(persona, loaded, backend, settings)


# --------------------------------------------------------------------------- the stub itself


def test_completion_follows_the_requested_schema_and_language() -> None:
    schema = {
        "type": "object",
        "properties": {
            "hidden": {
                "type": "object",
                "properties": {
                    "inner_monologue": {"type": "string"},
                    "alliance": {"$ref": "#/$defs/A"},
                    "emotions": {"type": "array", "items": {"enum": ["anxiety", "calm"]}, "maxItems": 3},
                },
            },
            "reply": {"type": "string"},
        },
        "$defs": {"A": {"type": "object", "properties": {"bond": {"type": "integer", "minimum": 1, "maximum": 7}}}},
    }
    body = {
        "messages": [
            {"role": "system", "content": "Vous jouez Mme Bertrand, une personne patiente qui consulte le médecin."},
            {"role": "user", "content": "Bonjour"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "patient_turn", "schema": schema}},
    }
    text, name, mode = completion_text(body)
    data = json.loads(text)
    assert (name, mode) == ("patient_turn", "json_schema")
    assert data["hidden"]["alliance"]["bond"] == 4
    assert len(data["hidden"]["emotions"]) == 1
    assert "vous" in data["reply"].lower() or "je" in data["reply"].lower()


async def test_stub_serves_models_config_and_stats(running_stub: RunningStub) -> None:
    async with httpx.AsyncClient(base_url=running_stub.url) as client:
        assert (await client.get("/v1/models")).json()["data"][0]["id"] == "stub"
        changed = await client.post("/stub/config", json={"latency_s": 0.0, "fault_rates": {"500": 1.0}})
        assert changed.json()["fault_rates"] == {"500": 1.0}
        failed = await client.post("/v1/chat/completions", json={"messages": [], "model": "stub"})
        assert failed.status_code == 500
        assert (await client.get("/stub/stats")).json() == {"requests": 1, "fault_500": 1}
        refused = await client.post("/stub/config", json={"fault_rates": {"teapot": 1.0}})
        assert refused.status_code >= 400 or "teapot" not in refused.text


# --------------------------------------------------------------------------- the app's path


@pytest.mark.parametrize("mode", ["json_schema", "function_calling", "json_mode"])
async def test_a_patient_turn_through_every_structured_mode(running_stub: RunningStub, mode: str) -> None:
    conversation = _conversation(running_stub, structured_mode=mode)
    tokens: list[str] = []

    async def on_token(token: str) -> None:
        tokens.append(token)

    outcome = await conversation.learner_says("Bonjour madame Bertrand, comment allez-vous ?", on_token)
    assert outcome.error is None and outcome.patient_turn is not None
    assert outcome.patient_turn.hidden is not None
    assert "".join(tokens) == outcome.patient_turn.text  # streamed, word for word
    assert outcome.patient_turn.text.startswith(("Je ", "Correct", "Ça "))


async def test_the_judge_gets_a_valid_answer(running_stub: RunningStub) -> None:
    settings = running_stub.settings()
    judge = Judge(build_backend(settings, "openai:stub"), settings)
    transcript = [PublicTurn(id=0, speaker=Speaker.clinician, text="Hello, how are you?")]
    events = await judge.judge(transcript, "en")
    # The stub's judge quotes the clinician's last turn; the quote passes the evidence check.
    assert [(e.kind.value, e.function.value if e.function else None, e.evidence) for e in events] == [
        ("repair_attempt", "exploratory", "Hello, how are you?")
    ]
    assert running_stub.stub.stats["requests"] == 1


@pytest.mark.parametrize("fault", ["429", "500"])
async def test_a_transient_fault_is_retried_and_the_turn_goes_through(running_stub: RunningStub, fault: str) -> None:
    # One in two calls fails; bounded retries get through.
    running_stub.stub.configure(StubConfig(fault_rates={fault: 0.5}, seed=3))  # type: ignore[dict-item]
    conversation = _conversation(running_stub)
    for text in ("Bonjour.", "Comment vont vos maux de tête ?", "Et le sommeil ?"):
        outcome = await conversation.learner_says(text)
        assert outcome.error is None, outcome.error
    assert running_stub.stub.stats[f"fault_{fault}"] >= 1
    assert len(conversation.session.turns) == 6


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("429", "surchargé"),
        ("500", "a échoué"),
        ("timeout", "pas répondu à temps"),
        ("truncate", "a échoué"),
        ("malformed", "a échoué"),
    ],
)
async def test_a_lasting_fault_keeps_the_turn_says_so_and_recovers(
    running_stub: RunningStub, fault: str, message: str
) -> None:
    running_stub.stub.configure(StubConfig(fault_rates={fault: 1.0}, hang_s=3.0))  # type: ignore[dict-item]
    conversation = _conversation(running_stub, timeout_s=1, max_retries=1)
    outcome = await conversation.learner_says("Bonjour madame Bertrand.")
    assert outcome.patient_turn is None
    assert outcome.error is not None and message in outcome.error
    assert "sk-stub-secret" not in outcome.error
    # The learner's words are kept.
    assert [t.text for t in conversation.session.turns] == ["Bonjour madame Bertrand."]
    # The endpoint recovers: the next message works, and nothing was lost.
    running_stub.stub.configure(StubConfig())
    outcome = await conversation.learner_says("Vous m'entendez ?")
    assert outcome.error is None and outcome.patient_turn is not None
    assert [t.speaker for t in conversation.session.turns] == [Speaker.clinician, Speaker.clinician, Speaker.patient]


async def test_the_key_never_reaches_logs_or_the_transcript(
    running_stub: RunningStub, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level("DEBUG")
    running_stub.stub.configure(StubConfig(fault_rates={"500": 1.0}))
    conversation = _conversation(running_stub, max_retries=0)
    await conversation.learner_says("Bonjour.")
    running_stub.stub.configure(StubConfig())
    await conversation.learner_says("Bonjour ?")
    conversation.session.save(tmp_path / "s.json")
    assert "sk-stub-secret" not in caplog.text
    assert "sk-stub-secret" not in (tmp_path / "s.json").read_text(encoding="utf-8")
