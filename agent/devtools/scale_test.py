"""`make scale-test`: several app processes behind HAProxy, one PostgreSQL, the stub LLM, many learners at once;
one app process is killed mid-run, and not one learner turn may be lost.

On this machine, on loopback:
- a throwaway PostgreSQL (`agent.devtools.throwaway_postgres`), shared by every app process;
- the stub LLM (`agent.devtools.stub_llm`) with a patient latency, behind `OPENAI_BASE_URL`;
- `--apps` app processes (`chainlit run agent/web/app.py`), the same secret and database;
- HAProxy (Debian's package) in front: round robin, sticky by an inserted cookie, health checks, redispatch.

Each learner logs in through the balancer (which pins the page to one process by its cookie), opens a visit, and
says `--turns` lines with pauses. Once `--kill-at` of all turns are answered, the app process serving the most
pages is killed (SIGKILL: no shutdown hook runs). Its pages reconnect through the balancer, as Chainlit's page
does, with the same page id; another process resumes the visit from PostgreSQL (`agent.web.failover`) and answers
a turn kept but not answered. A line gone from the resumed page (nothing kept it) is sent again, and counted.

At the end every kept session is read back: a turn is lost when a line a learner sent is not a kept learner turn;
unanswered when no patient turn follows it. Exit status 1 if any turn was lost or left unanswered. A page showing no
answer in `--turn-timeout-s` is reported, its turn checked like the others. Figures on stdout and in `--report`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import socketio  # type: ignore[import-untyped]

from agent.config import Settings
from agent.devtools.bench_app import LINES_EN
from agent.devtools.loadtest import Served, free_port, rss_bytes, serve, serve_chainlit, serve_stub, stub_env, summary
from agent.devtools.throwaway_postgres import throwaway_postgres
from agent.domain.taxonomy import Speaker
from agent.storage.access import Requester
from agent.storage.sessions import SessionStore, database_url, make_engine

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_config(port: int, apps: list[int]) -> str:
    servers = "\n".join(f"    server app{i} 127.0.0.1:{p} check cookie app{i}" for i, p in enumerate(apps))
    return f"""global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    option redispatch
    retries 3
frontend learners
    bind 127.0.0.1:{port}
    default_backend apps
