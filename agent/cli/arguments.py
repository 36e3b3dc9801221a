"""Every argument of the `alliance` command, declared in one place and one way (argparse).

Light on purpose: building the parser imports no model, framework or data, so `alliance --help`
and the quick subcommands start at once; each command's module is imported only to run it.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from agent.domain.taxonomy import LANGS, Lang
from agent.i18n.catalog import cli_lang, t
from agent.persona.schema import SCHEMA_FILE_NAME
from agent.storage.access import ROLES


def at_least_one(text: str) -> int:
    """A count of parallel calls: 0 would wait forever, a negative number means nothing."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.at_least_one", cli_lang(), value=repr(text)))
    return value


def build_parser(lang: Lang | None = None) -> argparse.ArgumentParser:
    """The parser, its help in `lang` (default: the terminal's language, see `cli_lang`)."""
    lang = lang or cli_lang()
    h = partial(t, lang=lang)
    parser = argparse.ArgumentParser(prog="alliance", description=h("cli.help.description"))
    parser.add_argument("-v", "--verbose", action="store_true", help=h("cli.help.verbose"))
    sub = parser.add_subparsers(dest="command", required=True)

    llm_help = h("cli.help.llm")
    judge_llm_help = h("cli.help.llm_judge", llm=llm_help)
    chat = sub.add_parser("chat", help=h("cli.help.chat"))
    chat.add_argument("--persona", required=True, help=h("cli.help.chat_persona"))
    chat.add_argument("--llm", default=None, help=llm_help)
    chat.add_argument("--jsonl", action="store_true", help=h("cli.help.chat_jsonl"))
    chat.add_argument("--transcript-out", metavar="FILE", help=h("cli.help.chat_transcript_out"))
    chat.add_argument("--evaluator", choices=["detector", "judge", "both", "none"], default="detector")

    flag = sub.add_parser("flag", help=h("cli.help.flag"))
    flag.add_argument("--text", required=True, help=h("cli.help.flag_text"))
    flag.add_argument("--speaker", choices=["clinician", "patient"], default="clinician")
    flag.add_argument("--context-file", metavar="FILE", help=h("cli.help.flag_context_file"))
    flag.add_argument("--lang", choices=["fr", "en"], default="en", help=h("cli.help.flag_lang"))
    flag.add_argument("--evaluator", choices=["detector", "judge", "both"], default="detector")
    flag.add_argument("--llm", default=None, help=judge_llm_help)

    ev = sub.add_parser("eval", help=h("cli.help.eval"))
    ev.add_argument("--dataset", nargs="*", help=h("cli.help.eval_dataset"))
    ev.add_argument("--transcripts", metavar="DIR", help=h("cli.help.eval_transcripts"))
    ev.add_argument("--evaluator", choices=["detector", "judge", "both"], default="detector")
    ev.add_argument("--llm", default=None, help=judge_llm_help)
    ev.add_argument("--predictions-out", metavar="FILE", help=h("cli.help.eval_predictions_out"))
    ev.add_argument("--report", metavar="DIR", help=h("cli.help.eval_report"))
    ev.add_argument("--gate", metavar="TOML", help=h("cli.help.eval_gate"))
    ev.add_argument(
        "--gate-set", choices=("heldout", "external", "ordinary"), default="heldout", help=h("cli.help.eval_gate_set")
    )
    ev.add_argument("--concurrency", type=at_least_one, default=4, help=h("cli.help.eval_concurrency"))
    ev.add_argument("--quiet", action="store_true", help=h("cli.help.eval_quiet"))

    probes = sub.add_parser("probes", help=h("cli.help.probes"))
    probes.add_argument("--llm", default=None, help=llm_help)
    probes.add_argument("--persona", nargs="*", help=h("cli.help.probes_persona"))
    probes.add_argument("--report", metavar="DIR", help=h("cli.help.probes_report"))
    probes.add_argument("--budget-s", type=float, default=None, help=h("cli.help.probes_budget"))
    probes.add_argument("--samples", type=int, default=1, help=h("cli.help.probes_samples"))
    probes.add_argument("--per-persona", type=int, default=None, help=h("cli.help.probes_per_persona"))
    probes.add_argument("--concurrency", type=int, default=1, help=h("cli.help.probes_concurrency"))
    probes.add_argument("--first-sample", type=int, default=0, help=h("cli.help.probes_first_sample"))
    probes.add_argument("--merge", nargs="+", metavar="JSON", help=h("cli.help.probes_merge"))
    probes.add_argument("--skip-done", nargs="+", metavar="JSON", default=[], help=h("cli.help.probes_skip_done"))

    appraisal = sub.add_parser("appraisal", help=h("cli.help.appraisal"))
    appraisal.add_argument("--persona", nargs="*", help=h("cli.help.probes_persona"))
    appraisal.add_argument("--report", metavar="DIR", help=h("cli.help.probes_report"))
    appraisal.add_argument("--gate", metavar="TOML", help=h("cli.help.appraisal_gate"))

    leaks = sub.add_parser("leaks", help=h("cli.help.leaks"))
    leaks.add_argument("--llm", default=None, help=llm_help)
    leaks.add_argument("--report", metavar="DIR", help=h("cli.help.leaks_report"))
    leaks.add_argument("--budget-s", type=float, default=None, help=h("cli.help.leaks_budget"))

    _users(sub.add_parser("users", help=h("cli.help.users")), lang)
    _debrief(sub.add_parser("debrief", help=h("cli.help.debrief")), lang)
    _personas(sub.add_parser("personas", help=h("cli.help.personas")), lang)
    _labels(sub.add_parser("labels", help=h("cli.help.labels")), lang)
    return parser


