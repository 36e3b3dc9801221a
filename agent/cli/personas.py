"""`alliance personas validate|lint|new|show|schema`: faculty check and try patients without code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.config import Settings
from agent.domain.session import Session
from agent.domain.taxonomy import LANGS
from agent.llm.backends import ChatBackend
from agent.llm.fake import ScriptedChatModel
from agent.patient.engine import PatientEngine
from agent.persona.lint import lint_persona
from agent.persona.loader import PersonaLoadError, is_valid_id, load_paths, resolve_persona
from agent.persona.schema import SCHEMA_FILE_NAME, schema_text
from agent.persona.skeleton import skeleton


def _validate(paths: list[Path]) -> int:
    library = load_paths(paths)
    for error in library.errors:
        print(error)
    failed = len({e.path for e in library.errors})
    print(f"{len(library.personas)} valid, {failed} with errors")
    return 1 if library.errors else 0


def _lint(paths: list[Path], strict: bool) -> int:
    library = load_paths(paths)
    for error in library.errors:
        print(f"{error} (not linted: fix the error first)")
    count = 0
    for loaded in library.personas.values():
        for warning in lint_persona(loaded):
            print(warning)
            count += 1
    print(f"{len(library.personas)} linted, {count} warnings")
    if library.errors:
        return 1
    return 1 if strict and count else 0


def _new(args: argparse.Namespace, settings: Settings) -> int:
    pid = args.id.removesuffix(".yaml").removesuffix(".yml")
    other = [lang for lang in LANGS if lang != args.lang and pid.endswith(f".{lang}")]
    if other:
        print(f"error: {pid!r} ends with .{other[0]} but --lang is {args.lang}", file=sys.stderr)
        return 2
    if not pid.endswith(f".{args.lang}"):
        pid = f"{pid}.{args.lang}"
    if not is_valid_id(pid):
        print(f"error: {pid!r}: use lowercase letters, digits, '.', '-' or '_' (e.g. dupont.fr)", file=sys.stderr)
        return 2
    directory: Path = args.dir or settings.personas_dir
    path = directory / f"{pid}.yaml"
    if path.exists() and not args.force:
        print(f"error: {path} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(skeleton(args.lang), encoding="utf-8")
    if not (directory / SCHEMA_FILE_NAME).exists():
        (directory / SCHEMA_FILE_NAME).write_text(schema_text(), encoding="utf-8")
    print(f"wrote {path}: fill it, then `alliance personas validate {path}`")
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
    print(engine.system_prompt(session))
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.personas_command
    paths: list[Path] = getattr(args, "paths", None) or [settings.personas_dir]
    if command == "validate":
        return _validate(paths)
    if command == "lint":
        return _lint(paths, args.strict)
    if command == "new":
        return _new(args, settings)
    if command == "show":
        return _show(args, settings)
    out: Path = args.out or settings.personas_dir / SCHEMA_FILE_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {out}")
    return 0
