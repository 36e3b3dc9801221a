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
from agent.persona.loader import PersonaLoadError, resolve_persona
from agent.persona.model import Persona

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".json": "json"}


class DebriefError(Exception):
    """A problem the user can fix, reported as one line."""


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_session(path: Path) -> Session:
    try:
        return Session.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DebriefError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DebriefError(f"{path}: cannot read ({exc})") from exc
    except ValidationError as exc:
        raise DebriefError(f"{path}: not a session transcript: {_one_line(exc)}") from exc


def find_persona(session: Session, settings: Settings) -> Persona | None:
    """The session's persona from the persona directory; None (with a note) when it is missing or broken."""
    try:
        return resolve_persona(session.persona_id, settings.personas_dir).persona
    except (PersonaLoadError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"note: persona {session.persona_id!r} not loaded ({first}); no initial alliance", file=sys.stderr)
        return None


def _format(out: str | None) -> str:
    if out is None:
        return "markdown"
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise DebriefError(f"--out {out}: use a .md, .html or .json file")
    return FORMATS[suffix]


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DebriefError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _run(args: argparse.Namespace, settings: Settings) -> int:
    kind = _format(args.out)
    session = load_session(Path(args.transcript))
    other = load_session(Path(args.compare)) if args.compare else None
    persona = find_persona(session, settings)
    try:
        debrief = build_debrief(session, persona, other)
    except ValueError as exc:
        raise DebriefError(f"--compare {args.compare}: {exc}") from exc
    lang: Lang = args.lang or session.language
    if args.out is None:
        sys.stdout.write(to_markdown(debrief, lang))
        return 0
    out = Path(args.out)
    if kind == "markdown":
        svg = out.with_suffix(".svg")
        _write(svg, timeline_svg(debrief, lang))
        _write(out, to_markdown(debrief, lang, svg_path=svg.name))
    else:
        _write(out, to_html(debrief, lang) if kind == "html" else to_json(debrief))
    print(f"debrief written to {out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return _run(args, settings)
    except DebriefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
