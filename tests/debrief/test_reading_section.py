"""The debrief's "Read the patient" section: each reading beside the patient's hidden state at that turn, with
its score, in French and English, in the Markdown, the HTML page and the JSON export (issue 15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape

from agent.debrief.build import build_debrief
from agent.debrief.html import to_html
from agent.debrief.markdown import md, to_markdown
from agent.debrief.model import to_json
from agent.domain.reading import PatientReading
from agent.domain.session import AlliancePerception
from agent.domain.taxonomy import Emotion, Lang, Move
from agent.i18n.catalog import percent, t
from tests.support.storage import make_rich_session

# Her turns feel anxiety and shame, rate 3/2/4 and mean to withdraw (tests/support/storage.py); turns 1 and 3.
AT_DEBRIEF = PatientReading(
    turn_id=3,
    emotions=[Emotion.anxiety, Emotion.anger],
    alliance=AlliancePerception(goals=3, tasks=2, bond=4),
    move=Move.confrontation,
)
DURING = PatientReading(
    turn_id=1,
    emotions=[Emotion.anxiety, Emotion.shame],
    alliance=AlliancePerception(goals=3, tasks=2, bond=4),
    move=Move.withdrawal,
    moment="visit",
)


def _fresh(*readings: PatientReading) -> list[PatientReading]:
    """The readings as given now, after the session's turns (a reading older than its turn is left out)."""
    return [r.model_copy(update={"at": datetime.now(UTC).isoformat()}) for r in readings]


WORDS: dict[Lang, dict[str, str]] = {
    "fr": {"said": "Anxiété, Colère", "felt": "Anxiété, Honte", "said_move": "Confrontation", "felt_move": "Retrait"},
    "en": {"said": "Anxiety, Anger", "felt": "Anxiety, Shame", "said_move": "Confrontation", "felt_move": "Withdrawal"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_markdown_puts_each_reading_beside_what_she_felt_with_its_score(lang: Lang) -> None:
    session = make_rich_session()
    debrief = build_debrief(session, readings=_fresh(AT_DEBRIEF, DURING))
    text = to_markdown(debrief, lang)
    words = WORDS[lang]
    assert f"## {t('reading.section', lang)}" in text
    # In the order of the turns: the reading during the visit (turn 1, all right) first.
    during = t("reading.heading", lang, turn=1, moment=t("reading.at_visit", lang), score=percent(1, lang))
    at_end = t("reading.heading", lang, turn=3, moment=t("reading.at_debrief", lang), score=percent(4 / 9, lang))
    assert text.index(during) < text.index(at_end)
    heads = f"| {t('reading.part', lang)} | {t('reading.you_said', lang)} | {t('reading.patient_felt', lang)} |"
    assert heads in text
    assert f"| {t('reading.emotions', lang)} | {words['said']} | {words['felt']} | {md(percent(1 / 3, lang))} |" in text
    assert f"| {words['said_move']} | {words['felt_move']} | {md(percent(0, lang))} |" in text
    assert f"| {md(percent(1, lang))} |" in text  # the alliance, read right


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_html_page_has_the_same_comparison(lang: Lang) -> None:
    page = to_html(build_debrief(make_rich_session(), readings=_fresh(AT_DEBRIEF)), lang)
    assert f"<h2>{t('reading.section', lang)}</h2>" in page
    heads = f"<th>{escape(t('reading.you_said', lang))}</th><th>{escape(t('reading.patient_felt', lang))}</th>"
    assert heads in page
    words = WORDS[lang]
    assert f"<td>{words['said']}</td><td>{words['felt']}</td>" in page
    assert f"<td>{words['said_move']}</td><td>{words['felt_move']}</td>" in page


def test_no_reading_no_section_and_the_json_export_carries_the_scores() -> None:
    assert t("reading.section", "en") not in to_markdown(build_debrief(make_rich_session()), "en")
    exported = json.loads(to_json(build_debrief(make_rich_session(), readings=_fresh(AT_DEBRIEF))))
    (reading,) = exported["readings"]
    assert (reading["turn"], reading["moment"], reading["said_move"], reading["felt_move"]) == (
        3,
        "debrief",
        "confrontation",
        "withdrawal",
    )
    assert reading["overall"] == pytest.approx(4 / 9)


def test_a_reading_of_a_turn_another_branch_replaced_or_never_had_is_left_out() -> None:
    session = make_rich_session()
    before_the_turn = (session.turns[3].created_at - timedelta(seconds=5)).isoformat()
    stale = AT_DEBRIEF.model_copy(update={"at": before_the_turn})
    (fresh,) = _fresh(AT_DEBRIEF)
    elsewhere = fresh.model_copy(update={"turn_id": 2})  # a learner turn
    missing = fresh.model_copy(update={"turn_id": 9})
    assert build_debrief(session, readings=[stale, elsewhere, missing]).readings == []
    assert [r.turn for r in build_debrief(session, readings=[stale, fresh]).readings] == [3]