backend apps
    balance roundrobin
    cookie ALLIANCE_NODE insert indirect nocache
    option httpchk GET /auth/config
    default-server inter 500ms fall 2 rise 2
{servers}
"""


def serve_haproxy(work: Path, apps: list[Served]) -> Served:
    port = free_port()
    config = work / "haproxy.cfg"
    config.write_text(haproxy_config(port, [int(a.url.rsplit(":", 1)[1]) for a in apps]))
    return serve([HAPROXY, "-db", "-f", str(config)], port, {}, work / "haproxy.log", "/auth/config")


# --------------------------------------------------------------------------- one learner, across processes


@dataclass
class Learner:
    url: str
    profile: str
    page_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    threads: list[str] = field(default_factory=list)  # more than one if a new chat replaced the visit
    chat_starts: int = 0
    connects: int = 0
    resumes: int = 0
    resent: int = 0
    replies: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    failed: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _resumed_lines: list[list[str]] = field(default_factory=list)
    _since_connect: tuple[int, int] = (0, 0)  # resumes and chat starts when the socket last (re)connected
    _starts_opened: set[str] = field(default_factory=set)
    client: Any = None
    trace: list[str] = field(default_factory=list)  # what the page received, for the report of a problem

    async def _login(self, attempts: int = 5) -> str:
        """Local mode: every learner is the local user. A login that fails (its process just died) is tried again,
        as a learner reloads the page."""
        for attempt in range(attempts):
            try:
                async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
                    response = await http.post("/auth/header")
                    response.raise_for_status()
                    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())
            except httpx.HTTPError:
                if attempt + 1 == attempts:
                    raise
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def open(self, attempts: int = 5) -> None:
        """Log in and open the socket; a page that could not connect (a busy or dying process) tries again."""
        cookie = await self._login()
        auth = {"clientType": "webapp", "sessionId": self.page_id, "threadId": "", "userEnv": "{}"}
        auth["chatProfile"] = self.profile
        for attempt in range(attempts):
            self.client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=2)
            self.client.on("connect", self._connected)
            self.client.on("*", self._event)
            try:
                await self.client.connect(
                    self.url,
                    headers=lambda: {"Cookie": cookie},  # a fresh dict each time: engine.io deletes the cookie from it
                    auth=auth,
                    socketio_path="/ws/socket.io",
                    transports=["websocket"],
                    wait_timeout=60,
                )
                return
            except socketio.exceptions.ConnectionError:
                with contextlib.suppress(Exception):
                    await self.client.shutdown()
                if self.client.eio.http is not None:
                    await self.client.eio.http.close()
                if attempt + 1 == attempts:
                    raise
                await asyncio.sleep(1.0)

    async def _connected(self) -> None:
        self.trace.append("CONNECT")
        self.connects += 1
        self._since_connect = (self.resumes, self.chat_starts)
        self._starts_opened.clear()  # a chat start of the process before does not count as this one's
        await self.client.emit("connection_successful")  # as Chainlit's page does on every (re)connect
        self._changed.set()

    async def _send(self, message: dict[str, Any], deadline: float) -> None:
        """Send as the page does: while the socket is down (its process gone), wait for the reconnect."""
        while True:
            try:
                await self.client.emit("client_message", {"message": message, "fileReferences": []})
                self.trace.append(f"SENT {message['output'][-8:]}")
                return
            except socketio.exceptions.BadNamespaceError:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=min(left, 1.0))

    def _thread(self, thread: str) -> None:
        if thread and thread not in self.threads:
            self.threads.append(thread)

    async def _event(self, event: str, data: Any = None) -> None:
        name = data.get("name") if isinstance(data, dict) else None
        said = f"[{str(data.get('output') or '')[:48]}]" if name == "Alliance" else ""  # which notice of the app's
        self.trace.append(f"{event}:{name}{said}" if name else event)
        if event == "first_interaction" and isinstance(data, dict):
            self._thread(str(data.get("thread_id") or ""))
        elif event == "new_message" and isinstance(data, dict) and data.get("name") == "on_chat_start":
            self._starts_opened.add(str(data.get("id")))
        elif event == "update_message" and isinstance(data, dict) and data.get("name") == "on_chat_start":
            if str(data.get("id")) in self._starts_opened:  # a chat start begun since the last (re)connect, done
                self._starts_opened.discard(str(data.get("id")))
                self.chat_starts += 1
        elif event == "resume_thread" and isinstance(data, dict):
            self.resumes += 1
            self._thread(str(data.get("id") or ""))  # a page taken over by a chat start gets no first_interaction
            steps = data.get("steps") or []
            self._resumed_lines.append([s.get("output", "") for s in steps if s.get("type") == "user_message"])
            self.replies |= {str(s.get("id")) for s in steps if _patient_says(s)}  # a kept reply the page had missed
        elif event in ("new_message", "update_message") and _patient_says(data):
            self.replies.add(str(data.get("id")))
        self._changed.set()

    async def say(self, text: str, timeout_s: float) -> None:
        answered = len(self.replies)
        message = {"id": str(uuid.uuid4()), "type": "user_message", "output": text, "createdAt": "", "threadId": ""}
        sent = time.perf_counter()
        deadline = sent + timeout_s
        await self._send(message, deadline)
        connects_seen = self.connects
        while len(self.replies) <= answered:
            resumes, starts = self._since_connect
            if self.connects > connects_seen and (self.resumes > resumes or self.chat_starts > starts):
                # Reconnected to a process that has now resumed the visit or opened a new chat: is the line there?
                connects_seen = self.connects
                resumed = self.resumes > resumes
                if (resumed and text not in self._resumed_lines[-1]) or not resumed:  # gone: typed again
                    self.resent += 1
                    message = {**message, "id": str(uuid.uuid4())}
                    await self._send(message, deadline)
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no answer to {text!r} in {timeout_s} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 1.0))
        self.latencies.append(time.perf_counter() - sent)

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.disconnect()


def _patient_says(data: Any) -> bool:
    """A message of the patient with words in it (the app's own notices are authored "Alliance")."""
    return (
        isinstance(data, dict)
        and data.get("type") == "assistant_message"
        and bool(data.get("output"))
        and data.get("name") != "Alliance"
    )


# --------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    learners: int
    turns_sent: int
    turns_answered: int
    turns_lost: int
    unanswered: int
    gave_up: int
    wall_s: float
    latencies: list[float]
    reconnected: int
    resumed: int
    restarted: int
    resent: int
    killed: str
    rss_mb: dict[str, float]
    failures: list[str]


def _busiest(apps: list[Served]) -> int:
    """The app process with the most open connections (the kernel's count)."""
    counts = []
    for app in apps:
        port = app.url.rsplit(":", 1)[1]
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"], capture_output=True)
        counts.append(len(out.stdout.splitlines()))
    return max(range(len(apps)), key=lambda i: counts[i])


async def _check_kept(url: str, learners: list[Learner], lines: list[list[str]]) -> tuple[int, int, list[str]]:
    """Lost turns, unanswered turns, and what was wrong, read from the kept sessions."""
    engine = make_engine(database_url(Settings(_env_file=None, DATABASE_URL=url)))  # type: ignore[call-arg]
    store, reader = SessionStore(engine), Requester("scale-test", "faculty")
    lost = unanswered = 0
    problems: list[str] = []
    try:
        for learner, said in zip(learners, lines, strict=True):
            texts: list[str] = []
            for thread_id in learner.threads:
                kept = await store.read(thread_id, reader)
                turns = kept.session.turns if kept is not None else []
                texts += [t.text for t in turns if t.speaker is Speaker.clinician]
                if len([t for t in turns if t.speaker is Speaker.clinician]) != len(said):
                    problems.append(
                        "  kept: "
                        + " | ".join(
                            f"{t.id} {t.speaker.value} {t.created_at:%H:%M:%S.%f} {t.text[-8:]}" for t in turns
                        )
                    )
                unanswered += sum(
                    turn.speaker is Speaker.clinician
                    and (i + 1 == len(turns) or turns[i + 1].speaker is Speaker.clinician)
                    for i, turn in enumerate(turns)
                )
            missing = [line for line in said if line not in texts]
            lost += len(missing)
            if missing or len(texts) != len(said):
                problems.append(f"{learner.page_id}: sent {said}, kept {texts} in {len(learner.threads)} thread(s)")
                problems.append("  received: " + " ".join(t for t in learner.trace if t != "stream_token"))
    finally:
        await engine.dispose()
    return lost, unanswered, problems


async def run(args: argparse.Namespace, work: Path) -> Outcome:
    rng = random.Random(args.seed)
    with throwaway_postgres() as pg_url, contextlib.ExitStack() as stack:
        stub = serve_stub(work / "stub.log", "--latency", f"patient_turn={args.patient_s}")
        stack.callback(stub.stop)
        env = stub_env(
            stub,
            work / "data",
            DATABASE_URL=pg_url,
            CHAINLIT_AUTH_SECRET="scale-test-" + uuid.uuid4().hex * 2,
            ALLIANCE_USERS="",
            ALLIANCE_EVALUATOR=args.evaluator,
        )
        apps = []
        for i in range(args.apps):
            apps.append(serve_chainlit("agent/web/app.py", env, work / f"app{i}.log"))
            stack.callback(apps[-1].stop)
        balancer = serve_haproxy(work, apps)
        stack.callback(balancer.stop)

        learners = [Learner(balancer.url, "bertrand.en") for _ in range(args.sessions)]
        said: list[list[str]] = [[] for _ in learners]
        total = args.sessions * args.turns
        answered = 0
        half = asyncio.Event()
        opened: list[int] = []
        gate = asyncio.Semaphore(20)  # pages do not all open in the same millisecond either

        async def visit(index: int) -> None:
            nonlocal answered
            learner = learners[index]
            try:
                async with gate:
                    await learner.open()
            finally:
                opened.append(index)  # tried: the kill waits until every page has tried to open
            for n in range(args.turns):
                await asyncio.sleep(rng.uniform(*args.think_s))
                line = f"{LINES_EN[n % len(LINES_EN)]} ({index}.{n})"  # each line once: a lost one shows
                said[index].append(line)
                await learner.say(line, args.turn_timeout_s)
                answered += 1
                if answered >= args.kill_at * total and len(opened) == len(learners):
                    half.set()  # every page open, and the given share of turns answered

        started = time.perf_counter()
        tasks = [asyncio.create_task(visit(i)) for i in range(len(learners))]
        waiter: asyncio.Future[Any] = asyncio.create_task(half.wait())
        everyone: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait([waiter, everyone], return_when=asyncio.FIRST_COMPLETED)
        rss = {f"app{i}": rss_bytes(a.process.pid) / 2**20 for i, a in enumerate(apps)}
        victim = _busiest(apps)
        apps[victim].process.send_signal(signal.SIGKILL)
        killed = f"app{victim} after {answered} of {total} turns answered"
        results = await everyone
        wall = time.perf_counter() - started
        waiter.cancel()
        failures = [
            f"{type(r).__name__}: {r}\n  received: " + " ".join(t for t in learner.trace if t != "stream_token")
            for r, learner in zip(results, learners, strict=True)
            if isinstance(r, BaseException)
        ]
        await asyncio.gather(*(learner.close() for learner in learners))
        lost, unanswered, problems = await _check_kept(pg_url, learners, said)
    return Outcome(
        learners=len(learners),
        turns_sent=sum(len(s) for s in said),
        turns_answered=answered,
        turns_lost=lost,
        unanswered=unanswered,
        gave_up=len(failures),
        wall_s=wall,
        latencies=[x for learner in learners for x in learner.latencies],
        reconnected=sum(learner.connects > 1 for learner in learners),
        resumed=sum(learner.resumes > 0 for learner in learners),
        restarted=sum(learner.chat_starts > 1 for learner in learners),
        resent=sum(learner.resent for learner in learners),
        killed=killed,
        rss_mb=rss,
        failures=failures[:5] + problems[:5],
    )


def report(args: argparse.Namespace, outcome: Outcome) -> str:
    times = summary(outcome.latencies)
    rows = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores: {args.apps} app processes behind HAProxy, "
        f"PostgreSQL, stub patient {args.patient_s} s, monitor {args.evaluator}; {outcome.learners} learners × "
        f"{args.turns} turns, pauses {args.think_s[0]:g}-{args.think_s[1]:g} s; killed {outcome.killed}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| turns sent / answered | {outcome.turns_sent} / {outcome.turns_answered} |",
        f"| **turns lost** | **{outcome.turns_lost}** |",
        f"| learner turns kept without an answer | {outcome.unanswered} |",
        f"| pages that showed no answer within {args.turn_timeout_s:g} s (an error, or a reply sent while the page "
        f"was away: kept, shown after a reload) | {outcome.gave_up} |",
        f"| throughput | {outcome.turns_answered / outcome.wall_s:.1f} turns/s over {outcome.wall_s:.0f} s |",
        f"| turn latency (send → reply shown) | p50 {times['p50_ms']:.0f} ms, p95 {times['p95_ms']:.0f} ms |",
        f"| pages that reconnected / were resumed by another process | {outcome.reconnected} / {outcome.resumed} |",
        f"| pages whose new process opened a new chat (nothing kept yet) | {outcome.restarted} |",
        f"| lines sent again (gone from the resumed page) | {outcome.resent} |",
        f"| app memory before the kill (RSS) | {', '.join(f'{k} {v:.0f} MB' for k, v in outcome.rss_mb.items())} |",
    ]
    if outcome.failures:
        rows += ["", "First problems:", *[f"- {f}" for f in outcome.failures]]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--think-s", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--patient-s", type=float, default=0.5, help="the stub patient's answer time")
    parser.add_argument("--evaluator", default="detector")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of all turns answered before the kill")
    parser.add_argument("--turn-timeout-s", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, default=Path("reports/scale"))
    args = parser.parse_args(argv)
    if not Path(HAPROXY).exists():
        print("HAProxy is not installed: `make haproxy` installs Debian's package", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="alliance-scale-"))
    try:
        outcome = asyncio.run(run(args, work))
    finally:
        args.report.mkdir(parents=True, exist_ok=True)
        for log in work.glob("*.log"):
            shutil.copy(log, args.report / log.name)
        shutil.rmtree(work, ignore_errors=True)
    text = report(args, outcome)
    print(text)
    (args.report / "scale.md").write_text(text + "\n")
    (args.report / "scale.json").write_text(json.dumps(outcome.__dict__, default=str, indent=1))
    return 0 if outcome.turns_lost == 0 and outcome.unanswered == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
