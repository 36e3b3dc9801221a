"""Quality warnings on a valid persona: what makes a patient hard to play or easy to see through.

Validation (`agent/persona/`) says whether a file can load; lint says whether it will teach.
Each warning names file, line and field, like a validation error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from agent.domain.language import guess_language
from agent.domain.taxonomy import LANGS
from agent.persona.loader import LoadedPersona, PersonaError, compose_nodes, line_of, read_persona_text

SPAN_WORDS = 5  # a run of this many words shared by the brief and a hidden field gives it away
MIN_MONOLOGUE_WORDS = 15
MIN_WORDS_FOR_LANGUAGE = 8  # shorter texts are too short to tell their language
PLACEHOLDER = re.compile(r"\bTODO\b|À COMPLÉTER|TO BE FILLED", re.IGNORECASE)
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class LintWarning(PersonaError):
    """A quality warning, located like a validation error."""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.field}: warning: {self.message}"


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _shared_span(a: str, b: str, size: int = SPAN_WORDS) -> str | None:
    """The first run of `size` consecutive words found in both texts (case and punctuation ignored)."""
    wa, wb = _words(a), _words(b)
    grams = {tuple(wb[i : i + size]) for i in range(len(wb) - size + 1)}
    for i in range(len(wa) - size + 1):
        if tuple(wa[i : i + size]) in grams:
            return " ".join(wa[i : i + size])
    return None


def _text_fields(loaded: LoadedPersona) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every free-text field with its location, list items one by one."""
    p = loaded.persona
    for name in ("display_name", "title", "case_brief", "identity", "situation", "wants", "history"):
        yield (name,), getattr(p, name)
    yield ("inner_monologue",), p.inner_monologue
    yield ("speech", "register"), p.speech.register_
    yield ("speech", "length"), p.speech.length
    for i, item in enumerate(p.speech.phrasings):
        yield ("speech", "phrasings", i), item
    for name in ("fears", "withdrawal_triggers", "confrontation_triggers", "repair_responses"):
        for i, item in enumerate(getattr(p, name)):
            yield (name, i), item
    for i, fact in enumerate(p.guarded_facts):
        yield ("guarded_facts", i, "fact"), fact.fact


def lint_persona(loaded: LoadedPersona) -> list[LintWarning]:
    p = loaded.persona
    root = loaded.nodes if loaded.nodes is not None else compose_nodes(read_persona_text(loaded.path))
    warnings: list[LintWarning] = []

    def warn(loc: tuple[str | int, ...], message: str) -> None:
        dotted = ".".join(str(part) for part in loc)
        warnings.append(LintWarning(loaded.path, line_of(root, loc), dotted, message))

    if not p.withdrawal_triggers:
        warn(("withdrawal_triggers",), "no withdrawal trigger: the patient has no reason to shut down")
    if not p.confrontation_triggers:
        warn(("confrontation_triggers",), "no confrontation trigger: the patient has no reason to push back")
    if not p.repair_responses:
        warn(("repair_responses",), "no repair response: nothing the learner does can restore trust")
    if len(_words(p.inner_monologue)) < MIN_MONOLOGUE_WORDS:
        warn(
            ("inner_monologue",),
            f"the inner monologue is nearly empty (under {MIN_MONOLOGUE_WORDS} words): "
            "the patient has no private stakes to play from",
        )
    if not p.guarded_facts:
        warn(("guarded_facts",), "no guarded fact: the learner has nothing to discover by asking or earning trust")

    lang_in_name = loaded.id.rsplit(".", 1)[-1] if "." in loaded.id else None
    if lang_in_name in LANGS and lang_in_name != p.language:
        warn(("language",), f"the file name says '{lang_in_name}' but the language is '{p.language}'")

    for loc, text in _text_fields(loaded):
        if PLACEHOLDER.search(text):
            warn(loc, "placeholder text left to fill")
        if TEMPLATE_SYNTAX.search(text):
            warn(loc, "template syntax ('{{', '{%') is shown literally: persona text is data, never a template")
        if loc[0] == "display_name" or len(_words(text)) < MIN_WORDS_FOR_LANGUAGE:
            continue
        found = guess_language(text)
        if found != p.language:
            warn(loc, f"this text reads as '{found}' but the persona's language is '{p.language}'")

    hidden: list[tuple[str, str]] = [("the inner monologue", p.inner_monologue)]
    hidden += [(f"guarded fact {i + 1}", g.fact) for i, g in enumerate(p.guarded_facts)]
    for field_name, shown in (("case_brief", p.case_brief), ("title", p.title)):
        for what, text in hidden:
            span = _shared_span(shown, text)
            if span:
                warn((field_name,), f"the {field_name.replace('_', ' ')} gives away {what}: it shares '{span}'")
    return warnings
