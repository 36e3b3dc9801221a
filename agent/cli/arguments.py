"""Every argument of the `alliance` command, declared in one place and one way (argparse).

Light on purpose: building the parser imports no model, framework or data, so `alliance --help`
and the quick subcommands start at once; each command's module is imported only to run it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.domain.taxonomy import LANGS
from agent.persona.schema import SCHEMA_FILE_NAME
from agent.storage.access import ROLES


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

    _users(sub.add_parser("users", help="logins: add, list, remove (learner or faculty)"))
    _debrief(
        sub.add_parser("debrief", help="the debrief of a saved session (--transcript-out): Markdown, HTML or JSON")
    )
    _personas(sub.add_parser("personas", help="write, check and try persona files"))
    return parser


def _users(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file", type=Path, help="the users file (default: ALLIANCE_USERS_FILE or DATA_DIR/users.toml)"
    )
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="add a user, or change their role and password")
    add.add_argument("name", help="login name: letters, digits, '.', '_', '@', '-'")
    add.add_argument("--role", choices=ROLES, default="learner", help="learner (default) or faculty")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    sub.add_parser("list", help="list the users and their roles (never the hashes)")
    remove = sub.add_parser("remove", help="remove a user (their kept sessions stay, visible to faculty)")
    remove.add_argument("name")


def _debrief(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "transcript", metavar="TRANSCRIPT.json", help="a session written by `alliance chat --transcript-out`"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="FILE.md (also writes FILE.svg beside it), FILE.html (self-contained) or FILE.json; "
        "default: Markdown on stdout",
    )
    parser.add_argument("--compare", metavar="OTHER.json", help="another branch of the same visit")
    parser.add_argument(
        "--lang", choices=list(LANGS), default=None, help="language of the headings (default: the session's)"
    )


def _personas(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="personas_command", required=True)
    paths_help = "persona files or directories (default: the persona directory)"
    validate = sub.add_parser("validate", help="check persona files; every error as file:line: field: message")
    validate.add_argument("paths", nargs="*", type=Path, help=paths_help)
    lint = sub.add_parser("lint", help="quality warnings on valid personas")
    lint.add_argument("paths", nargs="*", type=Path, help=paths_help)
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    new = sub.add_parser("new", help="write a commented skeleton to fill")
    new.add_argument("id", help="the new persona's id, which is its file name: e.g. dupont.fr")
    new.add_argument("--lang", choices=list(LANGS), required=True, help="the patient's language")
    new.add_argument("--dir", type=Path, default=None, help="where to write it (default: the persona directory)")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    show = sub.add_parser("show", help="the patient prompt this persona produces (no LLM is called)")
    show.add_argument("persona", help="persona id (e.g. bertrand.fr) or a YAML file")
    show.add_argument("--compact", action="store_true", help="the shorter prompt the embedded model gets")
    schema = sub.add_parser("schema", help=f"write the JSON Schema for editors ({SCHEMA_FILE_NAME})")
    schema.add_argument("--out", type=Path, default=None, help="default: persona directory/" + SCHEMA_FILE_NAME)
