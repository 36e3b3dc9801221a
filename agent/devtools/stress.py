"""The browser and socket tests under CPU load: `make e2e-stress` (issue 12, item 16).

A class is a busy server: the e2e tests must pass with other work competing for the CPU, not
only on a quiet machine. This runs `pytest -m e2e tests/e2e` RUNS times in a row while HOGS
processes spin on the CPU, each run bounded by --run-timeout, and reports passes, failures and
the median run time. Exit status 1 unless every run passed.

    python -m agent.devtools.stress --runs 10 --hogs 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.config import REPO_ROOT

_SPIN = "while True: pass"


@dataclass
class Run:
    index: int
    passed: bool
    seconds: float
    summary: str  # pytest's last line


@contextmanager
def hogs(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` processes that each keep one core busy, stopped however the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=30)


def run_once(index: int, timeout_s: float, log_dir: Path, pytest_args: list[str]) -> Run:
    log = log_dir / f"run-{index:02d}.log"
    started = time.perf_counter()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "e2e", *pytest_args]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the app and stub servers it started go with it
            proc.wait(timeout=30)
            code = -1
    seconds = time.perf_counter() - started
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    if code == -1:
        summary = f"timed out after {timeout_s:.0f} s ({summary})"
    return Run(index, code == 0, seconds, summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="how many times to run the e2e tests")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-spinning processes running beside them")
    parser.add_argument("--run-timeout", type=float, default=900, help="seconds one run may take before it fails")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "e2e-stress", help="logs and summary")
    parser.add_argument("pytest_args", nargs="*", default=["tests/e2e"], help="what pytest runs (default tests/e2e)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hogs < 0 or args.run_timeout <= 0:
        parser.error("--runs must be at least 1, --hogs at least 0, --run-timeout positive")
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    with hogs(args.hogs):
        for index in range(1, args.runs + 1):
            run = run_once(index, args.run_timeout, args.out, args.pytest_args)
            runs.append(run)
            print(f"run {index}/{args.runs}: {'pass' if run.passed else 'FAIL'} in {run.seconds:.0f} s: {run.summary}")
    passed = sum(run.passed for run in runs)
    median = statistics.median(run.seconds for run in runs)
    result = {
        "runs": args.runs,
        "hogs": args.hogs,
        "cores": os.cpu_count(),
        "passed": passed,
        "median_s": round(median, 1),
        "max_s": round(max(run.seconds for run in runs), 1),
        "details": [asdict(run) for run in runs],
    }
    (args.out / "summary.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"e2e-stress: {passed}/{args.runs} passed with {args.hogs} CPU hogs on {os.cpu_count()} cores; "
        f"median run {median:.0f} s (logs in {args.out})"
    )
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
