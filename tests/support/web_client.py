"""The app's HTTP side through its real ASGI app: three users with passwords, a data layer per database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import chainlit.data
import chainlit.server
import httpx
import pytest
from chainlit.config import config
from chainlit.context import ChainlitContext, context_var
from chainlit.session import HTTPSession
from chainlit.utils import wrap_user_function
from pydantic import SecretStr

from agent.config import Settings
from agent.domain.session import Session
from agent.storage.sessions import database_url
from agent.storage.users import (
    SECRET_ENV,
    Account,
    UserDirectory,
    hash_password,
    write_users_file,
)
from agent.web.datalayer import AllianceDataLayer
from agent.web.login_limit import LoginLimiter
from tests.support.storage import DATABASES, POSTGRES_URL, drop_tables


def make_session() -> Session:
    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    session.add_learner_turn("Bonjour.")
    return session


PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-22", "prof": "prof-pass-333", "dean": "dean-pass-4444"}


ROLES = {"alice": "learner", "bob": "learner", "prof": "faculty", "dean": "faculty"}


@pytest.fixture
def app_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """agent.web.app, imported (once per process) with a test secret and a throwaway data folder."""
    monkeypatch.setenv(SECRET_ENV, "test-secret-" + "s" * 48)
    monkeypatch.setenv("ALLIANCE_DATA_DIR", str(tmp_path / "import-data"))
    monkeypatch.setenv("ALLIANCE_LLM", "fake")
    import agent.web.app

    return agent.web.app


@pytest.fixture
def auth_module(app_module: ModuleType) -> ModuleType:
    """agent.web.auth, loaded with the app: the users directory and the login callbacks."""
    import agent.web.auth

    return agent.web.auth


@dataclass
class Web:
    app: ModuleType
    auth: ModuleType
    layer: AllianceDataLayer
    users_file: Path
    user_ids: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        """A browser: keeps its cookies. Closed by the fixture."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=chainlit.server.app), base_url="http://testserver")
        self.clients.append(client)
        return client

    async def login(self, name: str) -> httpx.AsyncClient:
        client = self.client()
        response = await client.post("/login", data={"username": name, "password": self.passwords[name]})
        assert response.status_code == 200, response.text
        assert client.cookies.get("access_token")
        persisted = await self.layer.get_user(name)
        assert persisted is not None
        self.user_ids[name] = persisted.id
        return client

    def rewrite_users(self, remove: tuple[str, ...] = (), passwords: dict[str, str] | None = None) -> None:
        """What `alliance users remove` or a password change does to the users file, seen at once by the app."""
        accounts = UserDirectory(self.auth.settings).load()
        for name in remove:
            del accounts[name]
        for name, password in (passwords or {}).items():
            accounts[name] = Account(name, accounts[name].role, hash_password(password))
            self.passwords[name] = password
        write_users_file(self.users_file, accounts)
        os.utime(self.users_file, ns=(1, 1))  # a different stamp even within the file system's time resolution

    async def thread_of(self, name: str, title: str) -> tuple[str, str]:
        """A thread with one patient message, as Chainlit writes them; returns (thread id, step id)."""
        thread_id, step_id = str(uuid.uuid4()), str(uuid.uuid4())
        await self.layer.update_thread(thread_id, name=title, user_id=self.user_ids[name], tags=["bertrand.fr"])
        context_var.set(ChainlitContext(HTTPSession(id=str(uuid.uuid4()), client_type="webapp")))
        step: Any = {"id": step_id, "threadId": thread_id, "name": "Mme Bertrand", "type": "assistant_message"}
        await self.layer.create_step({**step, "output": f"Réponse à {name}", "streaming": False, "metadata": {}})
        await self.layer.sessions.save(thread_id, name, make_session())
        return thread_id, step_id


@dataclass
class SocketProbe:
    """Stands in for Engine.IO's request handler (monkeypatch it on `chainlit.server.sio.eio`): records
    what reached the socket server and closes, so no socket server runs and nothing is left behind."""

    scopes: list[dict[str, Any]] = field(default_factory=list)

    async def handle_request(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "websocket.close", "code": 1000})

    def cookies_seen(self, index: int) -> str:
        return b"; ".join(v for k, v in self.scopes[index]["headers"] if k == b"cookie").decode("latin-1")


async def open_socket(headers: dict[str, str]) -> list[dict[str, Any]]:
    """A websocket handshake on the socket path through the whole app; returns what the app sent back."""
    sent: list[dict[str, Any]] = []
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/ws/socket.io/",
        "raw_path": b"/ws/socket.io/",
        "root_path": "",
        "query_string": b"EIO=4&transport=websocket",
        "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "state": {},
    }
    await asyncio.wait_for(chainlit.server.app(scope, receive, send), timeout=30)
    return sent


@pytest.fixture(params=DATABASES)
async def web(
    request: pytest.FixtureRequest,
    app_module: ModuleType,
    auth_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Web]:
    users_file = tmp_path / "users.toml"
    write_users_file(users_file, {n: Account(n, ROLES[n], hash_password(p)) for n, p in PASSWORDS.items()})  # type: ignore[arg-type]
    database = SecretStr(POSTGRES_URL) if request.param == "postgresql" else None
    settings = make_settings(data_dir=tmp_path / "data", users_file=users_file, database_url=database)
    if database is not None:
        await drop_tables(database_url(settings))
    directory = UserDirectory(settings)
    directory.load()
    monkeypatch.setattr(app_module, "settings", settings)
    monkeypatch.setattr(auth_module, "settings", settings)
    monkeypatch.setattr(auth_module, "users", directory)
    monkeypatch.setattr(auth_module, "login_limiter", LoginLimiter.from_settings(settings))  # no count across tests
    layer = AllianceDataLayer(database_url(settings), role_of=auth_module.role_of)
    monkeypatch.setattr(chainlit.data, "_data_layer", layer)
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", True)
    monkeypatch.setattr(config.code, "password_auth_callback", wrap_user_function(auth_module.password_login))
    monkeypatch.setattr(config.code, "header_auth_callback", None)
    web = Web(app_module, auth_module, layer, users_file)
    yield web
    for client in web.clients:
        await client.aclose()
    await layer.engine.dispose()
