"""`alliance debrief TRANSCRIPT.json`: the debrief of a saved session, as Markdown, HTML or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from agent.config import Settings
from agent.debrief.build import build_debrief
from agent.debrief.html import to_html
from agent.debrief.markdown import to_markdown
from agent.debrief.model import to_json
from agent.debrief.svg import timeline_svg
from agent.domain.session import Session
from agent.domain.taxonomy import Lang
from agent.i18n.catalog import cli_lang, number, t
from agent.persona.loader import PersonaLoadError, resolve_persona
from agent.persona.model import Persona

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".json": "json"}


class DebriefError(Exception):
    """A problem the user can fix, reported as one line."""


def _one_line(exc: ValidationError, lang: Lang) -> str:
    """pydantic's first error (its own English words), located; then how many more."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or t("cli.debrief.top", lang)
    more = (
        t("cli.debrief.more_errors", lang, count=number(exc.error_count() - 1, lang)) if exc.error_count() > 1 else ""
    )
    return f"{where}: {first['msg']}{more}"


def load_session(path: Path, lang: Lang = "en") -> Session:
    """A saved session; a DebriefError (in `lang`, the terminal's language) when it cannot be read."""
    try:
        return Session.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DebriefError(t("cli.debrief.no_file", lang, path=path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DebriefError(t("cli.debrief.cannot_read", lang, path=path, reason=exc)) from exc
    except ValidationError as exc:
        raise DebriefError(t("cli.debrief.not_a_transcript", lang, path=path, detail=_one_line(exc, lang))) from exc


def find_persona(session: Session, settings: Settings, lang: Lang = "en") -> Persona | None:
    """The session's persona from the persona directory; None (with a note) when it is missing or broken."""
    try:
        return resolve_persona(session.persona_id, settings.personas_dir).persona
    except (PersonaLoadError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        note = t("cli.debrief.persona_missing", lang, persona=repr(session.persona_id), reason=first)
        print(note, file=sys.stderr)
        return None


def _format(out: str | None, lang: Lang) -> str:
    if out is None:
        return "markdown"
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise DebriefError(t("cli.debrief.bad_out", lang, out=out))
    return FORMATS[suffix]


def _write(path: Path, text: str, lang: Lang) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DebriefError(t("cli.debrief.cannot_write", lang, path=path, reason=exc.strerror or exc)) from exc


def _run(args: argparse.Namespace, settings: Settings, says: Lang) -> int:
    """`says`: the language of our messages (the terminal's); the debrief itself is in `--lang` or the session's."""
    kind = _format(args.out, says)
    session = load_session(Path(args.transcript), says)
    other = load_session(Path(args.compare), says) if args.compare else None
    persona = find_persona(session, settings, says)
    try:
        debrief = build_debrief(session, persona, other)
    except ValueError as exc:
        raise DebriefError(t("cli.debrief.bad_compare", says, path=args.compare, reason=exc)) from exc
    lang: Lang = args.lang or session.language
    if args.out is None:
        sys.stdout.write(to_markdown(debrief, lang))
        return 0
    out = Path(args.out)
    if kind == "markdown":
        svg = out.with_suffix(".svg")
        _write(svg, timeline_svg(debrief, lang), says)
        _write(out, to_markdown(debrief, lang, svg_path=svg.name), says)
    else:
        _write(out, to_html(debrief, lang) if kind == "html" else to_json(debrief), says)
    print(t("cli.debrief.written", says, path=out), file=sys.stderr)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    says = cli_lang()
    try:
        return _run(args, settings, says)
    except DebriefError as exc:
        print(t("cli.error", says, message=exc), file=sys.stderr)
        return 2
