"""The command line is declared in one place, one way, and building it stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.cli.arguments import build_parser
from agent.cli.main import COMMANDS

CLI = Path(__file__).resolve().parents[2] / "agent" / "cli"


def test_every_subcommand_is_declared_and_has_a_runner() -> None:
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices  # argparse's own table
    assert choices is not None and set(choices) == set(COMMANDS)


def test_arguments_are_declared_only_in_the_arguments_module() -> None:
    elsewhere = [
        p.name
        for p in CLI.glob("*.py")
        if p.name != "arguments.py" and "add_argument(" in p.read_text(encoding="utf-8")
    ]
    assert elsewhere == []


def test_building_the_parser_imports_no_model_or_framework() -> None:
    probe = (
        "import sys, agent.cli.arguments as a; a.build_parser(); print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    for heavy in ("langchain_core", "openai", "numpy", "chainlit", "sqlalchemy", "xllamacpp"):
        assert f"'{heavy}'" not in loaded, heavy
