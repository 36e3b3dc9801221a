"""The message catalog: both languages complete and alike, strict lookups, locale formatting, one home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.domain.taxonomy import RuptureType, Speaker
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import (
    CatalogError,
    cli_lang,
    colon,
    messages,
    number,
    party,
    placeholders,
    quote,
    semicolon,
    t,
    ui_lang,
)

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agent"


def test_every_key_exists_in_both_languages_with_the_same_placeholders() -> None:
    fr, en = messages("fr"), messages("en")
    assert set(fr) == set(en), f"only in fr: {set(fr) - set(en)}; only in en: {set(en) - set(fr)}"
    for key in fr:
        assert fr[key].strip() or key.startswith("format."), f"{key} is empty in French"
        assert en[key].strip() or key.startswith("format."), f"{key} is empty in English"
        assert placeholders(fr[key]) == placeholders(en[key]), key


def test_lookups_are_strict() -> None:
    assert t("ui.patient_failed", "en", reason="x").startswith("The patient could not answer (x)")
    with pytest.raises(CatalogError, match="no message"):
        t("ui.no_such_message", "fr")
    with pytest.raises(CatalogError, match="takes"):
        t("ui.patient_failed", "fr")  # {reason} missing
    with pytest.raises(CatalogError, match="takes"):
        t("ui.brief_title", "fr", extra="x")  # a value the message does not use


def test_numbers_and_quotes_follow_the_language() -> None:
    assert number(3.5, "fr") == "3,5" and number(3.5, "en") == "3.5"
    assert number(4.0, "fr") == "4" and number(4.333, "en") == "4.33"
    assert quote("x", "fr") == "« x »" and quote("x", "en") == "“x”"
    assert colon("fr") == " : " and colon("en") == ": "
    assert semicolon("fr") == " ; " and semicolon("en") == "; "
    assert party(Speaker.clinician, "fr") == "Vous" and party(Speaker.patient, "en", "Mrs B") == "Mrs B"


def test_the_languages_are_picked_from_the_browser_and_the_terminal() -> None:
    assert ui_lang("fr-CA") == "fr" and ui_lang("fr") == "fr" and ui_lang("en-US") == "en" and ui_lang(None) == "en"
    assert cli_lang({}) == "en"
    assert cli_lang({"LANG": "fr_CA.UTF-8"}) == "fr"
    assert cli_lang({"LANG": "fr_CA.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"  # LC_ALL wins, as in POSIX


# --------------------------------------------------------------------------- one home for strings

# A branch on the language, or a literal {"fr": ..., "en": ...} table: the signs of a string kept outside.
_BRANCH = re.compile(
    r"""==\s*["']fr["']|["']fr["']\s+if\b|\bif\s+fr\b|\{\s*["'](?:fr|en)["']\s*:|^\s*["'](?:fr|en)["']\s*:""", re.M
)

# What may branch on the language outside the catalog, and why: none of it is a string for people.
ALLOWED = {
    "agent/domain/labels.py": "the taxonomy's bilingual labels: the domain vocabulary, defined once",
    "agent/domain/taxonomy.py": "the taxonomy and its glossary's headings (prompt text for the model)",
    "agent/domain/acts.py": "the communicative acts' bilingual labels, like labels.py: the domain vocabulary",
    "agent/devtools/act_train.py": "splits its training figures by language (no string for people)",
    "agent/domain/language.py": "language detection and the code of a language",
    "agent/evaluator/judge.py": "the rationale's language named for the model (prompt text)",
    "agent/persona/skeleton.py": "picks the persona field docs (bilingual JSON Schema data of agent/persona/model.py)",
    "agent/llm/fake.py": "the scripted fake model's canned answers (a test double)",
    "agent/devtools/stub_llm.py": "the stub LLM's canned answers (a test double, never shipped)",
}


def branches(text: str) -> list[str]:
    return [m.group(0) for m in _BRANCH.finditer(text)]


def test_the_scanner_finds_a_string_kept_outside_the_catalog() -> None:
    assert branches('msg = "Bonjour" if lang == "fr" else "Hello"\n')
    assert branches('TEXT = {"fr": "Bonjour", "en": "Hello"}\n')
    assert branches('TEXT = {\n    "fr": "Bonjour",\n}\n')
    assert branches('    fr = lang == "fr"\n    x = "a" if fr else "b"\n')
    assert not branches('lang = ui_lang(header)\nmessage = t("ui.brief_title", lang)\n')


def test_no_string_for_people_outside_the_catalog() -> None:
    found = {}
    for path in sorted(AGENT.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("agent/i18n/") or rel in ALLOWED:
            continue
        if hits := branches(path.read_text(encoding="utf-8")):
            found[rel] = hits
    assert not found, f"move these strings into agent/i18n/*.toml: {found}"


def test_every_message_is_used() -> None:
    """A key nobody asks for is dead text: keys are used whole, or through a documented dynamic prefix."""
    code = "\n".join(p.read_text(encoding="utf-8") for p in AGENT.rglob("*.py"))
    dynamic = {
        *{f"level.{level.value}" for level in CoachingLevel},
        *{f"hint.{r.value if r else 'none'}.{n}" for r in (*RuptureType, None) for n in (1, 2, 3)},
    }
    monitor_keys = {k for k in messages("en") if k.startswith("monitor.")}  # sent whole to the panel (JSX)
    jsx = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "public").rglob("*.jsx"))
    unused = []
    for key in messages("en"):
        if key in dynamic or key.startswith("format."):
            continue
        if key in monitor_keys:
            name = key.removeprefix("monitor.")
            if f"ui.{name}" not in jsx and f'["ui"]["{name}"]' not in code and f'"{key}"' not in code:
                unused.append(key)
            continue
        if f'"{key}"' not in code and f"'{key}'" not in code and not _built(key, code):
            unused.append(key)
    assert not unused, f"unused messages: {unused}"


def _built(key: str, code: str) -> bool:
    """Keys assembled from a literal prefix and a suffix list, e.g. "ui.review_col_" + c."""
    prefix, _, suffix = key.rpartition("_")
    return f'"{prefix}_"' in code and f'"{suffix}"' in code
