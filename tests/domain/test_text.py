"""Text made safe to keep, show and export (issue 12, items 9 and 14)."""

from __future__ import annotations

from agent.domain.session import PublicTurn, Session
from agent.domain.taxonomy import Speaker
from agent.domain.text import clean_text


def test_9_lone_surrogates_nul_and_control_characters_are_cleaned() -> None:
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_text("un\x00deux\x07trois\x1b[31m\x7f\x85") == "undeuxtrois[31m"
    assert clean_text("ligne 1\r\nligne 2\rligne 3\tfin") == "ligne 1\nligne 2\nligne 3\tfin"
    kept = "Ça va ? 😊 — « oui » 漢字 עברית"
    assert clean_text(kept) == kept  # every script, emoji and typographic mark is kept


def test_9_a_session_with_bad_characters_in_a_turn_still_saves_and_loads() -> None:
    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    session.add_learner_turn("Bonjour \ud800\x00")
    again = Session.from_json(session.model_dump_json())  # raised PydanticSerializationError before the fix
    assert again.turns[0].text == "Bonjour \ufffd"
    assert PublicTurn(id=0, speaker=Speaker.clinician, text="x\x1by").text == "xy"


def test_14_escape_and_bell_characters_never_reach_the_exports() -> None:
    from agent.debrief.build import build_debrief
    from agent.debrief.html import to_html
    from agent.debrief.markdown import to_markdown
    from agent.domain.events import AllianceEvent
    from agent.domain.session import AlliancePerception, HiddenState
    from agent.domain.taxonomy import EventKind, Move, RuptureType

    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    said = session.add_learner_turn("Écoutez\x1b]0;pwned\x07 madame, vous devez reprendre lundi.")
    hidden = HiddenState(
        inner_monologue="Il ne m'écoute pas\x1b[2J.",
        emotions=[],
        alliance=AlliancePerception(goals=2, tasks=2, bond=2),
        intended_move=Move.withdrawal,
    )
    session.add_patient_turn("Bon\x07.", hidden)
    session.events.append(
        AllianceEvent(
            turn=said.id,
            speaker=Speaker.clinician,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.confrontation,
            evidence="vous devez reprendre lundi",
            confidence=0.9,
        )
    )
    debrief = build_debrief(session)
    exports = [to_markdown(debrief, "fr"), to_html(debrief, "fr")]
    assert all("madame" in export for export in exports)  # the learner's words are in both
    for export in exports:
        assert "\x1b" not in export and "\x07" not in export
