"""The Chainlit handlers of agent/app.py, driven through a real Chainlit session and emitter.

Chainlit has no test harness. We build what its socket server builds for a browser tab: a
`WebsocketSession` whose `emit` is ours, and a `ChainlitContext` around it, so every payload
the real `ChainlitEmitter` would put on the socket lands in a list (and every file Chainlit
would serve, such as a custom element's props, lands in a temporary folder). Then we call the
handlers as Chainlit would: on_chat_start, on_settings_update, on_message, an action.

The patient is the scripted fake model (ALLIANCE_LLM=fake) with a responder whose hidden
state carries a unique marker: it must be stored with the turn and appear in no payload.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import chainlit as cl
import chainlit.config
import pytest
from chainlit.context import ChainlitContext, context_var
from chainlit.session import WebsocketSession
from chainlit.user_session import user_sessions
from langchain_core.messages import BaseMessage, SystemMessage
from openai_support import network_guard

from agent.config import Settings
from agent.conversation import Conversation, Evaluator
from agent.events import AllianceEvent
from agent.llm import ChatBackend
from agent.monitor import CoachingLevel
from agent.persona import load_persona
from agent.session import PublicTurn
from agent.taxonomy import EventKind, RuptureType, Speaker

__all__ = ["network_guard"]  # fixture, used by name

pytestmark = [
    pytest.mark.usefixtures("network_guard"),
    # Chainlit's WebsocketSession runs the async chat_profiles hook with run_until_complete, which
    # cannot work inside a running loop (the real socket server hits the same): it falls back to
    # the global config and leaves this warning.
    pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning"),
]

MARKER = "ZQX-hidden-7c41e9"
REPLY = "Bonjour. J'ai encore mal à la tête presque tous les jours, surtout devant un écran, et je dors mal."
PROFILE = "bertrand.fr"
LEARNER = "Bonjour Madame Bertrand, comment allez-vous depuis votre chute ?"


def marker_responder(messages: Sequence[BaseMessage]) -> str:
    """A well-formed patient turn whose every free-text hidden field carries the marker."""
    assert isinstance(messages[0], SystemMessage)
    hidden = {
        "inner_monologue": f"Je pense en secret {MARKER} : surtout ne pas le dire au médecin.",
        "emotions": ["anxiety", "shame"],
        "alliance": {"goals": 3, "tasks": 3, "bond": 4},
        "intended_move": "withdrawal",
        "move_subtype": f"subtype-{MARKER}",
    }
    return json.dumps({"hidden": hidden, "reply": REPLY}, ensure_ascii=False)


def broken_responder(messages: Sequence[BaseMessage]) -> str:
    """Output cut short after the hidden state: never parses, never has a reply."""
    return '{"hidden": {"inner_monologue": "' + MARKER + ' je ne dirai rien", "emotions": ["anxi'


@dataclass
class FakeSocket:
    """Stands in for the socket.io connection: keeps every event the server emits."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    async def emit(self, event: str, data: Any) -> None:
        self.events.append((event, copy.deepcopy(data)))

    async def emit_call(self, event: str, data: Any, timeout: int | None = None) -> None:
        self.events.append((event, copy.deepcopy(data)))

    def of(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    def dump(self) -> str:
        return json.dumps(self.events, ensure_ascii=False, default=str)


@dataclass
class Harness:
    app: ModuleType
    socket: FakeSocket
    files_dir: Path
    backends: list[ChatBackend]

    def served_files(self) -> str:
        return "".join(
            p.read_text(encoding="utf-8", errors="replace") for p in self.files_dir.rglob("*") if p.is_file()
        )

    def everything_sent(self) -> str:
        return self.socket.dump() + self.served_files()

    def monitors(self) -> list[dict[str, Any]]:
        """Props of each AllianceMonitor put in the sidebar, in order."""
        found = []
        for payload in self.socket.of("set_sidebar_elements"):
            for element in payload["elements"]:
                if element["name"] == "AllianceMonitor":
                    found.append(element)
        return found


class FixedEvaluator(Evaluator):
    """Flags every clinician turn as a confrontation, quoting its first word: a visible event."""

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        last = transcript[-1]
        if last.speaker is not Speaker.clinician:
            return []
        return [
            AllianceEvent(
                turn=last.id,
                speaker=last.speaker,
                kind=EventKind.rupture_marker,
                rupture=RuptureType.confrontation,
                evidence=last.text.split()[0],
                confidence=0.9,
                rationale="test",
                source="test",
            )
        ]


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harness]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "DATABASE_URL", "LITERAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALLIANCE_LLM", "fake")
    import agent.app as app
    import agent.llm

    monkeypatch.setattr(app, "settings", Settings(_env_file=None))  # type: ignore[call-arg]
    monkeypatch.setattr(app, "_backend", None)
    backends: list[ChatBackend] = []
    real_build = agent.llm.build_backend

    def build(settings: Settings, spec: str | None = None) -> ChatBackend:
        backend = real_build(settings, spec)  # ALLIANCE_LLM=fake: the scripted model
        backend.model.responder = marker_responder  # type: ignore[attr-defined]
        backends.append(backend)
        return backend

    monkeypatch.setattr(app, "build_backend", build)
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    monkeypatch.setattr(chainlit.config, "FILES_DIRECTORY", files_dir)
    yield Harness(app, FakeSocket(), files_dir, backends)


