"""Run `chainlit` with an asyncio task dump on SIGUSR1: `python -m agent.devtools.taskdump run agent/web/app.py ...`.

For a hang that logs nothing (an await that never returns): send the process SIGUSR1 (`kill -USR1 PID`) and every
task of its event loop, with its stack, is appended to `/tmp/taskdump-PID.txt`. The handler runs in the main thread,
the event loop's, between two steps of it. A diagnostic tool only: never imported at run time.
"""

from __future__ import annotations

import asyncio
import io
import os
import runpy
import signal
import sys
import time
from types import FrameType


def dump(signum: int, frame: FrameType | None) -> None:
    out = io.StringIO()
    try:
        tasks = asyncio.all_tasks(asyncio.get_event_loop())
    except RuntimeError as exc:
        out.write(f"no event loop: {exc}\n")
        tasks = set()
    out.write(f"=== {time.strftime('%H:%M:%S')} {len(tasks)} tasks\n")
    for task in tasks:
        out.write(f"--- {task.get_name()} {task.get_coro()}\n")
        task.print_stack(limit=30, file=out)
    with open(f"/tmp/taskdump-{os.getpid()}.txt", "a", encoding="utf-8") as handle:
        handle.write(out.getvalue())


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["chainlit", *argv]
    runpy.run_module("chainlit", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
