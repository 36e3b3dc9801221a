"""The message catalog: every string shown to people, in French and English, and their formatting.

One keyed TOML file per language (`fr.toml`, `en.toml`, beside this module); `t(key, lang, **values)`
looks a message up and fills its `{placeholders}`. Why keyed files rather than gettext: the team writes
both languages itself (no translators' tooling to feed), keys stay stable when the English wording
changes, nothing is compiled (.po -> .mo), and a test reads both files to check that every key exists
in both with the same placeholders. Numbers and percentages go through Babel (CLDR), so the decimal
comma, the space before `%` and the like are the locale's, not ours; quotation marks and list
punctuation, which CLDR data in Babel does not expose, are catalog entries (`format.quote`,
`format.colon`, `format.semicolon`).

Lookups are strict: an unknown key, a missing value or a value the message does not use raises.
Each file is read once per process (`messages` is cached).

Who reads which language: the web UI follows the browser (`ui_lang`), the debrief the session or
`--lang`, the patient's own words the persona; the command line follows the terminal's locale, as
POSIX tools do (`cli_lang`: LC_ALL, then LC_MESSAGES, then LANG; `fr*` is French, anything else,
unset included, English), so default output stays English.

Not in the catalog, on purpose (each is data of another kind, with its own single home):
- the taxonomy's labels and definitions (`agent.domain.taxonomy`): the domain vocabulary itself,
  bilingual by design and defined once there; likewise the persona fields' documentation, which is
  JSON Schema data (`description` / `description_fr`) declared beside each field in `agent.persona.model`;
- text for the model, not for people: prompt templates (`prompts/`), the taxonomy glossary's
  headings, the judge's language name;
- the scripted fake model's and the stub LLM's canned replies (test doubles), the language
  detector's word lists, log messages;
- output for programs rather than prose: JSON lines, `key=value` metric lines (`alliance eval`),
  tab-separated listings, the engineering reports of `alliance eval`, `probes` and `leaks`
  (Markdown tables read by CI and BENCHMARKS.md, English like logs);
- diagnostics on files, like a compiler's: persona validation and lint findings and the users file's
  errors (`file:line: field: message`), which wrap pydantic's, PyYAML's and tomllib's own English
  messages; the command line frames them (`error: ...`) in the terminal's language;
- argparse's own words (`usage:`, `options:`): the standard library's gettext domain, not ours.

Keys are `section.name`. Keys built at run time use a fixed prefix and a taxonomy or enum value:
`level.<coaching level>` and `hint.<rupture type or none>.<n>`. The `monitor.*`
messages are sent whole to the monitor panel (`public/elements/AllianceMonitor.jsx` reads `ui.<name>`).
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal, format_percent

from agent.domain.taxonomy import Lang, Speaker

CATALOG_DIR = Path(__file__).resolve().parent
LOCALES: dict[Lang, str] = {"fr": "fr_CA", "en": "en_US"}  # Babel's locale for each language we serve


class CatalogError(KeyError):
    """A message that does not exist, or values that do not fit its placeholders."""


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{key}."))
        elif isinstance(value, str):
            flat[key] = value
        else:
            raise CatalogError(f"{key}: a message must be text, not {type(value).__name__}")
    return flat


@cache
def messages(lang: Lang) -> dict[str, str]:
    """Every message of one language, by dotted key (read once per process)."""
    with (CATALOG_DIR / f"{lang}.toml").open("rb") as handle:
        return _flatten(tomllib.load(handle))


def placeholders(message: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(message) if field is not None}


def t(key: str, lang: Lang, **values: object) -> str:
    try:
        message = messages(lang)[key]
    except KeyError:
        raise CatalogError(f"no message {key!r} in the {lang} catalog") from None
    expected = placeholders(message)
    if expected != set(values):
        raise CatalogError(f"{key} ({lang}) takes {sorted(expected)}, was given {sorted(values)}")
    return message.format(**values)


def ui_lang(browser_language: str | None) -> Lang:
    """`fr`, `fr-CA`, `fr-FR`... -> fr; anything else -> en."""
    return "fr" if (browser_language or "").lower().startswith("fr") else "en"


def cli_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """The terminal's language, as POSIX tools read it: LC_ALL, then LC_MESSAGES, then LANG (default English)."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := env.get(name):
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def number(value: float, lang: Lang, *, decimals: int = 2, fixed: bool = False) -> str:
    """In the language's notation (3.5 / 3,5): at most `decimals` decimals, no trailing zeros unless `fixed`."""
    pattern = "#,##0" + ("." + ("0" if fixed else "#") * decimals if decimals else "")
    return str(format_decimal(value, format=pattern, locale=LOCALES[lang]))


def percent(value: float, lang: Lang) -> str:
    """A share (0.85) as a whole percentage, in the language's notation (85% / 85 %)."""
    return str(format_percent(value, locale=LOCALES[lang]))


def quote(text: str, lang: Lang) -> str:
    return t("format.quote", lang, text=text)


def colon(lang: Lang) -> str:
    return messages(lang)["format.colon"]


def semicolon(lang: Lang) -> str:
    return messages(lang)["format.semicolon"]


def party(speaker: Speaker, lang: Lang, patient_name: str | None = None) -> str:
    """Who spoke, as the learner reads it: "You" or the patient's name."""
    if speaker is Speaker.clinician:
        return t("debrief.you", lang)
    return patient_name or t("debrief.patient", lang)