@contextlib.asynccontextmanager
async def browser_tab(socket: FakeSocket, profile: str = PROFILE, language: str = "fr-CA") -> AsyncIterator[Any]:
    """What Chainlit's socket server sets up for a connected tab, minus the socket."""
    session = WebsocketSession(
        id=str(uuid.uuid4()),
        socket_id=str(uuid.uuid4()),
        emit=socket.emit,  # type: ignore[arg-type]
        emit_call=socket.emit_call,
        user_env={},
        client_type="webapp",
        environ={"HTTP_ACCEPT_LANGUAGE": language},
        chat_profile=profile,
    )
    token = context_var.set(ChainlitContext(session))
    try:
        yield session
    finally:
        context_var.reset(token)
        user_sessions.pop(session.id, None)
        await session.delete()


async def _drain() -> Conversation:
    conversation: Conversation = cl.user_session.get("conversation")
    await conversation.drain(timeout=30)
    return conversation


def _streamed_text(socket: FakeSocket, message_id: str) -> str:
    """The text a browser assembled from stream_start and the stream_token events of one message."""
    start = [s for s in socket.of("stream_start") if s["id"] == message_id]
    tokens = [t["token"] for t in socket.of("stream_token") if t["id"] == message_id]
    return (start[0]["output"] if start else "") + "".join(tokens)


