"""The `alliance` command: dispatch only (the arguments are declared in `agent.cli.arguments`)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable

from agent.cli.arguments import build_parser
from agent.config import Settings, get_settings
from agent.llm import redaction

# Each subcommand: the module and function that run it (imported only when that command runs).
COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("agent.cli.chat", "run"),
    "flag": ("agent.cli.flag", "run"),
    "eval": ("agent.cli.eval", "run"),
    "probes": ("agent.cli.check", "run_probes_command"),
    "leaks": ("agent.cli.check", "run_leaks_command"),
    "appraisal": ("agent.cli.check", "run_appraisal_command"),
    "users": ("agent.cli.users", "run"),
    "debrief": ("agent.cli.debrief", "run"),
    "personas": ("agent.cli.personas", "run"),
    "labels": ("agent.cli.labels", "run"),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    redaction.install()  # no credential of OPENAI_BASE_URL in a log line
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    settings = get_settings()
    module_name, function = COMMANDS[args.command]
    run: Callable[[argparse.Namespace, Settings], int] = getattr(importlib.import_module(module_name), function)
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
