"""The warm-up after a restart: `python -m agent.devtools.bench_restart [--data-dir DIR]` (issue 14, item 3).

Runs the start's warm-up (`agent.patient.warmup.warm_personas`) for the first patient of each language, in two
fresh processes one after the other, on the embedded model, with one folder of slot files:
1. no file yet: each prompt is processed (the cost of a start before this change), then saved;
2. a restart: each is restored from its file.
Then, in the second process, the time to the first word of turn 1 of a visit with each patient. Prints a
Markdown table for BENCHMARKS.md. The machine is shared and noisy: figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.config import Settings
from agent.devtools.bench_patient import script
from agent.domain.session import Session
from agent.llm.backends import build_backend
from agent.patient.engine import PatientEngine
from agent.patient.warmup import warm_order, warm_personas
from agent.persona.loader import load_library


async def _one_start(data_dir: Path, first_turn: bool) -> dict[str, float]:
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    backend = build_backend(settings, "local")
    library = load_library(settings.personas_dir)
    order = warm_order(list(library.personas.values()))
    defaults = order[: len({p.persona.language for p in order})]
    figures: dict[str, float] = {}
    started = time.monotonic()
    await warm_personas(backend, defaults, settings)
    figures["warm_up_s"] = time.monotonic() - started
    if first_turn:
        for loaded in defaults:
            engine = PatientEngine(loaded.persona, backend, settings)
            session = Session(persona_id=loaded.id, language=loaded.persona.language, llm=backend.label)
            session.add_learner_turn(script(loaded.persona.language)[0])  # the shared probes' open question
            first: list[float] = []
            sent = time.monotonic()

            async def on_token(token: str, first: list[float] = first, sent: float = sent) -> None:
                if not first:
                    first.append(time.monotonic() - sent)

            await engine.respond(session, on_token)
            figures[f"first_word_{loaded.id}_s"] = first[0] if first else float("nan")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--child", choices=("cold", "restart"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_one_start(args.data_dir, args.child == "restart"))))
        return 0
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="alliance-restart-"))
    runs = {}
    for phase in ("cold", "restart"):  # two processes: a restart is a new process
        command = [sys.executable, "-m", "agent.devtools.bench_restart", "--data-dir", str(data_dir), "--child", phase]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
        runs[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    files = sorted((data_dir / "slots").glob("*.bin"))
    print("| what | figure |\n|---|---|")
    print(f"| warm-up of the default patients, no file (first start) | {runs['cold']['warm_up_s']:.1f} s |")
    print(f"| warm-up of the same, restored from files (restart) | {runs['restart']['warm_up_s']:.1f} s |")
    for key, value in runs["restart"].items():
        if key.startswith("first_word_"):
            print(f"| first word of turn 1 after the restart, {key[11:-2]} | {value:.1f} s |")
    print(f"| slot files | {len(files)}, {sum(f.stat().st_size for f in files) / 2**20:.0f} MiB in all |")
    if args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
