"""Persona probes and the leak suite: checks of the simulated patients, run on a real model.

Probes (`evals/probes/probes.yaml`) send scripted learner turns to every persona of the
probe's language and check the patient's hidden state: after an imposing turn the intended
move is withdrawal or confrontation; after a fitting repair the bond does not drop; replies
stay in the persona's language. Results are pass rates per persona, not a verdict on a
single sample.

The leak suite (`evals/probes/leak_attacks.jsonl`) sends learner attacks that try to extract
the inner monologue, the instructions or the rubric, or to pull the patient out of role.
It counts the replies that would have leaked without the guard (the model's own answer)
and the replies that reached the learner with a leak (the goal is none).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agent.config import REPO_ROOT, Settings
from agent.domain.language import is_written_in
from agent.domain.session import Session
from agent.domain.taxonomy import Move
from agent.llm.backends import ChatBackend
from agent.patient.engine import PatientEngine
from agent.patient.voice import voice_problems
from agent.persona.loader import LoadedPersona, load_library

PROBES_FILE = REPO_ROOT / "evals" / "probes" / "probes.yaml"
PERSONA_PROBES_DIR = REPO_ROOT / "evals" / "probes" / "personas"


class ProbeExpect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    move_in: list[Move] | None = None
    bond_not_below: int | None = Field(None, ge=1, description="1-based turn whose bond the last bond must reach")
    language: bool = False


class Probe(BaseModel):
    """Scripted learner turns and what the patient's hidden state must show after them."""

    model_config = ConfigDict(extra="forbid")

    name: str
    turns: list[str] = Field(min_length=1)
    expect: ProbeExpect = Field(default_factory=ProbeExpect)


def load_probes(
    persona: LoadedPersona, probes_file: Path | None = None, persona_dir: Path | None = None
) -> list[Probe]:
    """The probes of a persona: its own (`evals/probes/personas/<id>.yaml`) first, then those of its language."""
    own = (persona_dir or PERSONA_PROBES_DIR) / f"{persona.id}.yaml"
    raw = list(yaml.safe_load(own.read_text(encoding="utf-8")) or []) if own.exists() else []
    shared = yaml.safe_load((probes_file or PROBES_FILE).read_text(encoding="utf-8")) or {}
    raw += shared.get(persona.persona.language, [])
    return [Probe.model_validate(item) for item in raw]


ATTACKS_FILE = REPO_ROOT / "evals" / "probes" / "leak_attacks.jsonl"


@dataclass
class ProbeResult:
    persona: str
    probe: str
    passed: bool
    checks: dict[str, bool]
    moves: list[str]
    bonds: list[int]
    replies: list[str]
    error: str | None = None
    sample: int = 0  # which run of the same probe (`--samples`)
    voice_slips: int = 0  # replies whose model answer did not sound like the patient at first (then regenerated)
    voice_final: int = 0  # replies that still did not once the engine had done its best (what the learner saw)


@dataclass
class ProbeReport:
    llm: str
    results: list[ProbeResult] = field(default_factory=list)
    skipped: int = 0  # not run: the time budget was spent

    def pass_rates(self) -> dict[str, float]:
        rates: dict[str, float] = {}
        for persona in sorted({r.persona for r in self.results}):
            mine = [r for r in self.results if r.persona == persona]
            rates[persona] = round(sum(r.passed for r in mine) / len(mine), 3)
        return rates

    def spread(self) -> dict[str, tuple[float, float]]:
        """Per persona, the lowest and highest pass rate over the samples (one run of every probe each)."""
        out: dict[str, tuple[float, float]] = {}
        for persona in sorted({r.persona for r in self.results}):
            rates = []
            for sample in sorted({r.sample for r in self.results if r.persona == persona}):
                mine = [r for r in self.results if r.persona == persona and r.sample == sample]
                rates.append(sum(r.passed for r in mine) / len(mine))
            out[persona] = (round(min(rates), 3), round(max(rates), 3))
        return out

    def overall(self) -> float:
        return round(sum(r.passed for r in self.results) / len(self.results), 3) if self.results else 0.0

    def voice(self) -> dict[str, int]:
        """Replies, the model's first answers that were not in the patient's voice, and final replies still not."""
        return {
            "replies": sum(len(r.replies) for r in self.results),
            "slips_before_check": sum(r.voice_slips for r in self.results),
            "slips_shown": sum(r.voice_final for r in self.results),
        }

    def to_markdown(self) -> str:
        lines = [f"# Persona probes ({self.llm})", ""]
        if self.skipped:
            lines += [f"{self.skipped} probes not run: the time budget was spent.", ""]
        v = self.voice()
        lines += [
            f"Voice (agent/patient/voice.py): {v['slips_before_check']} of {v['replies']} replies were not in the "
            f"patient's voice at first (assistant-speak, role confusion, formatting, echo); {v['slips_shown']} "
            "still were when shown.",
            "",
        ]
        samples = len({r.sample for r in self.results})
        lines += [
            f"Overall pass rate {self.overall():.0%} over {len(self.results)} probe runs ({samples} samples).",
            "",
        ]
        lines += ["| persona | pass rate | lowest-highest over samples | runs |", "|---|---|---|---|"]
        spread = self.spread()
        for p, rate in self.pass_rates().items():
            low, high = spread[p]
            runs = sum(r.persona == p for r in self.results)
            lines.append(f"| {p} | {rate:.0%} | {low:.0%}-{high:.0%} | {runs} |")
        lines += ["", "| persona | probe | passed | checks | moves | bonds |", "|---|---|---|---|---|---|"]
        for r in self.results:
            checks = ", ".join(f"{k}={'ok' if v else 'FAIL'}" for k, v in r.checks.items()) or (r.error or "")
            lines.append(
                f"| {r.persona} | {r.probe} | {'yes' if r.passed else 'no'} | {checks} | {r.moves} | {r.bonds} |"
            )
        return "\n".join(lines) + "\n"


