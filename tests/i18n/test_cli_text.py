"""The command line speaks the terminal's language, from the catalog; numbers and shares through Babel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.cli.arguments import build_parser
from agent.cli.main import main
from agent.i18n.catalog import number, percent

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "agent" / "cli"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def _locale(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, r"^\d+ valid, 0 with errors$"),  # no locale at all: English
        ({"LANG": "C.UTF-8"}, r"^\d+ valid, 0 with errors$"),
        ({"LANG": "fr_CA.UTF-8"}, r"^\d+ valides, 0 avec des erreurs$"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8"}, r"^\d+ valides, 0 avec des erreurs$"),
        ({"LANG": "fr_CA.UTF-8", "LC_ALL": "C"}, r"^\d+ valid, 0 with errors$"),  # LC_ALL wins
    ],
)
def test_command_output_follows_the_terminal_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], expected: str
) -> None:
    _locale(monkeypatch, **env)
    assert main(["personas", "validate", str(REPO / "personas")]) == 0
    assert re.search(expected, capsys.readouterr().out, re.M)


def test_errors_are_framed_in_the_terminal_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _locale(monkeypatch, LANG="fr_CA.UTF-8")
    assert main(["debrief", str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err == f"erreur : {tmp_path / 'absent.json'} : fichier introuvable\n"
    _locale(monkeypatch)
    assert main(["debrief", str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'absent.json'}: no such file\n"


def test_the_help_is_in_both_languages() -> None:
    english, french = build_parser("en").format_help(), build_parser("fr").format_help()
    assert "talk with a patient in the terminal" in english
    assert "parler avec un patient dans le terminal" in french
    assert "talk with a patient" not in french


def test_numbers_and_shares_go_through_babel() -> None:
    assert percent(0.8, "en") == "80%" and percent(0.856, "fr") == "86\u00a0%"  # CLDR: a no-break space in French
    assert number(0.5, "en", decimals=4, fixed=True) == "0.5000"
    assert number(0.61234, "fr", decimals=4, fixed=True) == "0,6123"
    assert number(1234, "fr") == "1\u00a0234" and number(1234, "en") == "1,234"


# --------------------------------------------------------------------------- no English left in agent/cli

# Calls that put text in front of someone: printing, writing, prompting, exiting or failing with a message,
# and argparse's help and description. A literal with a word in it, there, is a string kept outside the catalog.
_SHOWN = {"print", "write", "getpass", "SystemExit", "ArgumentParser", "add_argument", "add_parser"}
_WORD = re.compile(r"[A-Za-z]{3,}")


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literal_words(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_WORD.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_literal_words(part) for part in node.values)
    if isinstance(node, ast.BinOp):
        return _literal_words(node.left) or _literal_words(node.right)
    return False


def shown_literals(source: str) -> list[str]:
    """Text with words, written straight into a call that shows it (its line and the text)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        stream = name != "write" or isinstance(node.func, ast.Attribute)  # out.write(...), not a file writer's write()
        shown = (name in _SHOWN and stream) or name.endswith("Error")
        values = [kw.value for kw in node.keywords if kw.arg in ("help", "description")]
        if shown and name not in ("add_argument", "add_parser", "ArgumentParser"):
            values += node.args
        found += [f"{node.lineno}: {ast.unparse(v)}" for v in values if _literal_words(v)]
    return found


def test_the_scanner_finds_text_written_in_the_code() -> None:
    assert shown_literals('print(f"error: {exc}", file=sys.stderr)\n')
    assert shown_literals('out.write("no users in " + str(path) + "\\n")\n')
    assert shown_literals('parser.add_argument("--x", help="log to stderr")\n')
    assert shown_literals('raise DebriefError(f"{path}: no such file")\n')
    assert not shown_literals('print(t("cli.error", lang, message=str(exc)), file=sys.stderr)\n')
    assert not shown_literals('write(report, Path(args.report), "probes")\n')
    assert not shown_literals('out.write(f"{name}\\t{role}\\n")\nparser.add_argument("--lang", choices=["fr"])\n')


def test_the_command_line_takes_its_words_from_the_catalog() -> None:
    found = {p.name: hits for p in sorted(CLI.glob("*.py")) if (hits := shown_literals(p.read_text(encoding="utf-8")))}
    assert not found, f"move these into agent/i18n/*.toml (cli.*): {found}"
