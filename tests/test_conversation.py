"""The conversation loop: learner turn stored first, patient and evaluator concurrent, failures contained."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import BaseMessage, SystemMessage
from tenacity import wait_none

from agent.config import REPO_ROOT, Settings
from agent.conversation import Conversation
from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn, Session
from agent.domain.taxonomy import RuptureType, Speaker
from agent.evaluator.base import Evaluator
from agent.llm import backends as llm
from agent.llm.backends import ChatBackend
from agent.persona.loader import load_persona
from agent.persona.model import Persona
from tests.support.evaluators import flag_last_turn
from tests.support.network import NetworkGuard
from tests.support.visits import french_session

MARKER = "ZQX-monologue-5b7e"
REPLY = "Bonjour docteur. J'ai encore mal à la tête, surtout le soir."
SLOW_S = 2.0

Backend = Callable[..., ChatBackend]
TurnJson = Callable[..., str]


@pytest.fixture(scope="module")
def persona() -> Persona:
    return load_persona(REPO_ROOT / "personas" / "bertrand.fr.yaml")


class RecordingEvaluator(Evaluator):
    """Records every transcript it is given and flags each patient turn as a withdrawal."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.transcripts: list[list[PublicTurn]] = []
        self.finished = 0

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        self.transcripts.append(list(transcript))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.finished += 1
        last = transcript[-1]
        return flag_last_turn(transcript, Speaker.patient, RuptureType.withdrawal, last.text.split(".")[0], 0.8)


class FailingEvaluator(Evaluator):
    def __init__(self) -> None:
        self.calls = 0

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        self.calls += 1
        raise RuntimeError("evaluator exploded")


class EventsRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, list[AllianceEvent] | None]] = []

    async def __call__(self, turn: int, events: list[AllianceEvent] | None) -> None:
        self.calls.append((turn, events))


def conversation(
    persona: Persona, backend: ChatBackend, settings: Settings, evaluator: Evaluator | None
) -> Conversation:
    return Conversation("bertrand.fr", persona, backend, settings, evaluator)


# --------------------------------------------------------------------------- concurrency


