"""Drive a running Chainlit app over its socket.io protocol, as browsers do: timings and load.

Used by `make bench` (agent/devtools/bench.py) against our app and against the bare echo app in the
same run. The protocol (DESIGN §3): log in over HTTP (a session cookie), connect to
`/ws/socket.io` with `{clientType, sessionId, threadId, userEnv, chatProfile}`, emit
`connection_successful`, then `client_message`; the server answers `task_start`,
`stream_start`, `stream_token`s, `new_message`/`update_message`, `task_end`, and our app
also `set_sidebar_elements` (the monitor).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import socketio  # type: ignore[import-untyped]

from agent.config import REPO_ROOT
from agent.eval.harness import percentile


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Served:
    """A process serving HTTP on loopback (the app, the echo app, the stub LLM)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    handle: IO[bytes] | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.handle is not None:
            self.handle.close()


def serve(
    argv: list[str], port: int, env: dict[str, str], log: Path, ready_path: str = "/", timeout_s: float = 120
) -> Served:
    """Start a server and wait until it answers on `ready_path`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            handle.close()
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + ready_path, timeout=2).status_code < 500:
                return Served(process, url, log, handle)
        time.sleep(0.3)
    process.kill()
    process.wait()
    handle.close()
    raise RuntimeError(f"{' '.join(argv)} did not answer in {timeout_s} s; see {log}")


def serve_chainlit(app: str, env: dict[str, str], log: Path, profile: Path | None = None) -> Served:
    """With `profile`, the app runs under cProfile (`agent.devtools.profiled`), which writes there when it stops."""
    port = free_port()
    launch = ["-m"] if profile is None else ["-m", "agent.devtools.profiled", str(profile)]
    argv = [sys.executable, *launch, "chainlit", "run", app, "--headless", "--host", "127.0.0.1", "--port", str(port)]
    return serve(argv, port, env, log)


def serve_stub(log: Path, *extra: str) -> Served:
    port = free_port()
    return serve(
        [sys.executable, "-m", "agent.devtools.stub_llm", "--port", str(port), *extra], port, {}, log, "/v1/models"
    )


def stub_env(stub: Served, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment that points our app at the stub LLM, exactly as at a real endpoint."""
    return {
        "OPENAI_BASE_URL": f"{stub.url}/v1",
        "OPENAI_API_KEY": extra.pop("OPENAI_API_KEY", "sk-stub"),
        "ALLIANCE_MODEL": "stub",
        "ALLIANCE_DATA_DIR": str(data_dir),
        **extra,
    }


@contextlib.contextmanager
def running(server: Served) -> Iterator[Served]:
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- one visitor


@dataclass
class TurnTiming:
    sent: float
    first_token: float | None = None
    reply_done: float | None = None  # the patient's message is complete
    flags: float | None = None  # the monitor first showed flags on this learner turn
    done: float | None = None  # task_end
    notices: int = 0  # messages from the app itself (author "Alliance"), e.g. "the patient could not answer"
    error: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.done is None else self.done - self.sent


