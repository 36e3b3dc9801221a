"""A Chainlit tab without a browser: a real WebsocketSession whose emitter records every payload (Chainlit has no test harness)."""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import chainlit as cl
import chainlit.config
import chainlit.data
import pytest
from chainlit.context import ChainlitContext, context_var
from chainlit.session import WebsocketSession
from chainlit.user import PersistedUser
from chainlit.user_session import user_sessions
from langchain_core.messages import BaseMessage, SystemMessage

from agent.config import Settings
from agent.conversation import Conversation
from agent.llm.backends import ChatBackend
from agent.web.datalayer import AllianceDataLayer

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
    db_path: Path

    @property
    def opening(self) -> ModuleType:
        """agent.web.opening: the chat start and resume the handlers call (and what they build with)."""
        import agent.web.opening

        return agent.web.opening

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


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Harness]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "DATABASE_URL", "LITERAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALLIANCE_LLM", "fake")
    # Sessions are kept in a SQLite file of this test; the login secret is given (none is written).
    monkeypatch.setenv("ALLIANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-" + "h" * 48)
    import agent.llm.backends
    import agent.web.app as app
    import agent.web.opening as opening

    fresh = Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setattr(app, "settings", fresh)
    monkeypatch.setattr(opening, "settings", fresh)  # one object, as in the app
    monkeypatch.setattr(opening, "_backend", None)
    # Chainlit builds its data layer once per process: a fresh one (on this test's file) per test.
    monkeypatch.setattr(chainlit.data, "_data_layer", None)
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", False)
    backends: list[ChatBackend] = []
    real_build = agent.llm.backends.build_backend

    def build(settings: Settings, spec: str | None = None) -> ChatBackend:
        backend = real_build(settings, spec)  # ALLIANCE_LLM=fake: the scripted model
        backend.model.responder = marker_responder  # type: ignore[attr-defined]
        backends.append(backend)
        return backend

    monkeypatch.setattr(opening, "build_backend", build)
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    monkeypatch.setattr(chainlit.config, "FILES_DIRECTORY", files_dir)
    yield Harness(app, FakeSocket(), files_dir, backends, tmp_path / "data" / "alliance.db")
    await close_data_layer()


async def close_data_layer() -> None:
    layer = chainlit.data._data_layer
    if isinstance(layer, AllianceDataLayer):
        await layer.engine.dispose()


@contextlib.asynccontextmanager
async def browser_tab(
    socket: FakeSocket,
    profile: str = PROFILE,
    language: str = "fr-CA",
    user: PersistedUser | None = None,
    thread_id: str | None = None,
) -> AsyncIterator[Any]:
    """What Chainlit's socket server sets up for a connected tab, minus the socket.

    With a thread id, the tab asks to resume that thread (as a browser does from the history).
    """
    session = WebsocketSession(
        id=str(uuid.uuid4()),
        socket_id=str(uuid.uuid4()),
        emit=socket.emit,  # type: ignore[arg-type]
        emit_call=socket.emit_call,
        user_env={},
        client_type="webapp",
        environ={"HTTP_ACCEPT_LANGUAGE": language},
        chat_profile=profile,
        user=user,
        thread_id=thread_id,
    )
    token = context_var.set(ChainlitContext(session))
    try:
        yield session
    finally:
        context_var.reset(token)
        user_sessions.pop(session.id, None)
        await session.delete()


async def drain(timeout_s: float = 120.0) -> Conversation:
    """Wait until the monitor has answered for every turn: on an event, bounded, never on a guess."""
    conversation: Conversation = cl.user_session.get("live").conversation
    await conversation.drain(timeout=timeout_s)
    pending = conversation.pending_evaluations()
    assert not pending, f"the monitor still had {pending} evaluation(s) running after {timeout_s} s"
    return conversation


async def data_layer() -> AllianceDataLayer:
    layer = chainlit.data.get_data_layer()
    assert isinstance(layer, AllianceDataLayer)
    return layer
