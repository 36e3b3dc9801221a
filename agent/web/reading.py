"""Read the patient (issue 15): the form the learner fills before the patient's thoughts are revealed, and what
the app does with the answer. The form is a custom element (`public/elements/PatientReading.jsx`): it calls the
`read_patient` action with the learner's answer, or `skip_reading`; the callbacks in `app.py` call `take`.

Nothing of the hidden state goes into the form: it offers the persona's vocabulary of emotions, the scales and
the moves, and names the turn. The comparison with her hidden state is the debrief's (`agent.debrief.reading`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import chainlit as cl
from pydantic import ValidationError

from agent.domain.reading import PatientReading, ReadingMoment, read_after
from agent.domain.session import Session, Turn
from agent.domain.taxonomy import COMPONENTS, AllianceComponent, Emotion, EventKind, Lang, Move, Speaker, display
from agent.domain.visit import VisitState
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import t
from agent.persona.model import Persona

ELEMENT = "PatientReading"  # public/elements/PatientReading.jsx
READ, SKIP, OFFER = "read_patient", "skip_reading", "offer_reading"  # the actions' names

# Sent whole to the form, which reads ui.<name>.
_FORM_TEXTS = (
    "reading.form_title",
    "reading.emotions_label",
    "reading.alliance_label",
    "reading.move_label",
    "reading.submit",
    "reading.skip",
    "reading.sending",
    "reading.noted_form",
    "reading.too_many",
    "reading.pick_move",
    "reading.failed",
)


def _readable(turn: Turn) -> bool:
    return turn.speaker is Speaker.patient and turn.hidden is not None


def debrief_turn(session: Session, visit: VisitState) -> int | None:
    """The patient turn to read before the debrief: her last one with a hidden state, unless it was read."""
    last = next((turn for turn in reversed(session.turns) if _readable(turn)), None)
    if last is None:
        return None
    done = any(r.moment == "debrief" and r.turn_id == last.id and read_after(r, last) for r in visit.readings)
    return None if done else last.id


def offered_emotions(persona: Persona) -> list[Emotion]:
    """Every emotion of the taxonomy, those the persona's reaction rules name first (her own vocabulary)."""
    own = [emotion for reaction in persona.reactions for emotion in reaction.emotions]
    return list(dict.fromkeys([*own, *Emotion]))


def form_props(turn_id: int, moment: ReadingMoment, persona: Persona, lang: Lang) -> dict[str, Any]:
    """What the form shows: the choices with their names in the learner's language, and its words."""
    ui = {key.removeprefix("reading."): t(key, lang) for key in _FORM_TEXTS}
    intro = "reading.form_intro" if moment == "debrief" else "reading.form_intro_visit"
    ui["intro"] = t(intro, lang, turn=turn_id)
    return {
        "turn": turn_id,
        "moment": moment,
        "maxEmotions": 3,
        "emotions": [{"id": e.value, "name": display(e.value, lang)} for e in offered_emotions(persona)],
        "scales": [{"id": c.value, "name": COMPONENTS[c].name(lang)} for c in AllianceComponent],
        "moves": [{"id": m.value, "name": display(m.value, lang)} for m in Move],
        "actions": {"read": READ, "skip": SKIP if moment == "debrief" else None},
        "ui": ui,
    }


def form_message(turn_id: int, moment: ReadingMoment, persona: Persona, lang: Lang) -> cl.Message:
    element = cl.CustomElement(name=ELEMENT, props=form_props(turn_id, moment, persona, lang), display="inline")
    content = t("reading.before_debrief", lang) if moment == "debrief" else ""
    return cl.Message(content=content, author="Alliance", elements=[element])


def offer_action(turn_id: int, lang: Lang) -> cl.Action:
    """The button under a flagged patient reply (coach level): the form about that turn."""
    return cl.Action(name=OFFER, payload={"turn": turn_id}, label=f"🔎 {t('reading.offer', lang)}")


def _offered() -> dict[int, str | None]:
    """This tab's patient replies on screen (turn id → message id) and, as None, the turns already offered."""
    shown: dict[int, str | None] | None = cl.user_session.get("reading_replies")
    if shown is None:
        shown = {}
        cl.user_session.set("reading_replies", shown)
    return shown


def reply_offers(
    session: Session, visit: VisitState, level: CoachingLevel, lang: Lang, turn_id: int
) -> list[cl.Action]:
    """The offer to place under a patient reply about to be sent, when the monitor already flagged it."""
    if not may_read_now(session, visit, turn_id, level):
        return []
    _offered()[turn_id] = None
    return [offer_action(turn_id, lang)]