@dataclass
class Visitor:
    """One browser tab: a logged-in socket.io session on one chat profile."""

    url: str
    profile: str | None = None
    username: str | None = None
    password: str | None = None
    events: list[tuple[float, str, Any]] = field(default_factory=list)
    client: Any = None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cookie: str = ""
    _task_end: asyncio.Event = field(default_factory=asyncio.Event)

    async def _cookie(self) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            if self.username:
                response = await http.post("/login", data={"username": self.username, "password": self.password or ""})
            else:
                response = await http.post("/auth/header")
            if response.status_code >= 400:
                return ""  # an app without authentication
            return "; ".join(f"{k}={v}" for k, v in http.cookies.items())

    async def connect(self) -> None:
        cookie = self.cookie = await self._cookie()
        self.client = socketio.AsyncClient(reconnection=False)

        async def record(event: str, *args: Any) -> None:
            self.events.append((time.perf_counter(), event, args[0] if args else None))
            if event == "task_end":
                self._task_end.set()

        self.client.on("*", record)
        auth = {
            "clientType": "webapp",
            "sessionId": self.session_id,
            "threadId": "",
            "userEnv": "{}",
            "chatProfile": self.profile,
        }
        headers = {"Cookie": cookie} if cookie else {}
        await self.client.connect(
            self.url,
            headers=headers,
            auth=auth,
            socketio_path="/ws/socket.io",
            transports=["websocket"],
            wait_timeout=30,
        )
        await self.client.emit("connection_successful")

    def _started(self) -> bool:
        """Whether the chat start has run to its end: Chainlit closes the `on_chat_start` step it opened. An app
        whose start opens no step (the echo baseline) counts as started once anything has arrived."""
        opened = closed = False
        for _, name, data in self.events:
            if isinstance(data, dict) and data.get("name") == "on_chat_start":
                opened = opened or name == "new_message"
                closed = closed or name == "update_message"
        return closed or (not opened and bool(self.events))

    async def wait_quiet(self, timeout_s: float = 60) -> None:
        """Wait for the chat start (brief, monitor) to finish: its step closed, then no event for a short while.

        Quiet alone was not enough: a start that paused (a model loading) looked finished, the first message
        went out, and the start's own `task_end` was taken for the end of the turn."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            last = self.events[-1][0] if self.events else 0.0
            if self._started() and time.perf_counter() - last > 0.3:
                return
            await asyncio.sleep(0.05)

    async def say(self, text: str, timeout_s: float = 120) -> TurnTiming:
        self._task_end.clear()
        mark = len(self.events)
        message = {
            "id": str(uuid.uuid4()),
            "type": "user_message",
            "output": text,
            "createdAt": datetime.now(UTC).isoformat(),
            "threadId": "",
        }
        timing = TurnTiming(sent=time.perf_counter())
        await self.client.emit("client_message", {"message": message, "fileReferences": []})
        try:
            await asyncio.wait_for(self._task_end.wait(), timeout_s)
        except TimeoutError:
            timing.error = "timeout"
        self._read(timing, self.events[mark:], text)
        return timing

    def _read(self, timing: TurnTiming, events: list[tuple[float, str, Any]], text: str) -> None:
        for at, name, data in events:
            if name == "stream_token" and timing.first_token is None:
                timing.first_token = at
            elif name in ("new_message", "update_message") and isinstance(data, dict):
                if name == "new_message" and data.get("name") == "Alliance":
                    timing.notices += 1
                elif data.get("type") == "assistant_message" and data.get("output") and data.get("name") != "Alliance":
                    timing.reply_done = at
            elif name == "set_sidebar_elements" and timing.flags is None and _flags_on(data, text):
                timing.flags = at
            elif name == "task_end" and timing.done is None:
                timing.done = at

    async def late_flags(self, timing: TurnTiming, text: str, wait_s: float) -> None:
        """Flags may arrive after task_end (the monitor never delays the reply): look a little longer."""
        if timing.flags is None:
            await asyncio.sleep(wait_s)
            self._read(timing, [e for e in self.events if e[0] > timing.sent], text)

    async def act(self, name: str) -> dict[str, Any]:
        """Click the latest action button called `name`, as the page does (POST /project/action)."""
        shown = [data for _, event, data in self.events if event == "action" and data.get("name") == name]
        if not shown:
            raise LookupError(f"no {name!r} action was shown")
        headers = {"Cookie": self.cookie} if self.cookie else {}
        async with httpx.AsyncClient(base_url=self.url, timeout=60, headers=headers) as http:
            response = await http.post("/project/action", json={"sessionId": self.session_id, "action": shown[-1]})
            response.raise_for_status()
            return dict(response.json())

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.disconnect()


def _flags_on(data: Any, text: str) -> bool:
    elements = data.get("elements") if isinstance(data, dict) else data
    for element in elements or []:
        props = element.get("props") if isinstance(element, dict) else None
        for turn in (props or {}).get("turns", []):
            if turn.get("speaker") == "clinician" and turn.get("text") == text and turn.get("flags"):
                return True
    return False


# --------------------------------------------------------------------------- scenarios


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"p50_ms": statistics.median(latencies) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000}


async def sequential(
    url: str, profile: str | None, lines: list[str], username: str | None = None, password: str | None = None
) -> list[TurnTiming]:
    visitor = Visitor(url, profile, username, password)
    await visitor.connect()
    await visitor.wait_quiet()
    timings = []
    for line in lines:
        timings.append(await visitor.say(line))
        await visitor.late_flags(timings[-1], line, 0.5)
    await visitor.close()
    return timings


@dataclass
class LoadResult:
    sessions: int
    messages: int
    errors: int
    wall_s: float
    latencies: list[float]
    rss_before: int
    rss_connected: int

    @property
    def throughput(self) -> float:
        return self.messages / self.wall_s if self.wall_s else 0.0

    @property
    def bytes_per_session(self) -> float:
        return (self.rss_connected - self.rss_before) / self.sessions if self.sessions else 0.0


async def load(
    server: Served,
    profile: str | None,
    sessions: int,
    lines: list[str],
    think_s: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> LoadResult:
    """`sessions` visitors connect, then each sends `lines`, pausing `think_s` (min, max) between them."""
    import random

    rng = random.Random(seed)
    rss_before = rss_bytes(server.process.pid)
    visitors = [Visitor(server.url, profile) for _ in range(sessions)]
    gate = asyncio.Semaphore(20)  # browsers do not all open at the same millisecond either

    async def connect(visitor: Visitor) -> bool:
        async with gate:
            try:
                await visitor.connect()
                await visitor.wait_quiet(120)
                return True
            except Exception:
                return False

    connected = await asyncio.gather(*(connect(v) for v in visitors))
    await asyncio.sleep(1.0)
    rss_connected = rss_bytes(server.process.pid)
    pauses = [[rng.uniform(*think_s) for _ in lines] for _ in visitors]

    async def visit(visitor: Visitor, waits: list[float]) -> list[TurnTiming]:
        timings = []
        for line, wait in zip(lines, waits, strict=True):
            await asyncio.sleep(wait)
            timings.append(await visitor.say(line, timeout_s=300))
        return timings

    started = time.perf_counter()
    runs = await asyncio.gather(
        *(visit(v, p) for v, p, ok in zip(visitors, pauses, connected, strict=True) if ok), return_exceptions=True
    )
    wall = time.perf_counter() - started
    await asyncio.gather(*(v.close() for v in visitors))
    timings = [t for run in runs if isinstance(run, list) for t in run]
    errors = sum(not ok for ok in connected) * len(lines) + sum(isinstance(r, BaseException) for r in runs) * len(lines)
    errors += sum(t.error is not None for t in timings)
    latencies = [t.latency for t in timings if t.latency is not None and t.error is None]
    return LoadResult(sessions, len(latencies), errors, wall, latencies, rss_before, rss_connected)