@pytest.mark.parametrize("level", [CoachingLevel.learner, CoachingLevel.coach])
async def test_reply_streams_monitor_is_set_and_hidden_state_is_never_emitted(
    harness: Harness, level: CoachingLevel
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        if level is not CoachingLevel.learner:
            await app.settings_update({"level": level.value})
        before = len(socket.events)
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        conversation = await _drain()
        if level is CoachingLevel.coach:
            await app.on_hint(cl.Action(name="hint", payload={}))

    # Chat start: the backend came from the factory (ALLIANCE_LLM=fake), the brief was shown.
    assert [b.label for b in harness.backends] == ["fake"]
    persona = load_persona(app.settings.personas_dir / f"{PROFILE}.yaml")
    briefs = [m for m in socket.of("new_message") if m["output"].startswith("### Mise en situation")]
    assert len(briefs) == 1 and persona.display_name in briefs[0]["output"]
    assert socket.of("chat_settings"), "the coaching level selector was not sent"

    # The patient's reply: streamed token by token, then sent as one message with the same text.
    turn = conversation.session.turns[-1]
    assert turn.speaker is Speaker.patient and turn.text == REPLY
    starts = [e for e, _ in socket.events[before:] if e == "stream_start"]
    assert len(starts) == 1
    reply_id = socket.of("stream_start")[-1]["id"]
    assert len([t for t in socket.of("stream_token") if t["id"] == reply_id]) >= 2
    assert _streamed_text(socket, reply_id) == REPLY
    finals = [m for m in socket.of("new_message") if m["id"] == reply_id]
    assert len(finals) == 1
    assert finals[0]["output"] == REPLY and finals[0]["name"] == persona.display_name
    if level is CoachingLevel.coach:
        assert [a["name"] for a in socket.of("action") if a["forId"] == reply_id] == ["hint"]
        assert any(m["name"] == "Coach" for m in socket.of("new_message"))

    # The monitor: a side custom element, refreshed after the turn, built from the transcript.
    monitors = harness.monitors()
    assert monitors, "the monitor was never put in the sidebar"
    last = monitors[-1]
    assert last["type"] == "custom" and last["display"] == "side"
    assert last["props"]["level"] == level.value
    assert [p["turn"] for p in last["props"]["trend"]] == [0, 1]
    assert socket.of("set_sidebar_title")[-1] == last["props"]["ui"]["title"]

    # The hidden state was really produced and stored: the check below is not vacuous.
    assert turn.hidden is not None and MARKER in turn.hidden.inner_monologue
    assert MARKER in (turn.hidden.move_subtype or "")
    # ...and it reaches the browser through no payload and no served file.
    sent = harness.everything_sent()
    assert REPLY in sent  # the serialisation does cover the conversation
    assert MARKER not in sent
    assert turn.hidden.inner_monologue not in sent
    assert persona.inner_monologue[:60] not in sent  # the persona's secret pre-visit thoughts


async def test_exam_level_sends_a_monitor_with_no_turns(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    app, socket = harness.app, harness.socket
    monkeypatch.setattr(app, "build_evaluator", lambda kind, settings: FixedEvaluator())
    async with browser_tab(socket):
        await app.start()
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        await _drain()
        learner_view = harness.monitors()[-1]["props"]
        await app.settings_update({"level": CoachingLevel.exam.value})
        after_switch = harness.monitors()[-1]["props"]
        await app.on_message(cl.Message(content="Trois mois, c'est non.", author="User", type="user_message"))
        conversation = await _drain()

    # At learner level the same events do show (the exam view hides something real).
    assert learner_view["level"] == "learner"
    assert [t["id"] for t in learner_view["turns"]] == [0]
    assert learner_view["turns"][0]["flags"][0]["label"] == "confrontation"
    # At exam level: no turns, no trend, even though events are still recorded for the debrief.
    assert len(conversation.session.events) == 2
    exam_monitors = [m["props"] for m in harness.monitors() if m["props"]["level"] == "exam"]
    assert exam_monitors and exam_monitors[0] == after_switch
    for props in exam_monitors:
        assert props["turns"] == [] and props["trend"] == []
    assert harness.monitors()[-1]["props"]["level"] == "exam"
    assert "Trois mois, c'est non." not in json.dumps(exam_monitors, ensure_ascii=False)


async def test_a_turn_the_model_cannot_form_emits_an_error_message_and_still_no_hidden_state(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        harness.backends[0].model.responder = broken_responder  # type: ignore[attr-defined]
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        conversation = await _drain()

    assert [t.speaker for t in conversation.session.turns] == [Speaker.clinician]  # the learner's words kept
    errors = [m for m in socket.of("new_message") if m["name"] == "Alliance" and "n'a pas pu répondre" in m["output"]]
    assert len(errors) == 1
    assert not socket.of("stream_token")
    assert harness.backends[0].model.calls  # type: ignore[attr-defined]
    assert MARKER not in harness.everything_sent()
