"""`alliance flag`: the evaluator's events for one turn, as JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from agent.config import Settings
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import Lang, Speaker
from agent.eval.dataset import ContextTurn
from agent.evaluator.merge import build_evaluator
from agent.i18n.catalog import cli_lang, t

_CONTEXT = TypeAdapter(list[ContextTurn])


def read_context(path: Path, lang: Lang = "en") -> list[ContextTurn]:
    try:
        return _CONTEXT.validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        problem = t("cli.flag.bad_context", lang, path=path, reason=exc)
        raise SystemExit(t("cli.error", lang, message=problem)) from exc


def run(args: argparse.Namespace, settings: Settings) -> int:
    context = read_context(Path(args.context_file), cli_lang()) if args.context_file else []
    transcript = [PublicTurn(id=i, speaker=c.speaker, text=c.text) for i, c in enumerate(context)]
    transcript.append(PublicTurn(id=len(transcript), speaker=Speaker(args.speaker), text=args.text))
    evaluator = build_evaluator(args.evaluator, settings, args.llm)
    assert evaluator is not None
    events = asyncio.run(evaluator.evaluate(transcript, args.lang))
    for event in events:
        sys.stdout.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False) + "\n")
    return 0
