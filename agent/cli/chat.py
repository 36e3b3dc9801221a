"""`alliance chat`: the conversation in a terminal, for faculty trying a persona and for checks."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from agent.config import Settings
from agent.conversation import Conversation
from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import Lang
from agent.domain.text import clean_text
from agent.evaluator.base import Evaluator
from agent.i18n.catalog import cli_lang, colon, t
from agent.llm.backends import BackendError, build_backend
from agent.persona.loader import PersonaLoadError, resolve_persona


def _emit(out: TextIO, payload: dict[str, Any]) -> None:
    out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    out.flush()


def _make_evaluator(args: argparse.Namespace, settings: Settings) -> Evaluator | None:
    try:
        from agent.evaluator.merge import build_evaluator
    except ImportError:
        return None
    return build_evaluator(getattr(args, "evaluator", "detector"), settings, getattr(args, "llm", None))


async def _chat(args: argparse.Namespace, settings: Settings, lines: TextIO, out: TextIO) -> int:
    lang = cli_lang()  # our own words; the patient's are in the persona's language
    loaded = resolve_persona(args.persona, settings.personas_dir)
    backend = build_backend(settings, args.llm)
    conversation = Conversation(loaded.id, loaded.persona, backend, settings, _make_evaluator(args, settings))
    session = conversation.session
    interactive = lines.isatty() and not args.jsonl
    if args.jsonl:
        _emit(
            out,
            {
                "type": "session_start",
                "session": session.id,
                "persona": loaded.id,
                "language": session.language,
                "llm": backend.label,
                "offline_demo": backend.offline_demo,
            },
        )
    else:
        out.write(f"{loaded.persona.display_name} — {loaded.persona.title}\n{loaded.persona.case_brief}\n")
        if backend.offline_demo:
            out.write(t("cli.chat.offline_demo", lang) + "\n")
        out.write("\n")

    async def on_token(token: str) -> None:
        if not args.jsonl:
            out.write(token)
            out.flush()

    async def on_events(turn: int, events: list[AllianceEvent] | None) -> None:
        if not args.jsonl:
            return
        if events is None:
            _emit(out, {"type": "monitor_unavailable", "turn": turn})
        for event in events or []:
            _emit(out, {"type": "alliance_event", **event.model_dump(mode="json")})

    status = 0
    while True:
        if interactive:
            out.write("\n> ")
            out.flush()
        line = await asyncio.to_thread(lines.readline)
        if not line:
            break
        text = clean_text(line).strip()
        if not text:
            continue
        if not args.jsonl:
            out.write(loaded.persona.display_name + colon(lang))
        outcome = await conversation.learner_says(text, on_token if interactive else None, on_events)
        if outcome.patient_turn is None:
            status = 1
            if args.jsonl:
                _emit(out, {"type": "error", "turn": outcome.learner_turn.id, "message": outcome.error})
            else:
                out.write(f"[{outcome.error}]\n")
        elif args.jsonl:
            _emit(out, {"type": "patient_reply", "turn": outcome.patient_turn.id, "text": outcome.patient_turn.text})
            if (hidden := outcome.patient_turn.hidden) is not None:
                # For scripts and faculty checking a persona: the move and the alliance, never the monologue
                # (that stays in --transcript-out, for the debrief).
                state: dict[str, object] = {
                    "move": hidden.intended_move.value,
                    "alliance": hidden.alliance.model_dump(),
                }
                state["emotions"] = [e.value for e in hidden.emotions]
                _emit(out, {"type": "patient_state", "turn": outcome.patient_turn.id, **state})
        elif not interactive or outcome.streamed != outcome.patient_turn.text:
            out.write(("\n" if outcome.streamed else "") + outcome.patient_turn.text + "\n")
        else:
            out.write("\n")
        if args.transcript_out:
            session.save(Path(args.transcript_out))  # after every turn: an interrupted run loses nothing
    await conversation.drain(timeout=30)
    if args.transcript_out:
        session.save(Path(args.transcript_out))
    if args.jsonl:
        _emit(out, {"type": "session_end", "turns": len(session.turns), "failures": len(session.failures)})
    return status


def _unwritable(path: Path, lang: Lang) -> str | None:
    """Why the transcript could not be written there, found before the visit starts (None: it can)."""
    if path.is_dir():
        reason = t("cli.chat.is_a_directory", lang)
    else:
        existed = path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # as the transcript's own writer does
            with path.open("a", encoding="utf-8"):
                pass
            if not existed:
                path.unlink()  # only a check: the transcript is written after the first turn
            return None
        except OSError as exc:
            reason = t("cli.chat.not_writable", lang, reason=exc.strerror or type(exc).__name__)
    return t("cli.chat.bad_transcript_out", lang, path=path, reason=reason)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Bytes that are not UTF-8 (a lone surrogate's encoding, say) become U+FFFD instead of a traceback.
        sys.stdin.reconfigure(errors="replace")
    if args.transcript_out and (bad := _unwritable(Path(args.transcript_out), cli_lang())):
        print(t("cli.error", cli_lang(), message=bad), file=sys.stderr)
        return 2
    try:
        return asyncio.run(_chat(args, settings, sys.stdin, sys.stdout))
    except (PersonaLoadError, BackendError) as exc:
        print(t("cli.error", cli_lang(), message=str(exc)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
