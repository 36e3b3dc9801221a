"""`alliance personas validate|lint|new|show|schema`: faculty check and try patients without code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.config import Settings
from agent.domain.session import Session
from agent.domain.taxonomy import LANGS, Lang
from agent.i18n.catalog import cli_lang, number, t
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.patient.engine import PatientEngine
from agent.persona.lint import lint_persona
from agent.persona.loader import PersonaLoadError, is_valid_id, load_paths, resolve_persona
from agent.persona.schema import SCHEMA_FILE_NAME, schema_text
from agent.persona.skeleton import skeleton


def _validate(paths: list[Path], lang: Lang) -> int:
    library = load_paths(paths)
    for error in library.errors:
        print(error)
    if not library.personas and not library.errors:  # an empty folder is not a success
        where = ", ".join(str(p) for p in paths)
        print(t("cli.error", lang, message=t("cli.personas.none_found", lang, paths=where)), file=sys.stderr)
        return 1
    failed = len({e.path for e in library.errors})
    print(t("cli.personas.validated", lang, valid=number(len(library.personas), lang), failed=number(failed, lang)))
    return 1 if library.errors else 0


def _lint(paths: list[Path], strict: bool, lang: Lang) -> int:
    library = load_paths(paths)
    for error in library.errors:
        print(t("cli.personas.not_linted", lang, error=error))
    count = 0
    for loaded in library.personas.values():
        for warning in lint_persona(loaded, lang):
            print(warning)
            count += 1
    print(t("cli.personas.linted", lang, linted=number(len(library.personas), lang), warnings=number(count, lang)))
    if library.errors:
        return 1
    return 1 if strict and count else 0


def _new(args: argparse.Namespace, settings: Settings, lang: Lang) -> int:
    pid = args.id.removesuffix(".yaml").removesuffix(".yml")
    other = [code for code in LANGS if code != args.lang and pid.endswith(f".{code}")]
    if other:
        mismatch = t("cli.personas.lang_mismatch", lang, persona=repr(pid), suffix=other[0], chosen=args.lang)
        print(t("cli.error", lang, message=mismatch), file=sys.stderr)
        return 2
    if not pid.endswith(f".{args.lang}"):
        pid = f"{pid}.{args.lang}"
    if not is_valid_id(pid):
        print(t("cli.error", lang, message=t("cli.personas.bad_id", lang, persona=repr(pid))), file=sys.stderr)
        return 2
    directory: Path = args.dir or settings.personas_dir
    path = directory / f"{pid}.yaml"
    if path.exists() and not args.force:
        print(t("cli.error", lang, message=t("cli.personas.exists", lang, path=path)), file=sys.stderr)
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(skeleton(args.lang), encoding="utf-8")
    if not (directory / SCHEMA_FILE_NAME).exists():
        (directory / SCHEMA_FILE_NAME).write_text(schema_text(), encoding="utf-8")
    print(t("cli.personas.written", lang, path=path))
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    try:
        loaded = resolve_persona(args.persona, settings.personas_dir)
    except PersonaLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    # A backend that is never called: it only tells the engine which prompt variant to render.
    backend = ChatBackend(ScriptedChatModel(), "none", compact_prompt=args.compact)
    engine = PatientEngine(loaded.persona, backend, settings)
    session = Session(persona_id=loaded.id, language=loaded.persona.language, llm=backend.label)
    if not args.tries:
        print(engine.system_prompt(session))
        return 0
    lang = cli_lang()
    for text in args.tries:  # what each learner line would set off, as a first line of the visit
        trial = Session(persona_id=loaded.id, language=loaded.persona.language, llm=backend.label)
        trial.add_learner_turn(text)
        stance, share, _ = engine.appraiser.stance(text)
        react = engine.appraiser.appraise(trial)
        print(f"> {text}")
        if react is None:
            print("  " + t("cli.personas.try_none", lang, stance=stance, share=f"{share:.2f}"))
            continue
        a = react.alliance
        print(
            "  "
            + t(
                "cli.personas.try_rule",
                lang,
                n=react.index + 1,
                when=react.rule.when,
                stance=react.stance,
                share=f"{react.share:.2f}",
                move=react.move.value,
                alliance=f"{a.goals}/{a.tasks}/{a.bond}",
                emotions=", ".join(e.value for e in react.emotions) or "-",
            )
        )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.personas_command
    lang = cli_lang()
    paths: list[Path] = getattr(args, "paths", None) or [settings.personas_dir]
    if command == "validate":
        return _validate(paths, lang)
    if command == "lint":
        return _lint(paths, args.strict, lang)
    if command == "new":
        return _new(args, settings, lang)
    if command == "show":
        return _show(args, settings)
    out: Path = args.out or settings.personas_dir / SCHEMA_FILE_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schema_text(), encoding="utf-8")
    print(t("cli.personas.schema_written", lang, path=out))
    return 0
