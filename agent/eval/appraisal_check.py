"""`alliance appraisal`: the patients' appraisal checked without a model, in seconds.

Two questions, on material the reaction rules were not written from:
- **Probes** (`evals/probes/`): for every probe that expects a move, does the appraisal set off a rule whose
  move is one of those expected (right), another (wrong), or no rule (left to the model)? The paraphrased
  probes (`*_para`) were written apart from the rules, so they show whether the rules generalise. A probe
  whose bond must hold after a repair is checked on the alliance the rules leave.
- **Ordinary turns** (`evals/datasets/ordinary*.jsonl`, clinician turns, gold `none`): how often a plain
  clinical turn sets off a rupture rule, for each persona of its language. Wrong there is a patient who
  takes offence at "how have you slept?".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import REPO_ROOT, Settings
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Move, Speaker
from agent.eval.dataset import read_items
from agent.eval.probes import load_probes
from agent.patient.appraisal import RUPTURE_MOVES, Appraiser
from agent.persona.loader import LoadedPersona, load_library

ORDINARY_FILES = sorted((REPO_ROOT / "evals" / "datasets").glob("ordinary*.jsonl"))


@dataclass
class ProbeCase:
    persona: str
    probe: str
    paraphrase: bool
    expected: list[str]
    got: str | None  # the move of the rule set off on the last turn; None: no rule, the model decides
    bond_ok: bool | None = None  # for probes whose bond must hold; None when a turn set off no rule


@dataclass
class AppraisalReport:
    cases: list[ProbeCase] = field(default_factory=list)
    # One row per (persona, ordinary turn): persona, batch ("a": ordinary_*, "b": ordinary_b_*), and what the turn
    # set off: "rupture", "attune" (a rule of repair or none) or None.
    ordinary: list[tuple[str, str, str | None]] = field(default_factory=list)

    def probe_rates(self, paraphrase: bool | None = None) -> dict[str, float]:
        mine = [c for c in self.cases if c.expected and (paraphrase is None or c.paraphrase == paraphrase)]
        n = len(mine) or 1
        return {
            "right": round(sum(c.got in c.expected for c in mine) / n, 3),
            "wrong": round(sum(c.got is not None and c.got not in c.expected for c in mine) / n, 3),
            "left_to_model": round(sum(c.got is None for c in mine) / n, 3),
            "probes": len(mine),
        }

    def ordinary_rate(self, what: str = "rupture", batch: str | None = None, persona: str | None = None) -> float:
        rows = [r for r in self.ordinary if (batch is None or r[1] == batch) and (persona is None or r[0] == persona)]
        return round(sum(r[2] == what for r in rows) / len(rows), 4) if rows else 0.0

    def gate(self, thresholds: dict[str, float]) -> list[str]:
        failures = []
        right = self.probe_rates()["right"]
        if right < thresholds.get("min_probe_right", 0.0):
            failures.append(f"probe moves right {right} < {thresholds['min_probe_right']}")
        ordinary = self.ordinary_rate()
        if ordinary > thresholds.get("max_ordinary_rupture", 1.0):
            failures.append(f"ordinary turns read as rupture {ordinary} > {thresholds['max_ordinary_rupture']}")
        return failures

    def to_markdown(self) -> str:
        lines = ["# Appraisal (reaction rules, no model)", ""]
        for title, which in (("all", None), ("written with the probes", False), ("paraphrases", True)):
            r = self.probe_rates(which)
            lines.append(
                f"- probes, {title}: right {r['right']:.0%}, wrong {r['wrong']:.0%}, "
                f"left to the model {r['left_to_model']:.0%} ({r['probes']} probes)"
            )
        bonds = [c.bond_ok for c in self.cases if c.bond_ok is not None]
        if bonds:
            lines.append(f"- bond held after a repair: {sum(bonds)} of {len(bonds)}")
        for what, words in (("rupture", "set off a rupture rule"), ("attune", "set off a repair-or-none rule")):
            lines.append(
                f"- ordinary clinician turns that {words}: {self.ordinary_rate(what):.1%} (first batch "
                f"{self.ordinary_rate(what, 'a'):.1%}, second batch {self.ordinary_rate(what, 'b'):.1%}; the "
                "parameters were chosen on the French first batch: evals/DATA.md)"
            )
        lines += ["", "| persona | rupture rule set off | repair-or-none rule set off |", "|---|---|---|"]
        for persona in sorted({r[0] for r in self.ordinary}):
            rupture, attune = (
                self.ordinary_rate("rupture", persona=persona),
                self.ordinary_rate("attune", persona=persona),
            )
            lines.append(f"| {persona} | {rupture:.1%} | {attune:.1%} |")
        lines += ["", "| persona | probe | expected | rule's move |", "|---|---|---|---|"]
        for c in self.cases:
            if c.expected or c.got is not None:
                lines.append(f"| {c.persona} | {c.probe} | {', '.join(c.expected) or '-'} | {c.got or 'model'} |")
        return "\n".join(lines) + "\n"


def _probe_case(
    persona: LoadedPersona, appraiser: Appraiser, name: str, turns: list[str], expect: dict[str, Any]
) -> ProbeCase:
    session = Session(persona_id=persona.id, language=persona.persona.language, llm="appraisal")
    start = persona.persona.initial_alliance
    alliance = AlliancePerception(goals=start.goals, tasks=start.tasks, bond=start.bond)
    bonds: list[int | None] = []
    got: str | None = None
    for text in turns:
        session.add_learner_turn(text)
        react = appraiser.appraise(session)
        got = react.move.value if react else None
        alliance = react.alliance if react else alliance
        bonds.append(alliance.bond if react else None)
        hidden = HiddenState(
            inner_monologue="…",
            emotions=react.emotions if react else [],
            alliance=alliance,
            intended_move=react.move if react else Move.none,
        )
        session.add_patient_turn("…", hidden)
    bond_ok = None
    if expect.get("bond_not_below") and None not in bonds:
        ref = bonds[min(expect["bond_not_below"], len(bonds)) - 1]
        bond_ok = bool(bonds[-1] is not None and ref is not None and bonds[-1] >= ref)
    return ProbeCase(
        persona.id, name, name.endswith("_para"), [str(m) for m in expect.get("move_in") or []], got, bond_ok
    )


def run_appraisal(settings: Settings, only: list[str] | None = None) -> AppraisalReport:
    library = load_library(settings.personas_dir)
    report = AppraisalReport()
    ordinary = [
        (i, "b" if path.name.startswith("ordinary_b_") else "a")
        for path in ORDINARY_FILES
        for i in read_items(path).items
        if i.speaker is Speaker.clinician
    ]
    for persona in library.personas.values():
        if only and persona.id not in only:
            continue
        appraiser = Appraiser(persona.persona)
        for probe in load_probes(persona):
            expect = probe.expect.model_dump(exclude_none=True)
            report.cases.append(_probe_case(persona, appraiser, probe.name, probe.turns, expect))
        if not persona.persona.reactions:
            continue
        for item, batch in ordinary:
            if item.lang != persona.persona.language:
                continue
            session = Session(persona_id=persona.id, language=persona.persona.language, llm="appraisal")
            session.add_learner_turn(item.text)
            react = appraiser.appraise(session)
            what = None if react is None else "rupture" if react.move in RUPTURE_MOVES else "attune"
            report.ordinary.append((persona.id, batch, what))
    return report


def load_thresholds(path: Path) -> dict[str, float]:
    with path.open("rb") as f:
        return dict(tomllib.load(f).get("appraisal", {}))
