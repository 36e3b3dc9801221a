"""`alliance eval`: score the evaluator on labelled datasets or on saved sessions."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tomllib
from pathlib import Path

from agent.config import REPO_ROOT, Settings
from agent.domain.session import Session
from agent.domain.taxonomy import Lang, Move, Speaker
from agent.eval.dataset import ContextTurn, LabelledItem
from agent.eval.harness import (
    Report,
    final_line,
    flag_rate,
    flag_rate_line,
    load_datasets,
    score,
    solve,
    write_predictions,
    write_report,
)
from agent.evaluator.detector import load_default_model
from agent.evaluator.merge import build_evaluator
from agent.i18n.catalog import cli_lang, number, percent, t

DATASETS_DIR = REPO_ROOT / "evals" / "datasets"
THRESHOLDS = REPO_ROOT / "evals" / "thresholds.toml"


def items_from_transcripts(directory: Path, lang: Lang = "en") -> tuple[list[LabelledItem], list[str]]:
    """Patient turns of saved sessions, gold = the simulated patient's own intended move."""
    items: list[LabelledItem] = []
    errors: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            session = Session.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            errors.append(t("cli.eval.not_a_transcript", lang, path=path, reason=type(exc).__name__))
            continue
        for index, turn in enumerate(session.turns):
            if turn.speaker is not Speaker.patient or turn.hidden is None:
                continue
            move = turn.hidden.intended_move
            gold = move.value if move in (Move.withdrawal, Move.confrontation) else "none"
            context = [ContextTurn(speaker=t.speaker, text=t.text) for t in session.turns[:index]]
            items.append(
                LabelledItem(
                    id=f"{session.id}:{turn.id}",
                    context=context,
                    speaker=turn.speaker,
                    text=turn.text,
                    gold_label=gold,
                    lang=session.language,
                )
            )
    return items, errors


def check_gate(
    report: Report, evaluator: str, path: Path = THRESHOLDS, lang: Lang = "en", gate_set: str = "heldout"
) -> str | None:
    """None when the report meets this evaluator's thresholds in `[gate_set.evaluator]`, else the reason.

    `macro_f1` is a floor (our held-out split). The ceilings are for sets whose turns are all ordinary, where
    every flag is a false one: `max_flag_rate` on the share whose predicted label is not `none`,
    `max_finding_rate` on the share with any finding above the calibrated thresholds, `max_shown_rate` on the
    share with anything shown at all (possibilities included)."""
    thresholds = tomllib.loads(path.read_text(encoding="utf-8")).get(gate_set, {}).get(evaluator, {})
    minimum = thresholds.get("macro_f1")
    ceilings = {
        "max_flag_rate": flag_rate(report),
        "max_finding_rate": report.finding_rate.get("all", 0.0),
        "max_shown_rate": report.shown_rate.get("all", 0.0),
    }
    if minimum is None and not ceilings.keys() & thresholds.keys():
        return t("cli.eval.no_threshold", lang, evaluator=repr(evaluator), gate_set=gate_set, path=path)
    if minimum is not None and report.macro_f1 < minimum:
        score = number(report.macro_f1, lang, decimals=4, fixed=True)
        return t("cli.eval.below_threshold", lang, score=score, minimum=number(minimum, lang, decimals=6), path=path)
    for key, rate in ceilings.items():
        if key in thresholds and rate > thresholds[key]:
            maximum = percent(thresholds[key], lang)
            return t("cli.eval.above_flag_rate", lang, rate=percent(rate, lang), maximum=maximum, path=path, what=key)
    return None


def _unreadable_gate(path: Path, lang: Lang) -> str | None:
    """Why the thresholds file cannot be used, or None."""
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return t("cli.eval.bad_gate", lang, path=path, reason=reason)
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    lang = cli_lang()
    if args.gate and (bad := _unreadable_gate(Path(args.gate), lang)):  # before any work, not after it
        print(t("cli.error", lang, message=bad), file=sys.stderr)
        return 1
    if args.transcripts:
        if not Path(args.transcripts).is_dir():
            no_directory = t("cli.eval.no_directory", lang, path=args.transcripts)
            print(t("cli.error", lang, message=no_directory), file=sys.stderr)
            return 1
        items, load_errors = items_from_transcripts(Path(args.transcripts), lang)
        names = [str(args.transcripts)]
    else:
        paths = [Path(p) for p in args.dataset] if args.dataset else sorted(DATASETS_DIR.glob("*.jsonl"))
        missing = [p for p in paths if not p.is_file()]
        if missing:
            no_dataset = t("cli.eval.no_dataset", lang, paths=", ".join(map(str, missing)))
            print(t("cli.error", lang, message=no_dataset), file=sys.stderr)
            return 2
        items, load_errors = load_datasets(paths)
        names = [p.name for p in paths]
    for error in load_errors:
        print(t("cli.warning", lang, message=error), file=sys.stderr)
    if not items:  # never a silent success on no input
        nothing = t("cli.eval.nothing_to_score", lang, sources=", ".join(names))
        print(t("cli.error", lang, message=nothing), file=sys.stderr)
        return 1
    evaluator = build_evaluator(args.evaluator, settings, args.llm)
    assert evaluator is not None
    versions: dict[str, str] = {}
    if evaluator.detector is not None:
        versions["detector"] = str(load_default_model().meta.get("train_sha256", "?"))[:12]
    if evaluator.judge is not None:
        from agent.evaluator.judge import judge_prompt_version

        versions["judge_prompts"] = judge_prompt_version()
        versions["llm"] = evaluator.judge.backend.label
    concurrency = 1 if evaluator.judge is None else args.concurrency
    predictions = asyncio.run(solve(items, evaluator, concurrency, sys.stderr if not args.quiet else None))
    report = score(predictions, names, args.evaluator, versions)
    report.load_errors = load_errors
    if evaluator.judge is not None:
        report.usage = evaluator.judge.usage()
    if args.predictions_out:
        write_predictions(predictions, Path(args.predictions_out))
    if args.report:
        write_report(report, Path(args.report))
    status = 0
    if args.gate:
        failure = check_gate(report, args.evaluator, Path(args.gate), lang, args.gate_set)
        if failure:
            print(t("cli.eval.gate_failed", lang, reason=failure), file=sys.stderr)
            status = 1
    for label, s in report.per_label.items():
        print(f"{label:>14}  P={s.precision:.3f} R={s.recall:.3f} F1={s.f1:.3f} n={s.support}")
    if report.unscored:
        print(t("cli.eval.unscored", lang, labels=report.unscored))
    if "none" in report.confusion:
        print(flag_rate_line(report))
    print(final_line(report))
    return status
