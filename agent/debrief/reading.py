"""The debrief's "Read the patient" section: each reading the learner gave beside the patient's hidden state
at that turn, and its score (issue 15). The data here; its words, shared by the Markdown and the HTML page,
below.

A reading is compared only with the turn it was about: one that another branch replaced (the turn was
written after the reading) is left out, as is one about a turn this session does not have.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.debrief.model import ReadingComparison
from agent.domain.reading import PatientReading, read_after, score_reading
from agent.domain.session import AlliancePerception, Session
from agent.domain.taxonomy import COMPONENTS, AllianceComponent, Emotion, Lang, Speaker, display
from agent.i18n.catalog import percent, t


def reading_comparisons(session: Session, readings: Iterable[PatientReading]) -> list[ReadingComparison]:
    """The readings about this session's patient turns, in the order of the turns, each beside her state then."""
    turns = {turn.id: turn for turn in session.turns if turn.speaker is Speaker.patient and turn.hidden is not None}
    compared = []
    for reading in sorted(readings, key=lambda r: (r.turn_id, r.at)):
        turn = turns.get(reading.turn_id)
        if turn is None or turn.hidden is None or not read_after(reading, turn):
            continue
        hidden, score = turn.hidden, score_reading(reading, turn.hidden)
        compared.append(
            ReadingComparison(
                turn=turn.id,
                moment=reading.moment,
                said_emotions=list(reading.emotions),
                felt_emotions=list(hidden.emotions),
                said_alliance=reading.alliance,
                felt_alliance=hidden.alliance,
                said_move=reading.move,
                felt_move=hidden.intended_move,
                emotions_score=score.emotions,
                alliance_score=score.alliance,
                move_score=score.move,
                overall=score.overall,
            )
        )
    return compared


# --------------------------------------------------------------------------- words, for Markdown and HTML


def _emotions(emotions: list[Emotion], lang: Lang) -> str:
    return ", ".join(display(e.value, lang) for e in emotions) or t("reading.none_named", lang)


def _alliance(alliance: AlliancePerception, lang: Lang) -> str:
    return " · ".join(f"{COMPONENTS[c].name(lang)} {getattr(alliance, c.value)}" for c in AllianceComponent)


def reading_heading(comparison: ReadingComparison, lang: Lang) -> str:
    """ "Turn 4, at the debrief — score 72 %"."""
    moment = t("reading.at_debrief" if comparison.moment == "debrief" else "reading.at_visit", lang)
    return t("reading.heading", lang, turn=comparison.turn, moment=moment, score=percent(comparison.overall, lang))


def reading_heads(lang: Lang) -> list[str]:
    return [
        t("reading.part", lang),
        t("reading.you_said", lang),
        t("reading.patient_felt", lang),
        t("reading.score", lang),
    ]


def reading_rows(comparison: ReadingComparison, lang: Lang) -> list[list[str]]:
    """Per part: its name, what the learner said, what the patient felt, the part's score."""
    c = comparison
    return [
        [
            t("reading.emotions", lang),
            _emotions(c.said_emotions, lang),
            _emotions(c.felt_emotions, lang),
            percent(c.emotions_score, lang),
        ],
        [
            t("reading.alliance", lang),
            _alliance(c.said_alliance, lang),
            _alliance(c.felt_alliance, lang),
            percent(c.alliance_score, lang),
        ],
        [
            t("reading.move", lang),
            display(c.said_move.value, lang),
            display(c.felt_move.value, lang),
            percent(c.move_score, lang),
        ],
    ]