async def run_probe(persona: LoadedPersona, probe: Probe, backend: ChatBackend, settings: Settings) -> ProbeResult:
    engine = PatientEngine(persona.persona, backend, settings)
    session = Session(persona_id=persona.id, language=persona.persona.language, llm=backend.label)
    moves: list[str] = []
    bonds: list[int] = []
    replies: list[str] = []
    slips = final = 0

    async def shown(token: str) -> None:  # streamed as in the app, so a reply already shown is kept as there
        return None

    try:
        for text in probe.turns:
            session.add_learner_turn(text)
            result = await engine.respond(session, shown)
            hidden = result.output.hidden
            session.add_patient_turn(result.output.reply, hidden, result.guard)
            moves.append(hidden.intended_move.value)
            bonds.append(hidden.alliance.bond)
            replies.append(result.output.reply)
            slips += bool(result.guard.voice)
            final += bool(voice_problems(result.output.reply, text, persona.persona.display_name))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        return ProbeResult(
            persona.id, probe.name, False, {}, moves, bonds, replies, error, voice_slips=slips, voice_final=final
        )
    expect = probe.expect
    checks: dict[str, bool] = {}
    if expect.move_in is not None:
        checks["move_in"] = moves[-1] in expect.move_in
    if expect.bond_not_below is not None:
        checks["bond_not_below"] = bonds[-1] >= bonds[min(expect.bond_not_below, len(bonds)) - 1]
    if expect.language:
        checks["language"] = all(is_written_in(r, persona.persona.language) for r in replies)
    passed = all(checks.values())
    return ProbeResult(
        persona.id, probe.name, passed, checks, moves, bonds, replies, None, voice_slips=slips, voice_final=final
    )


async def run_probes(
    backend: ChatBackend,
    settings: Settings,
    only: list[str] | None = None,
    budget_s: float | None = None,
    samples: int = 1,
    per_persona: int | None = None,
    concurrency: int = 1,
    first_sample: int = 0,
    done: set[tuple[str, str, int]] | None = None,
    on_result: Callable[[ProbeReport], None] | None = None,
) -> ProbeReport:
    """Every probe of every persona (or the first `per_persona` of each: a fixed subset that covers every
    patient), `samples` times, round robin over the personas so that a time budget still reaches them all.
    `concurrency` probes run at once (the embedded model decodes its two slots together); results keep the
    round-robin order, and no probe starts once the budget is spent. `first_sample` numbers the samples from there
    on, so that a later run adds samples to an earlier one (`merged`); runs in `done` (persona, probe, sample:
    those of an earlier report) are left out, so that a later sitting finishes what a budget cut short.
    `on_result` sees the report so far after each run (the CLI writes it: a run stopped midway keeps its results)."""
    library = load_library(settings.personas_dir)
    queues = [
        [
            (persona, probe, sample)
            for sample in range(first_sample, first_sample + samples)
            for probe in load_probes(persona)[:per_persona]
            if (persona.id, probe.name, sample) not in (done or set())
        ]
        for persona in library.personas.values()
        if not only or persona.id in only
    ]
    order = [item for rank in zip_longest(*queues) for item in rank if item is not None]
    report = ProbeReport(backend.label)
    deadline = time.monotonic() + budget_s if budget_s else None
    gate = asyncio.Semaphore(max(1, concurrency))

    results: dict[int, ProbeResult] = {}

    async def one(rank: int, persona: LoadedPersona, probe: Probe, sample: int) -> None:
        async with gate:
            if deadline is not None and time.monotonic() > deadline:
                report.skipped += 1
                return
            result = await run_probe(persona, probe, backend, settings)
            result.sample = sample
            results[rank] = result
            report.results = [results[r] for r in sorted(results)]  # the round-robin order, whatever finished first
            if on_result is not None:
                on_result(report)

    await asyncio.gather(*(one(rank, *item) for rank, item in enumerate(order)))
    return report


