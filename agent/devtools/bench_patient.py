"""The patient's first words: `python -m agent.devtools.bench_patient [--personas ID ...]` (issue 14, item 3).

For each persona, on the embedded model (or any `--llm`), through the real `PatientEngine`:

- **cold**: turn 1 of a new visit, nothing of this persona processed before in this process;
- **later**: turns 2 and 3 of that visit (the shared probes' imposing turn, then their repair);
- **warm**: turn 1 of a second visit, after the chat start's prefill has finished (what a learner meets
  who reads the brief before typing).

Each figure is the time from sending the learner's turn to the first word of the reply shown (the
first token the leak guard released), and to the end of the reply. Prints a Markdown table for
BENCHMARKS.md. The machine is shared and noisy: medians from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field

import yaml

from agent.config import Settings
from agent.domain.session import Session
from agent.eval.probes import PROBES_FILE
from agent.llm.backends import build_backend
from agent.patient.engine import PatientEngine
from agent.persona.loader import resolve_persona


def script(lang: str) -> list[str]:
    """The learner's turns: those of the shared probes for the language (evals/probes/probes.yaml), open
    question first, then the imposing turn and the repair, each once."""
    shared = yaml.safe_load(PROBES_FILE.read_text(encoding="utf-8"))[lang]
    turns = [turn for probe in sorted(shared, key=lambda p: p["name"] != "open_question") for turn in probe["turns"]]
    return list(dict.fromkeys(turns))


@dataclass
class Timings:
    first_word: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "later": [], "warm": []})
    reply: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "later": [], "warm": []})


async def _turn(engine: PatientEngine, session: Session, text: str) -> tuple[float, float]:
    session.add_learner_turn(text)
    started = time.perf_counter()
    first: list[float] = []

    async def sink(_: str) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    result = await engine.respond(session, sink)
    total = time.perf_counter() - started
    session.add_patient_turn(result.output.reply, result.output.hidden, result.guard)
    return (first[0] if first else total), total


async def run(persona_ids: list[str], llm: str | None) -> Timings:
    settings = Settings()
    backend = build_backend(settings, llm)
    timings = Timings()
    for persona_id in persona_ids:
        persona = resolve_persona(persona_id, settings.personas_dir).persona
        engine = PatientEngine(persona, backend, settings)
        lines = script(persona.language)
        session = Session(persona_id=persona_id, language=persona.language, llm=backend.label)
        for index, text in enumerate(lines):
            first, total = await _turn(engine, session, text)
            key = "cold" if index == 0 else "later"
            timings.first_word[key].append(first)
            timings.reply[key].append(total)
        second = Session(persona_id=persona_id, language=persona.language, llm=backend.label)
        await engine.prefill(second)
        first, total = await _turn(engine, second, lines[0])
        timings.first_word["warm"].append(first)
        timings.reply["warm"].append(total)
    return timings


def table(timings: Timings, persona_ids: list[str]) -> str:
    lines = ["| turn | first word (median) | whole reply (median) | n |", "|---|---|---|---|"]
    for key, name in (("cold", "turn 1, cold"), ("warm", "turn 1 after the prefill"), ("later", "turns 2-3")):
        values = timings.first_word[key]
        if values:
            first, whole = statistics.median(values), statistics.median(timings.reply[key])
            lines.append(f"| {name} | {first:.1f} s | {whole:.1f} s | {len(values)} |")
    return (
        "\n".join(lines) + f"\n\npersonas: {', '.join(persona_ids)}; load average at the end {os.getloadavg()[0]:.1f}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--personas", nargs="*", default=["bertrand.fr", "hayes.en"])
    parser.add_argument("--llm", default="local")
    args = parser.parse_args(argv)
    print(table(asyncio.run(run(args.personas, args.llm)), args.personas))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
