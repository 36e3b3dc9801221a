"""Quality warnings on a valid persona: what makes a patient hard to play or easy to see through.

Validation (`agent/persona/`) says whether a file can load; lint says whether it will teach.
Each warning names file, line and field, like a validation error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from agent.domain.language import guess_language
from agent.domain.taxonomy import LANGS, Lang, Move
from agent.i18n.catalog import t
from agent.patient.addressing import pronouns_in
from agent.patient.voice import voice_problems
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

    lang: Lang = "en"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.field}: {t('persona.lint.warning', self.lang)}: {self.message}"


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
    for i, exchange in enumerate(p.speech.examples):
        yield ("speech", "examples", i, "patient"), exchange.patient
    for name in ("fears", "withdrawal_triggers", "confrontation_triggers", "repair_responses"):
        for i, item in enumerate(getattr(p, name)):
            yield (name, i), item
    for i, fact in enumerate(p.guarded_facts):
        yield ("guarded_facts", i, "fact"), fact.fact
    for i, rule in enumerate(p.reactions):
        yield ("reactions", i, "when"), rule.when
        for j, example in enumerate(rule.examples):
            yield ("reactions", i, "examples", j), example


def lint_persona(loaded: LoadedPersona, lang: Lang = "en") -> list[LintWarning]:
    """Quality warnings on a valid persona, worded in `lang` (the faculty member's, not the patient's)."""
    p = loaded.persona
    root = loaded.nodes if loaded.nodes is not None else compose_nodes(read_persona_text(loaded.path))
    warnings: list[LintWarning] = []

    def warn(loc: tuple[str | int, ...], message: str) -> None:
        dotted = ".".join(str(part) for part in loc)
        warnings.append(LintWarning(loaded.path, line_of(root, loc), dotted, message, lang))

    if not p.withdrawal_triggers:
        warn(("withdrawal_triggers",), t("persona.lint.no_withdrawal_trigger", lang))
    if not p.confrontation_triggers:
        warn(("confrontation_triggers",), t("persona.lint.no_confrontation_trigger", lang))
    if not p.repair_responses:
        warn(("repair_responses",), t("persona.lint.no_repair_response", lang))
    if len(_words(p.inner_monologue)) < MIN_MONOLOGUE_WORDS:
        warn(("inner_monologue",), t("persona.lint.thin_monologue", lang, minimum=MIN_MONOLOGUE_WORDS))
    if not p.guarded_facts:
        warn(("guarded_facts",), t("persona.lint.no_guarded_fact", lang))
    if not p.reactions:
        warn(("reactions",), t("persona.lint.no_reactions", lang))
    for i, rule in enumerate(p.reactions):
        rupture = rule.move in (Move.withdrawal, Move.confrontation)
        if (rupture and rule.alliance.bond > 0) or (not rupture and rule.alliance.bond < 0):
            warn(("reactions", i, "alliance"), t("persona.lint.reaction_direction", lang, move=rule.move.value))
        if rule.trigger == "third_person" and not pronouns_in(rule.examples):
            warn(("reactions", i, "examples"), t("persona.lint.third_person_without_pronoun", lang))

    lang_in_name = loaded.id.rsplit(".", 1)[-1] if "." in loaded.id else None
    if lang_in_name in LANGS and lang_in_name != p.language:
        warn(("language",), t("persona.lint.language_mismatch", lang, named=lang_in_name, language=p.language))

    for loc, text in _text_fields(loaded):
        if PLACEHOLDER.search(text):
            warn(loc, t("persona.lint.placeholder", lang))
        if TEMPLATE_SYNTAX.search(text):
            warn(loc, t("persona.lint.template_syntax", lang))
        if loc[0] == "display_name" or len(_words(text)) < MIN_WORDS_FOR_LANGUAGE:
            continue
        found = guess_language(text)
        if found != p.language:
            warn(loc, t("persona.lint.reads_as", lang, found=found, language=p.language))

    for i, exchange in enumerate(p.speech.examples):
        if voice_problems(exchange.patient, exchange.doctor):
            warn(("speech", "examples", i, "patient"), t("persona.lint.not_in_voice", lang))

    hidden: list[tuple[str, str]] = [(t("persona.lint.the_monologue", lang), p.inner_monologue)]
    hidden += [(t("persona.lint.guarded_fact", lang, n=i + 1), g.fact) for i, g in enumerate(p.guarded_facts)]
    for field_name, shown in (("case_brief", p.case_brief), ("title", p.title)):
        for what, text in hidden:
            span = _shared_span(shown, text)
            if span:
                warn(
                    (field_name,),
                    t("persona.lint.gives_away", lang, field=field_name.replace("_", " "), what=what, span=span),
                )
    return warnings