def _users(parser: argparse.ArgumentParser, lang: Lang) -> None:
    h = partial(t, lang=lang)
    parser.add_argument("--file", type=Path, help=h("cli.help.users_file"))
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help=h("cli.help.users_add"))
    add.add_argument("name", help=h("cli.help.users_name"))
    add.add_argument("--role", choices=ROLES, default="learner", help=h("cli.help.users_role"))
    add.add_argument("--password-stdin", action="store_true", help=h("cli.help.users_password_stdin"))
    sub.add_parser("list", help=h("cli.help.users_list"))
    remove = sub.add_parser("remove", help=h("cli.help.users_remove"))
    remove.add_argument("name")


def _labels(parser: argparse.ArgumentParser, lang: Lang) -> None:
    h = partial(t, lang=lang)
    sub = parser.add_subparsers(dest="labels_command", required=True)
    export = sub.add_parser("export", help=h("cli.help.labels_export"))
    export.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help=h("cli.help.labels_out"))
    export.add_argument("--consensus-only", action="store_true", help=h("cli.help.labels_consensus_only"))
    export.add_argument("--with-learner", action="store_true", help=h("cli.help.labels_with_learner"))
    agreement = sub.add_parser("agreement", help=h("cli.help.labels_agreement"))
    agreement.add_argument("--session", metavar="THREAD_ID", help=h("cli.help.labels_session"))


def _debrief(parser: argparse.ArgumentParser, lang: Lang) -> None:
    h = partial(t, lang=lang)
    parser.add_argument("transcript", metavar="TRANSCRIPT.json", help=h("cli.help.debrief_transcript"))
    parser.add_argument(
        "--out",
        metavar="FILE",
        help=h("cli.help.debrief_out"),
    )
    parser.add_argument("--compare", metavar="OTHER.json", help=h("cli.help.debrief_compare"))
    parser.add_argument("--lang", choices=list(LANGS), default=None, help=h("cli.help.debrief_lang"))


def _personas(parser: argparse.ArgumentParser, lang: Lang) -> None:
    h = partial(t, lang=lang)
    sub = parser.add_subparsers(dest="personas_command", required=True)
    paths_help = h("cli.help.personas_paths")
    validate = sub.add_parser("validate", help=h("cli.help.personas_validate"))
    validate.add_argument("paths", nargs="*", type=Path, help=paths_help)
    lint = sub.add_parser("lint", help=h("cli.help.personas_lint"))
    lint.add_argument("paths", nargs="*", type=Path, help=paths_help)
    lint.add_argument("--strict", action="store_true", help=h("cli.help.personas_strict"))
    new = sub.add_parser("new", help=h("cli.help.personas_new"))
    new.add_argument("id", help=h("cli.help.personas_id"))
    new.add_argument("--lang", choices=list(LANGS), required=True, help=h("cli.help.personas_lang"))
    new.add_argument("--dir", type=Path, default=None, help=h("cli.help.personas_dir"))
    new.add_argument("--force", action="store_true", help=h("cli.help.personas_force"))
    show = sub.add_parser("show", help=h("cli.help.personas_show"))
    show.add_argument("persona", help=h("cli.help.chat_persona"))
    show.add_argument("--compact", action="store_true", help=h("cli.help.personas_compact"))
    show.add_argument(
        "--try", dest="tries", action="append", default=[], metavar="TEXT", help=h("cli.help.personas_try")
    )
    schema = sub.add_parser("schema", help=h("cli.help.personas_schema", file=SCHEMA_FILE_NAME))
    schema.add_argument("--out", type=Path, default=None, help=h("cli.help.personas_schema_out", file=SCHEMA_FILE_NAME))
