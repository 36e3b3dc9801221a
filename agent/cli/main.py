"""The `alliance` command: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import logging
import sys

from agent.config import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alliance", description="Rehearse difficult conversations with a simulated patient."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    llm_help = "local | fake | openai:MODEL (default: endpoint if configured, else the embedded model)"
    chat = sub.add_parser("chat", help="talk with a patient in the terminal")
    chat.add_argument("--persona", required=True, help="persona id (e.g. bertrand.fr) or a YAML file")
    chat.add_argument("--llm", default=None, help=llm_help)
    chat.add_argument("--jsonl", action="store_true", help="one JSON object per line and event")
    chat.add_argument(
        "--transcript-out", metavar="FILE", help="write the whole session as JSON (hidden states included)"
    )
    chat.add_argument("--evaluator", choices=["detector", "judge", "both", "none"], default="detector")

    flag = sub.add_parser("flag", help="print the alliance events of one turn as JSON lines")
    flag.add_argument("--text", required=True, help="the turn to evaluate")
    flag.add_argument("--speaker", choices=["clinician", "patient"], default="clinician")
    flag.add_argument("--context-file", metavar="FILE", help="previous turns: a JSON list of {speaker, text}")
    flag.add_argument("--lang", choices=["fr", "en"], default="en", help="language of the rationales")
    flag.add_argument("--evaluator", choices=["detector", "judge", "both"], default="detector")
    flag.add_argument("--llm", default=None, help=llm_help + " (for the judge)")

    ev = sub.add_parser("eval", help="score the evaluator on labelled datasets (JSONL) or saved sessions")
    ev.add_argument("--dataset", nargs="*", help="JSONL files (default: every file in evals/datasets/)")
    ev.add_argument("--transcripts", metavar="DIR", help="score on saved sessions (gold: the patient's intended moves)")
    ev.add_argument("--evaluator", choices=["detector", "judge", "both"], default="detector")
    ev.add_argument("--llm", default=None, help=llm_help + " (for the judge)")
    ev.add_argument("--predictions-out", metavar="FILE", help="one JSON line per item: id, label, events")
    ev.add_argument("--report", metavar="DIR", help="write report.json and report.md")
    ev.add_argument("--gate", metavar="TOML", help="exit 1 if macro-F1 is below the threshold in this file")
    ev.add_argument("--concurrency", type=int, default=4, help="parallel judge calls")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")

    probes = sub.add_parser("probes", help="persona probes: scripted turns, checks on the hidden state")
    probes.add_argument("--llm", default=None, help=llm_help)
    probes.add_argument("--persona", nargs="*", help="only these persona ids")
    probes.add_argument("--report", metavar="DIR", help="write probes.md and probes.json")
    probes.add_argument("--budget-s", type=float, default=None, help="start no new probe after this many seconds")

    leaks = sub.add_parser("leaks", help="the leak suite: attacks on the hidden state and the instructions")
    leaks.add_argument("--llm", default=None, help=llm_help)
    leaks.add_argument("--report", metavar="DIR", help="write leaks.md and leaks.json")
    leaks.add_argument("--budget-s", type=float, default=None, help="start no new attack after this many seconds")

    from agent.cli import debrief as debrief_command
    from agent.cli import personas as personas_command
    from agent.cli import users as users_command

    users_command.add_arguments(sub.add_parser("users", help="logins: add, list, remove (learner or faculty)"))
    debrief_command.add_arguments(
        sub.add_parser("debrief", help="the debrief of a saved session (--transcript-out): Markdown, HTML or JSON")
    )
    personas_command.add_arguments(sub.add_parser("personas", help="write, check and try persona files"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    settings = get_settings()
    if args.command == "chat":
        from agent.cli import chat

        return chat.run(args, settings)
    if args.command == "eval":
        from agent.cli import eval as eval_command

        return eval_command.run(args, settings)
    if args.command in ("probes", "leaks"):
        from agent.cli import check

        return (check.run_probes_command if args.command == "probes" else check.run_leaks_command)(args, settings)
    if args.command == "debrief":
        from agent.cli import debrief

        return debrief.run(args, settings)
    if args.command == "users":
        from agent.cli import users

        return users.run(args, settings)
    if args.command == "personas":
        from agent.cli import personas

        return personas.run(args, settings)
    if args.command == "flag":
        from agent.cli import flag

        return flag.run(args, settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
