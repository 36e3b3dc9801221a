"""Real app processes for the tests that kill them: `chainlit run` on the fake model (or an endpoint), a tab on
the socket.io protocol of DESIGN.md §3, and the kept sessions read straight from the SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import socketio

from agent.config import REPO_ROOT
from agent.domain.session import Session
from agent.storage.sessions import SESSIONS_TABLE
from agent.storage.users import Account, hash_password, write_users_file
from tests.support.storage import sqlite_tables

CHAINLIT = Path(sys.executable).with_name("chainlit")  # the one installed beside this Python
FAKE_MONOLOGUE = "J'espère qu'il va m'écouter."  # the hidden state of agent.llm.fake's default patient


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveApp:
    """`chainlit run agent/web/app.py` in a subprocess, on the fake model, kept in tmp_path."""

    def __init__(self, tmp_path: Path, name: str = "server", llm: dict[str, str] | None = None):
        """Processes of one tmp_path share its data directory (the SQLite file, the login secret) and users file;
        each `name` has its own log and working directory. `llm`: the environment of an endpoint (default: the
        fake model)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp_path / "data"
        self.log = tmp_path / f"{name}.log"
        # Its own working directory: the project's Chainlit config, but no developer `.env`, and
        # Chainlit's session files (left behind by a kill) stay out of the repository.
        self.cwd = tmp_path / f"cwd-{name}"
        shutil.copytree(REPO_ROOT / ".chainlit", self.cwd / ".chainlit")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ALLIANCE_", "CHAINLIT_"))}
        self.env |= {
            "ALLIANCE_DATA_DIR": str(self.data_dir),
            "ALLIANCE_USERS_FILE": str(tmp_path / "users.toml"),
            "DATABASE_URL": "",
            "ALLIANCE_USERS": "",
        }
        self.env |= llm if llm is not None else {"ALLIANCE_LLM": "fake"}
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        command = [str(CHAINLIT), "run", str(REPO_ROOT / "agent" / "web" / "app.py"), "--headless"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.url) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log.read_text()
                try:
                    if (await client.get("/auth/config")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        raise AssertionError(f"the app did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed: a crash, not a stop."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    async def login(self, name: str, password: str) -> str:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post("/login", data={"username": name, "password": password})
            assert response.status_code == 200, response.text
            return str(response.cookies["access_token"])


class Tab:
    """A browser tab on the socket.io protocol of DESIGN.md §3."""

    def __init__(self, page_id: str | None = None) -> None:
        """`page_id`: Chainlit's session id, which a page sends again on every reconnect (a new one by default)."""
        self.page_id = page_id or str(uuid.uuid4())
        self.client = socketio.AsyncClient()
        self.events: list[tuple[str, Any]] = []
        self.task_ends = 0
        self.client.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        if event == "task_end":
            self.task_ends += 1

    async def open(self, app: LiveApp, token: str, thread_id: str = "", settle: bool = True) -> None:
        """Connect as the page does; with `settle`, wait for the chat start (or resume) to end."""
        auth = {"clientType": "webapp", "sessionId": self.page_id, "threadId": thread_id, "userEnv": "{}"}
        auth["chatProfile"] = "bertrand.fr"
        await self.client.connect(
            app.url,
            socketio_path="/ws/socket.io",
            headers={"Cookie": f"access_token={token}"},
            auth=auth,
            transports=["websocket"],
        )
        await self.client.emit("connection_successful")
        if settle:
            await self.wait_for(lambda: self.task_ends >= 2 or any(e == "resume_thread" for e, _ in self.events))

    async def send(self, text: str) -> str:
        """The learner's message, without waiting for anything: its id."""
        message = {"id": str(uuid.uuid4()), "type": "user_message", "output": text, "createdAt": "", "threadId": ""}
        await self.client.emit("client_message", {"message": message, "fileReferences": []})
        return str(message["id"])

    async def say(self, text: str) -> None:
        """The learner's message, and wait for the turn's end."""
        ends = self.task_ends
        await self.send(text)
        await self.wait_for(lambda: self.task_ends > ends)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; events: {[e for e, _ in self.events]}"
            await asyncio.sleep(0.05)

    def sent(self) -> str:
        return json.dumps(self.events, ensure_ascii=False, default=str)


def kept_session(db: Path) -> tuple[str, Session]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(f"SELECT thread_id, session_json FROM {SESSIONS_TABLE}").fetchone()
    assert row is not None
    return row[0], Session.from_json(row[1])


async def wait_for_turns(db: Path, count: int) -> Session:
    deadline = time.monotonic() + 20
    while True:
        if db.exists() and sqlite_tables(db) >= {SESSIONS_TABLE}:
            with contextlib.suppress(AssertionError):
                _, session = kept_session(db)
                if len(session.turns) >= count:
                    return session
        assert time.monotonic() < deadline, f"the store never reached {count} turns"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def learner_tab(tmp_path: Path, llm: dict[str, str] | None = None) -> AsyncIterator[tuple[LiveApp, str, Tab]]:
    """One app process (`llm` as in LiveApp) with the learner alice logged in and her tab open: the process, her
    login token and the tab. The process is killed at the end."""
    write_users_file(tmp_path / "users.toml", {"alice": Account("alice", "learner", hash_password("alice-pass-1"))})
    app = LiveApp(tmp_path, llm=llm)
    try:
        await app.start()
        token = await app.login("alice", "alice-pass-1")
        tab = Tab()
        await tab.open(app, token)
        yield app, token, tab
    finally:
        app.kill()