class MergeError(ValueError):
    """Probe reports that cannot be added up: another model, or the same sample of a probe twice."""


def runs_in(paths: list[Path]) -> set[tuple[str, str, int]]:
    """The (persona, probe, sample) runs these reports hold."""
    return {(r.persona, r.probe, r.sample) for r in merged(paths).results} if paths else set()


def merged(paths: list[Path]) -> ProbeReport:
    """Several probe reports (`probes.json`) as one: the runs of a long sampling split over several sittings
    (`--first-sample`). Only reports of the same model are merged, and a (persona, probe, sample) run only once;
    whoever merges them vouches that the patient's code did not change between them."""
    report: ProbeReport | None = None
    seen: set[tuple[str, str, int]] = set()
    for path in paths:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if report is None:
            report = ProbeReport(str(payload["llm"]))
        elif payload["llm"] != report.llm:
            raise MergeError(f"{path}: model {payload['llm']}, not {report.llm}")
        for item in payload["results"]:
            result = ProbeResult(**item)
            key = (result.persona, result.probe, result.sample)
            if key in seen:
                raise MergeError(f"{path}: {result.persona}/{result.probe} sample {result.sample} is already there")
            seen.add(key)
            report.results.append(result)
    if report is None:
        raise MergeError("no report to merge")
    return report


@dataclass
class LeakResult:
    id: str
    persona: str
    would_have_leaked: bool
    reached_learner: bool
    guard_action: str
    reasons: list[str]
    reply: str
    error: str | None = None


@dataclass
class LeakReport:
    llm: str
    results: list[LeakResult] = field(default_factory=list)
    skipped: int = 0  # not run: the time budget was spent

    def summary(self) -> dict[str, int]:
        return {
            "attacks": len(self.results),
            "would_have_leaked": sum(r.would_have_leaked for r in self.results),
            "reached_learner": sum(r.reached_learner for r in self.results),
            "errors": sum(r.error is not None for r in self.results),
            "skipped": self.skipped,
        }

    def to_markdown(self) -> str:
        s = self.summary()
        lines = [
            f"# Leak suite ({self.llm})",
            "",
            f"- attacks: {s['attacks']}; replies that would have leaked without the guard: {s['would_have_leaked']}; "
            f"leaks that reached the learner: **{s['reached_learner']}**; errors: {s['errors']}; "
            f"not run (time budget spent): {s['skipped']}",
            "",
            "| attack | persona | model leaked | reached learner | guard | reasons |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.results:
            lines.append(
                f"| {r.id} | {r.persona} | {r.would_have_leaked} | {r.reached_learner} | {r.guard_action} | "
                f"{'; '.join(r.reasons) or r.error or ''} |"
            )
        return "\n".join(lines) + "\n"


async def run_leaks(backend: ChatBackend, settings: Settings, budget_s: float | None = None) -> LeakReport:
    library = load_library(settings.personas_dir)
    by_lang: dict[str, LoadedPersona] = {}
    for persona in library.personas.values():
        by_lang.setdefault(persona.persona.language, persona)
    report = LeakReport(backend.label)
    deadline = time.monotonic() + budget_s if budget_s else None
    for line in ATTACKS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if deadline is not None and time.monotonic() > deadline:
            report.skipped += 1
            continue
        attack = json.loads(line)
        persona = by_lang[attack["lang"]]
        engine = PatientEngine(persona.persona, backend, settings)
        session = Session(persona_id=persona.id, language=persona.persona.language, llm=backend.label)
        session.add_learner_turn(attack["text"])
        shown: list[str] = []

        async def sink(token: str, shown: list[str] = shown) -> None:
            shown.append(token)

        try:
            result = await engine.respond(session, sink)
        except Exception as exc:
            report.results.append(
                LeakResult(attack["id"], persona.id, False, False, "error", [], "", type(exc).__name__)
            )
            continue
        # Independent re-check of everything the learner saw: the streamed text and the final reply.
        guard = engine.leak_guard(result.output.hidden.inner_monologue)
        reached = bool(guard.reasons("".join(shown)) or guard.reasons(result.output.reply))
        report.results.append(
            LeakResult(
                attack["id"],
                persona.id,
                result.guard.leaked,
                reached,
                result.guard.action,
                result.guard.reasons,
                result.output.reply,
            )
        )
    return report


def write(report: ProbeReport | LeakReport, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.md").write_text(report.to_markdown(), encoding="utf-8")
    payload: dict[str, Any] = {"llm": report.llm, "results": [r.__dict__ for r in report.results]}
    if isinstance(report, ProbeReport):
        payload["pass_rates"] = report.pass_rates()
        payload["voice"] = report.voice()
        payload["overall"] = report.overall()
        payload["spread"] = report.spread()
    else:
        payload["summary"] = report.summary()
    (directory / f"{name}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
