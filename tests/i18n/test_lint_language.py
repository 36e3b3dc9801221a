"""Persona lint speaks the faculty member's language, whatever the patient's."""

from __future__ import annotations

from agent.config import REPO_ROOT
from agent.persona.lint import lint_persona
from agent.persona.loader import load_persona_file


def test_lint_warnings_follow_the_requested_language() -> None:
    loaded = load_persona_file("bertrand.en", REPO_ROOT / "personas" / "bertrand.en.yaml")
    bare = loaded.persona.model_copy(update={"guarded_facts": [], "withdrawal_triggers": []})
    loaded.persona = bare
    english = [str(w) for w in lint_persona(loaded, "en")]
    french = [str(w) for w in lint_persona(loaded, "fr")]
    assert any(": warning: no withdrawal trigger" in w for w in english)
    assert any(": avertissement: aucun déclencheur de retrait" in w for w in french)  # located format, French words
    assert len(english) == len(french)