def reply_sent(turn_id: int, message_id: str) -> None:
    """Remember the message of a patient reply, for an offer the monitor's later flags may call for."""
    _offered().setdefault(turn_id, message_id)


async def offer_when_flagged(session: Session, visit: VisitState, level: CoachingLevel, lang: Lang) -> None:
    """The monitor has new flags: a patient rupture on a reply on screen gets its offer, once."""
    shown = _offered()
    for turn_id in sorted(ruptures_to_read(session, level)):
        message_id = shown.get(turn_id)
        if message_id is not None and may_read_now(session, visit, turn_id, level):
            shown[turn_id] = None
            await offer_action(turn_id, lang).send(for_id=message_id)


class ReadingRefused(ValueError):
    """The answer cannot be kept; `key` is the catalog message that says why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reason(error: ValidationError) -> str:
    where = {str(part) for e in error.errors() for part in e["loc"]}
    if "emotions" in where:
        return "reading.bad_emotions"
    if where & {"alliance", "goals", "tasks", "bond"}:
        return "reading.bad_scale"
    return "reading.bad_move"


def parse_reading(payload: Mapping[str, object], session: Session, moment: ReadingMoment) -> PatientReading:
    """The learner's answer as a reading of one of this session's patient turns. Raises ReadingRefused."""
    turn_id = payload.get("turn")
    if not isinstance(turn_id, int) or isinstance(turn_id, bool):  # JSON's true is not turn 1
        raise ReadingRefused("reading.bad_turn")
    turn = next((x for x in session.turns if x.id == turn_id and _readable(x)), None)
    if turn is None or (moment == "debrief" and turn_id != debrief_turn(session, VisitState())):
        raise ReadingRefused("reading.bad_turn")
    alliance = payload.get("alliance")
    try:
        return PatientReading.model_validate(
            {
                "turn_id": turn.id,
                "emotions": payload.get("emotions"),
                "alliance": alliance,
                "move": payload.get("move"),
                "moment": moment,
            }
        )
    except ValidationError as error:
        raise ReadingRefused(_reason(error)) from error


@dataclass
class Taken:
    """What came of an answer: the reading kept (None if refused), and the form's reply (shown in the form)."""

    reading: PatientReading | None
    response: dict[str, str]


def take(visit: VisitState, session: Session, payload: Mapping[str, object], lang: Lang, level: CoachingLevel) -> Taken:
    """Check the learner's answer and keep it in the visit; a refusal keeps nothing and says why (the form
    keeps the answer for another try). The moment is ours: during the visit (coach level only) until the visit
    is ended, then the debrief."""
    moment: ReadingMoment = "debrief" if visit.ended else "visit"
    try:
        if moment == "visit" and level is not CoachingLevel.coach:
            raise ReadingRefused("reading.bad_turn")
        reading = parse_reading(payload, session, moment)
    except ReadingRefused as refused:
        return Taken(None, {"error": t("reading.invalid", lang, reason=t(refused.key, lang))})
    if any(r.turn_id == reading.turn_id and r.moment == moment for r in _current(visit, session)):
        return Taken(None, {"error": t("reading.already", lang)})
    visit.readings.append(reading)
    return Taken(reading, {"ok": t("reading.noted_form", lang)})


def may_read_now(session: Session, visit: VisitState, turn_id: object, level: CoachingLevel) -> bool:
    """During the visit, at the coach level: a patient turn the monitor flagged as a rupture, not yet read."""
    if visit.ended or level is not CoachingLevel.coach or not isinstance(turn_id, int):
        return False
    if turn_id not in ruptures_to_read(session, level):
        return False
    return not any(r.turn_id == turn_id and r.moment == "visit" for r in _current(visit, session))


def ruptures_to_read(session: Session, level: CoachingLevel) -> set[int]:
    """The patient turns with a hidden state that the monitor flagged as a rupture (coach level only)."""
    if level is not CoachingLevel.coach:
        return set()
    readable = {turn.id for turn in session.turns if _readable(turn)}
    return {
        e.turn
        for e in session.events
        if e.kind is EventKind.rupture_marker and e.speaker is Speaker.patient and e.turn in readable
    }


def _current(visit: VisitState, session: Session) -> list[PatientReading]:
    """The readings about turns of this session as it stands (not about a turn another branch replaced)."""
    turns = {turn.id: turn for turn in session.turns}
    return [r for r in visit.readings if r.turn_id in turns and read_after(r, turns[r.turn_id])]
