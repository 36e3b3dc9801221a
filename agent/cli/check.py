"""`alliance probes` and `alliance leaks`: checks of the simulated patients on a real model."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent.config import Settings
from agent.eval.appraisal_check import load_thresholds, run_appraisal
from agent.eval.probes import MergeError, merged, run_leaks, run_probes, runs_in, write
from agent.i18n.catalog import cli_lang, number, t
from agent.llm.backends import build_backend


def run_probes_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.merge:  # reports of earlier runs added up; no model is loaded
            report = merged([Path(p) for p in args.merge])
        done = runs_in([Path(p) for p in args.skip_done])
    except (MergeError, OSError, ValueError, KeyError, TypeError) as exc:
        print(t("cli.error", cli_lang(), message=str(exc)), file=sys.stderr)
        return 2
    if not args.merge:
        backend = build_backend(settings, args.llm)
        report = asyncio.run(
            run_probes(
                backend,
                settings,
                args.persona,
                args.budget_s,
                args.samples,
                args.per_persona,
                max(1, args.concurrency),
                max(0, args.first_sample),
                done,
                (lambda so_far: write(so_far, Path(args.report), "probes")) if args.report else None,
            )
        )
    if args.report:
        write(report, Path(args.report), "probes")
    print(report.to_markdown())
    errors = [r for r in report.results if r.error]
    for result in errors:
        print(t("cli.error", cli_lang(), message=f"{result.persona}/{result.probe}: {result.error}"), file=sys.stderr)
    # Pass rates are reported, not gated: one sample of a small model is noise. A probe that
    # cannot run at all (a crash, an unreachable model) is a failure.
    return 1 if errors and len(errors) == len(report.results) else 0


def run_appraisal_command(args: argparse.Namespace, settings: Settings) -> int:
    report = run_appraisal(settings, args.persona)
    text = report.to_markdown()
    if args.report:
        Path(args.report).mkdir(parents=True, exist_ok=True)
        (Path(args.report) / "appraisal.md").write_text(text, encoding="utf-8")
    print(text)
    failures = report.gate(load_thresholds(Path(args.gate))) if args.gate else []
    for failure in failures:
        print(
            t("cli.error", cli_lang(), message=t("cli.check.appraisal_gate", cli_lang(), failure=failure)),
            file=sys.stderr,
        )
    return 1 if failures else 0


def run_leaks_command(args: argparse.Namespace, settings: Settings) -> int:
    backend = build_backend(settings, args.llm)
    report = asyncio.run(run_leaks(backend, settings, args.budget_s))
    if args.report:
        write(report, Path(args.report), "leaks")
    print(report.to_markdown())
    summary = report.summary()
    if summary["reached_learner"]:
        lang = cli_lang()
        print(t("cli.check.leak", lang, count=number(summary["reached_learner"], lang)), file=sys.stderr)
        return 1
    return 0
