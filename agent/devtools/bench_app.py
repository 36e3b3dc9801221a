"""App benchmarks: `python -m agent.devtools.bench_app` (part of `make bench`). Prints Markdown for BENCHMARKS.md.

Everything runs in one go on this machine, against processes on loopback: our app
(`chainlit run agent/web/app.py`, SQLite data layer, local mode) with the stub LLM behind
`OPENAI_BASE_URL`, and the bare Chainlit echo app (`agent/devtools/bench_echo.py`), the framework
alone. Ratios are taken within the run.

- overhead: one visitor, sequential turns, stub at zero latency (LLM time excluded);
- live timing: realistic stub latencies (patient 2 s, judge 1 s): are the flags on the
  learner's turn visible before the patient's reply is complete?
- load: N visitors at once; and a realistic mix (pauses of 10-30 s between messages);
- faults: the stub fails at given rates; turns answered, turns failed with a message, turns lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx

from agent.devtools.loadtest import (
    LoadResult,
    Served,
    Visitor,
    load,
    running,
    sequential,
    serve_chainlit,
    serve_stub,
    stub_env,
    summary,
)

LINES_EN = [
    "Hello Mrs. Bertrand, how have you been since the fall?",
    "I think I came across as rushed just now. What worries you most about going back?",
    "You've gone quiet since I mentioned the return plan. Did that land hard for you?",
    "What would those three months give you, concretely?",
    "Let me check I understood you: you're afraid of hitting another wall, is that it?",
]


def _configure(stub: Served, **config: Any) -> None:
    httpx.post(f"{stub.url}/stub/config", json=config, timeout=10).raise_for_status()


def _ms(values: dict[str, float]) -> str:
    return f"p50 {values['p50_ms']:.0f} ms, p95 {values['p95_ms']:.0f} ms"


async def bench_overhead(stub: Served, work: Path, turns: int, profile: Path | None = None) -> list[str]:
    lines = (LINES_EN * (turns // len(LINES_EN) + 1))[:turns]
    _configure(stub)
    with running(serve_chainlit("agent/devtools/bench_echo.py", {}, work / "echo.log")) as echo:
        bare = summary([t.latency for t in await sequential(echo.url, None, lines) if t.latency is not None])
    rows = []
    for evaluator in ("detector", "none"):
        env = stub_env(stub, work / f"data-overhead-{evaluator}", ALLIANCE_EVALUATOR=evaluator)
        prof = profile / f"app-overhead-{evaluator}.prof" if profile is not None else None
        with running(serve_chainlit("agent/web/app.py", env, work / f"app-overhead-{evaluator}.log", prof)) as app:
            ours = summary(
                [t.latency for t in await sequential(app.url, "bertrand.en", lines) if t.latency is not None]
            )
        ratio = ours["p95_ms"] / max(bare["p95_ms"], 1e-9)
        rows.append(
            f"| overhead per turn, our app (monitor: {evaluator}) vs echo app | {_ms(ours)} vs {_ms(bare)}: "
            f"p95 ratio **{ratio:.2f}×** | {turns} sequential turns, stub at zero latency; target ≤ 1.5× |"
        )
    return rows


async def bench_live(stub: Served, work: Path, turns: int) -> list[str]:
    lines = (LINES_EN * (turns // len(LINES_EN) + 1))[:turns]
    rows = []
    _configure(stub, latency_by_name={"patient_turn": 2.0, "alliance_findings": 1.0})
    for evaluator in ("detector", "both"):
        env = stub_env(stub, work / f"data-live-{evaluator}", ALLIANCE_EVALUATOR=evaluator)
        with running(serve_chainlit("agent/web/app.py", env, work / f"app-live-{evaluator}.log")) as app:
            timings = await sequential(app.url, "bertrand.en", lines)
        flagged = [t for t in timings if t.flags is not None and t.reply_done is not None]
        early = [t for t in flagged if t.flags is not None and t.reply_done is not None and t.flags < t.reply_done]
        lead = sorted(t.reply_done - t.flags for t in early if t.reply_done is not None and t.flags is not None)
        share = len(early) / len(flagged) if flagged else 0.0
        median_lead = f"median {statistics.median(lead):.2f} s before the reply ends" if lead else "-"
        rows.append(
            f"| flags before the reply completes (monitor: {evaluator}) | **{share:.0%}** of {len(flagged)} flagged "
            f"turns ({median_lead}) | patient 2 s, judge 1 s; {len(timings)} turns, "
            f"{len(timings) - len(flagged)} without a flag; target ≥ 95% |"
        )
    _configure(stub)
    return rows


def _load_row(label: str, ours: LoadResult, bare: LoadResult, notes: str) -> str:
    o, b = summary(ours.latencies), summary(bare.latencies)
    return (
        f"| {label} | ours {ours.throughput:.1f} msg/s, {_ms(o)}, {ours.errors} errors, "
        f"{ours.bytes_per_session / 1024:.0f} KiB/session; echo {bare.throughput:.1f} msg/s, {_ms(b)}, "
        f"{bare.errors} errors, {bare.bytes_per_session / 1024:.0f} KiB/session; throughput **{ours.throughput / max(bare.throughput, 1e-9):.2f}×**, "
        f"p95 **{o['p95_ms'] / max(b['p95_ms'], 1e-9):.2f}×** | {notes} |"
    )


async def bench_load(
    stub: Served, work: Path, sessions: int, mix_sessions: int, think: tuple[float, float]
) -> list[str]:
    _configure(stub)
    lines = LINES_EN[:3]
    rows = []
    with running(serve_chainlit("agent/devtools/bench_echo.py", {}, work / "echo-load.log")) as echo:
        bare = await load(echo, None, sessions, lines)
        bare_mix = await load(echo, None, mix_sessions, lines, think) if mix_sessions else None
    for evaluator in ("detector", "none"):
        env = stub_env(stub, work / f"data-load-{evaluator}", ALLIANCE_EVALUATOR=evaluator)
        with running(serve_chainlit("agent/web/app.py", env, work / f"app-load-{evaluator}.log")) as app:
            ours = await load(app, "bertrand.en", sessions, lines)
            rows.append(
                _load_row(
                    f"{sessions} sessions at once (monitor: {evaluator})",
                    ours,
                    bare,
                    f"{len(lines)} messages each, no pause; targets: throughput ≥ 0.8×, p95 ≤ 1.25×",
                )
            )
            if evaluator == "detector" and bare_mix is not None:  # --mix-sessions 0: no realistic mix
                mix = await load(app, "bertrand.en", mix_sessions, lines, think)
                rows.append(
                    _load_row(
                        f"{mix_sessions} sessions, realistic mix (monitor: {evaluator})",
                        mix,
                        bare_mix,
                        f"{len(lines)} messages each, {think[0]:.0f}-{think[1]:.0f} s pauses",
                    )
                )
    return rows


async def bench_faults(stub: Served, work: Path, sessions: int, turns: int) -> list[str]:
    rates = {"500": 0.1, "429": 0.1, "truncate": 0.05, "malformed": 0.05, "timeout": 0.05}
    _configure(stub, fault_rates=rates, hang_s=4.0, seed=5)
    data = work / "data-faults"
    env = stub_env(stub, data, ALLIANCE_TIMEOUT_S="2", ALLIANCE_MAX_RETRIES="1")
    sent = answered = told = 0
    with running(serve_chainlit("agent/web/app.py", env, work / "app-faults.log")) as app:
        for index in range(sessions):
            visitor = Visitor(app.url, "bertrand.en")
            await visitor.connect()
            await visitor.wait_quiet()
            for turn in range(turns):
                timing = await visitor.say(f"Session {index}, question {turn}: how are the headaches?", timeout_s=60)
                sent += 1
                if timing.notices:
                    told += 1
                elif timing.reply_done is not None and timing.error is None:
                    answered += 1
            await visitor.close()
        alive = app.process.poll() is None
    stats = httpx.get(f"{stub.url}/stub/stats", timeout=10).json()
    with sqlite3.connect(data / "alliance.db") as conn:
        kept = sum(
            1
            for (raw,) in conn.execute("SELECT session_json FROM alliance_sessions")
            for turn in json.loads(raw)["turns"]
            if turn["speaker"] == "clinician"
        )
    _configure(stub)
    faults = {k: v for k, v in stats.items() if k.startswith("fault_")}
    return [
        f"| faults injected ({', '.join(f'{k} {v:.0%}' for k, v in rates.items())}) | {sent} turns: {answered} answered, "
        f"{told} failed with a message to the learner, {sent - answered - told} unaccounted; learner turns kept "
        f"{kept}/{sent}; server alive: {alive} | {sessions} sessions × {turns} turns; stub counted {faults}; "
        "timeout 2 s, 1 retry |"
    ]


async def run(args: argparse.Namespace) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="alliance-bench-"))
    rows: list[str] = []
    with running(serve_stub(work / "stub.log")) as stub:
        if "overhead" in args.only:
            rows += await bench_overhead(stub, work, args.turns, args.profile)
        if "live" in args.only:
            rows += await bench_live(stub, work, args.turns)
        if "load" in args.only:
            rows += await bench_load(stub, work, args.sessions, args.mix_sessions, (args.think_min, args.think_max))
        if "faults" in args.only:
            rows += await bench_faults(stub, work, args.fault_sessions, 5)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--mix-sessions", type=int, default=200, help="0: no realistic mix in the load bench")
    parser.add_argument("--think-min", type=float, default=10.0)
    parser.add_argument("--think-max", type=float, default=30.0)
    parser.add_argument("--fault-sessions", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=["overhead", "live", "load", "faults"])
    parser.add_argument(
        "--profile",
        type=Path,
        help="folder: run our app under cProfile in the overhead bench, one .prof per monitor setting "
        "(slower turns: read the shares, not the figures)",
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    print("\n| what | figure | notes |\n|---|---|---|")
    for row in asyncio.run(run(args)):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