async def test_a_slow_evaluator_does_not_delay_the_patients_reply(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    evaluator = RecordingEvaluator(delay_s=SLOW_S)
    chat = conversation(persona, scripted_backend(lambda _: turn_json(REPLY)), settings, evaluator)
    events = EventsRecorder()
    outcome = await chat.learner_says("Bonjour madame.", on_events=events)
    assert outcome.patient_turn is not None and outcome.patient_turn.text == REPLY
    assert evaluator.finished == 0, "learner_says waited for the evaluator"
    assert events.calls == []
    # The evaluations still complete in the background, and their events reach the monitor and the session.
    await chat.drain(timeout=SLOW_S * 5)
    assert evaluator.finished == 2
    assert sorted(turn for turn, _ in events.calls) == [0, 1]
    assert [e.turn for e in chat.session.events] == [1]


async def test_evaluator_starts_on_the_learner_turn_before_the_patient_answers(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    evaluator = RecordingEvaluator()
    chat = conversation(persona, scripted_backend(lambda _: turn_json(REPLY)), settings, evaluator)
    await chat.learner_says("Bonjour madame.")
    await chat.drain(timeout=10)
    assert [[t.id for t in tr] for tr in evaluator.transcripts] == [[0], [0, 1]]


async def test_a_failing_evaluator_reports_unavailable_and_the_chat_goes_on(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    evaluator = FailingEvaluator()
    chat = conversation(persona, scripted_backend(lambda _: turn_json(REPLY)), settings, evaluator)
    events = EventsRecorder()
    first = await chat.learner_says("Bonjour madame.", on_events=events)
    second = await chat.learner_says("Comment dormez-vous ?", on_events=events)
    await chat.drain(timeout=10)
    assert first.patient_turn is not None and second.patient_turn is not None
    assert first.error is None and second.error is None
    assert sorted(events.calls, key=lambda c: c[0]) == [(0, None), (1, None), (2, None), (3, None)]
    assert evaluator.calls == 4
    assert chat.session.events == [] and chat.session.failures == []
    assert [t.id for t in chat.session.turns] == [0, 1, 2, 3]


# --------------------------------------------------------------------------- patient failures


async def test_a_patient_failure_keeps_the_learner_turn_and_records_the_failure(
    persona: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    def broken(_: Sequence[BaseMessage]) -> str:
        raise RuntimeError("model crashed")

    chat = conversation(persona, scripted_backend(broken), settings, None)
    outcome = await chat.learner_says("Bonjour madame.")
    assert outcome.patient_turn is None
    assert outcome.error == "Le modèle a échoué sur ce tour."
    assert "model crashed" not in outcome.error  # internal details are not shown to the learner
    assert [(t.speaker, t.text) for t in chat.session.turns] == [(Speaker.clinician, "Bonjour madame.")]
    assert chat.session.failures == ["turn 0: RuntimeError"]


async def test_a_connection_error_is_described_for_the_learner(
    persona: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    def unreachable(_: Sequence[BaseMessage]) -> str:
        raise openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))

    chat = conversation(persona, scripted_backend(unreachable), settings, None)
    outcome = await chat.learner_says("Bonjour madame.")
    assert outcome.error == "Impossible de joindre le modèle."
    assert chat.session.failures == ["turn 0: APIConnectionError"]
    assert len(chat.session.turns) == 1


async def test_after_a_failure_the_learner_can_simply_send_again(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    calls = {"n": 0}

    def flaky(_: Sequence[BaseMessage]) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("first call fails")
        return turn_json(REPLY)

    chat = conversation(persona, scripted_backend(flaky), settings, None)
    assert (await chat.learner_says("Bonjour madame.")).patient_turn is None
    outcome = await chat.learner_says("Bonjour madame, vous m'entendez ?")
    assert outcome.patient_turn is not None and outcome.patient_turn.id == 2
    assert [t.speaker for t in chat.session.turns] == [Speaker.clinician, Speaker.clinician, Speaker.patient]


async def test_transient_errors_are_retried_and_others_are_not(
    persona: Persona,
    make_settings: Callable[..., Settings],
    scripted_backend: Backend,
    turn_json: TurnJson,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(llm, "wait_exponential_jitter", lambda **_: wait_none())  # no backoff sleeps
    settings = make_settings(max_retries=2)
    attempts = {"transient": 0, "fatal": 0}

    def transient(_: Sequence[BaseMessage]) -> str:
        attempts["transient"] += 1
        if attempts["transient"] < 3:
            raise openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1"))
        return turn_json(REPLY)

    def fatal(_: Sequence[BaseMessage]) -> str:
        attempts["fatal"] += 1
        raise ValueError("not retryable")

    ok = await conversation(persona, scripted_backend(transient), settings, None).learner_says("Bonjour.")
    assert ok.patient_turn is not None and attempts["transient"] == 3
    failed = await conversation(persona, scripted_backend(fatal), settings, None).learner_says("Bonjour.")
    assert failed.patient_turn is None and attempts["fatal"] == 1


# --------------------------------------------------------------------------- the evaluator's view


async def test_the_evaluator_only_ever_sees_public_turns(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    monologue = f"{MARKER} j'ai peur qu'il me trouve paresseuse"
    responder = lambda _: turn_json(REPLY, monologue, emotions=["shame"], move="withdrawal", subtype="minimal_response")  # noqa: E731
    evaluator = RecordingEvaluator()
    chat = conversation(persona, scripted_backend(responder), settings, evaluator)
    for line in ("Bonjour madame.", "Vous semblez inquiète.", "Parlez-moi de votre travail."):
        await chat.learner_says(line)
    await chat.drain(timeout=10)
    assert len(evaluator.transcripts) == 6
    for transcript in evaluator.transcripts:
        assert all(type(turn) is PublicTurn for turn in transcript)
        dumped = json.dumps([t.model_dump(mode="json") for t in transcript], ensure_ascii=False)
        assert MARKER not in dumped and "shame" not in dumped and "minimal_response" not in dumped
        assert MARKER not in repr(transcript)
    # ... while the full session keeps the hidden states for the debrief.
    assert all(MARKER in t.hidden.inner_monologue for t in chat.session.turns if t.hidden is not None)
    assert MARKER in chat.session.to_json()


async def test_session_round_trips_through_json(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    chat = conversation(persona, scripted_backend(lambda _: turn_json(REPLY, MARKER)), settings, RecordingEvaluator())
    await chat.learner_says("Bonjour madame.")
    await chat.drain(timeout=10)
    restored = Session.from_json(chat.session.to_json())
    assert restored == chat.session
    assert restored.last_hidden() is not None and restored.last_hidden().inner_monologue == MARKER  # type: ignore[union-attr]


# --------------------------------------------------------------------------- branching


async def test_conversation_branch_at_continues_on_a_new_session(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: Callable[..., str]
) -> None:
    seen: list[Sequence[BaseMessage]] = []

    def respond(messages: Sequence[BaseMessage]) -> str:
        seen.append(messages)
        return turn_json("Oui, un peu.", "Elle m'écoute enfin.", alliance=(4, 4, 5), move="repair")

    original = Conversation("bertrand.fr", persona, scripted_backend(respond), settings, evaluator=None)
    original.session = french_session()
    branch = original.branch_at(4)
    assert branch.session is not original.session and branch.persona is original.persona
    assert branch.patient.backend is original.patient.backend and branch.evaluator is original.evaluator
    outcome = await branch.learner_says("Je vois que ça vous a touchée. On peut en parler ?")
    assert outcome.patient_turn is not None and outcome.patient_turn.id == 5
    system = seen[0][0]
    assert isinstance(system, SystemMessage) and "lien 2/7" in str(system.content)
    history = " ".join(str(m.content) for m in seen[0][1:])
    assert "formulaire pour l'assurance" not in history and "On peut en parler ?" in history
    assert len(original.session.turns) == 12
    with pytest.raises(ValueError):
        original.branch_at(5)


# --------------------------------------------------------------------------- the test harness itself


@pytest.mark.parametrize(
    "address",
    [("93.184.215.14", 443), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", 443, 0, 0), ("example.com", 80)],
)
def test_the_network_guard_blocks_remote_addresses(address: tuple[Any, ...], network_guard: NetworkGuard) -> None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(RuntimeError, match="only loopback"):
        sock.connect(address)
    with pytest.raises(RuntimeError, match="only loopback"):
        socket.create_connection(address[:2], timeout=0.1)
    assert len(network_guard.attempts) == 2  # both tries seen
    network_guard.attempts.clear()  # provoked on purpose: not a failure of this test


def test_the_network_guard_lets_loopback_through() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            assert client.getpeername()[1] == port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            assert client.connect_ex(("localhost", port)) == 0


async def test_a_turn_sent_during_the_prefill_waits_for_it_instead_of_processing_the_prompt_twice(
    persona: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    order: list[str] = []
    backend = scripted_backend(lambda _: (order.append("reply"), turn_json(REPLY))[1])
    chat = conversation(persona, backend, settings, None)
    gate = asyncio.Event()

    async def slow_prefill(session: Session) -> None:
        await gate.wait()
        order.append("prefill")

    chat.patient.prefill = slow_prefill  # type: ignore[method-assign]
    chat.start_prefill()
    turn = asyncio.create_task(chat.learner_says("Bonjour madame."))
    done, _ = await asyncio.wait({turn}, timeout=0.5)  # the turn must not finish while the prefill runs
    assert not done and order == []
    gate.set()
    outcome = await asyncio.wait_for(turn, timeout=20)
    assert outcome.patient_turn is not None and order == ["prefill", "reply"]
