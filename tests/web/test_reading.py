"""In the app: the learner reads the patient (issue 15) before her thoughts are revealed, at the end of the
visit and, at the coach level, at a flagged rupture; the answer is checked, kept with the visit and compared
with her hidden state in the debrief."""

from __future__ import annotations

from typing import Any

import chainlit as cl
import pytest
from chainlit.chat_context import chat_context

from agent.debrief.markdown import md
from agent.domain.events import AllianceEvent
from agent.domain.reading import score_reading
from agent.domain.taxonomy import Emotion, EventKind, RuptureType, Speaker, display
from agent.i18n.catalog import percent, t
from agent.web import keeping
from tests.support.chainlit_harness import LEARNER, MARKER, Harness, browser_tab, drain

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning")

SECOND = "Trois mois, c'est non. Vous retournez au travail lundi."
# The fake patient feels anxiety and shame, rates 3/3/4 and means to withdraw (tests/support/chainlit_harness.py).
GOOD = {"emotions": ["anxiety", "anger"], "alliance": {"goals": 3, "tasks": 3, "bond": 4}, "move": "withdrawal"}


def _user_message(text: str) -> cl.Message:
    message = cl.Message(content=text, author="User", type="user_message")
    chat_context.add(message)  # as Chainlit's emitter does for a message the browser sent
    return message


def _forms(socket: Any) -> list[dict[str, Any]]:
    return [e for e in socket.of("element") if e.get("name") == "PatientReading"]


def _debriefs(socket: Any) -> list[str]:
    intro = f"**{t('ui.debrief_intro', 'fr')}"
    return [m["output"] for m in socket.of("new_message") if m["output"].startswith(intro)]


async def _two_turns(app: Any) -> None:
    await app.start()
    await app.on_message(_user_message(LEARNER))
    await app.on_message(_user_message(SECOND))
    await drain()


async def test_ending_the_visit_asks_for_a_reading_first_then_keeps_it_and_shows_the_comparison(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await _two_turns(app)
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        at_the_form = socket.dump()
        last = cl.user_session.get("live").conversation.session.turns[-1]
        answer = await app.on_reading(cl.Action(name="read_patient", payload={"turn": last.id, **GOOD}))
        live = cl.user_session.get("live")
        stored = await keeping.store().read(live.thread_id, live.owner)  # kept, not only in memory

    # The form, about her last turn, with the persona's words for the choices and none of her hidden state.
    assert MARKER not in at_the_form and not _debriefs_in(at_the_form)
    (form,) = _forms(socket)
    props = form["props"]
    assert props["turn"] == last.id and props["moment"] == "debrief" and form["display"] == "inline"
    assert {"id": "anxiety", "name": "Anxiété"} in props["emotions"] and len(props["emotions"]) == len(Emotion)
    assert [m["id"] for m in props["moves"]] == ["none", "withdrawal", "confrontation", "repair"]
    assert props["ui"]["submit"] == t("reading.submit", "fr")
    # Kept with the visit, then the debrief with the comparison, side by side.
    assert answer == {"ok": t("reading.noted_form", "fr")}
    assert stored is not None and [(r.turn_id, r.moment, r.move.value) for r in stored.view.readings] == [
        (last.id, "debrief", "withdrawal")
    ]
    (debrief,) = _debriefs(socket)
    assert MARKER in debrief
    assert f"## {t('reading.section', 'fr')}" in debrief
    assert (
        f"| {t('reading.part', 'fr')} | {t('reading.you_said', 'fr')} | {t('reading.patient_felt', 'fr')} |" in debrief
    )
    hidden, score = last.hidden, score_reading(stored.view.readings[0], last.hidden)
    felt = ", ".join(display(e.value, "fr") for e in hidden.emotions)
    assert f"| Émotions | Anxiété, Colère | {md(felt)} | {md(percent(score.emotions, 'fr'))} |" in debrief
    moved = display(hidden.intended_move.value, "fr")
    assert f"| Mouvement | Retrait | {moved} | {md(percent(score.move, 'fr'))} |" in debrief
    assert f"Objectifs 3 · Tâches 3 · Lien 4 | Objectifs {hidden.alliance.goals} · " in debrief


def _debriefs_in(dump: str) -> bool:
    return t("ui.debrief_intro", "fr") in dump


async def test_a_bad_answer_is_refused_with_a_clear_message_and_nothing_is_kept(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await _two_turns(app)
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        live = cl.user_session.get("live")
        last = live.conversation.session.turns[-1].id
        bad = {
            "too many emotions": {**GOOD, "emotions": ["anxiety", "anger", "shame", "fear"]},
            "off the scale": {**GOOD, "alliance": {"goals": 9, "tasks": 3, "bond": 4}},
            "no move": {**GOOD, "move": "flee"},
            "an earlier turn": {**GOOD, "turn": last - 2},
        }
        answers = {
            name: await app.on_reading(cl.Action(name="read_patient", payload={"turn": last, **payload}))
            for name, payload in bad.items()
        }
        kept_after_refusals = list(live.visit.readings)
        good = await app.on_reading(cl.Action(name="read_patient", payload={"turn": last, **GOOD}))
        again = await app.on_reading(cl.Action(name="read_patient", payload={"turn": last, **GOOD}))

    reason = {
        "too many emotions": "reading.bad_emotions",
        "off the scale": "reading.bad_scale",
        "no move": "reading.bad_move",
        "an earlier turn": "reading.bad_turn",
    }
    for name, answer in answers.items():
        assert answer == {"error": t("reading.invalid", "fr", reason=t(reason[name], "fr"))}, name
    assert kept_after_refusals == []
    assert "ok" in good and again == {"error": t("reading.already", "fr")}
    assert len(_debriefs(socket)) == 1  # one debrief: after the good answer only


async def test_skipping_shows_the_debrief_without_a_reading_and_a_read_visit_ends_straight_to_it(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await _two_turns(app)
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        await app.on_skip_reading(cl.Action(name="skip_reading", payload={}))
        last = cl.user_session.get("live").conversation.session.turns[-1].id
        await app.on_reading(cl.Action(name="read_patient", payload={"turn": last, **GOOD}))
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))

    first, read, ended_again = _debriefs(socket)
    assert t("reading.section", "fr") not in first
    assert t("reading.section", "fr") in read and t("reading.section", "fr") in ended_again
    assert len(_forms(socket)) == 1  # once read, ending again goes straight to the debrief


async def test_at_the_coach_level_a_flagged_rupture_can_be_read_during_the_visit_and_only_noted(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        await app.settings_update({"level": "coach"})
        await app.on_message(_user_message(LEARNER))
        await drain()
        live = cl.user_session.get("live")
        patient = live.conversation.session.turns[-1]
        rupture = AllianceEvent(
            turn=patient.id,
            speaker=Speaker.patient,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.withdrawal,
            evidence=patient.text.split()[0],
            confidence=0.9,
        )
        live.conversation.session.events.append(rupture)
        await app.reading.offer_when_flagged(live.conversation.session, live.visit, app.tab.level(), "fr")
        await app.on_offer_reading(cl.Action(name="offer_reading", payload={"turn": patient.id}))
        answer = await app.on_reading(cl.Action(name="read_patient", payload={"turn": patient.id, **GOOD}))
        during = socket.dump()
        offers_after = await _offer_again(app, live, patient.id)
        await app.on_message(_user_message(SECOND))
        await drain()
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        await app.on_skip_reading(cl.Action(name="skip_reading", payload={}))

    offers = [a for a in socket.of("action") if a["name"] == "offer_reading"]
    assert len(offers) == 1 and offers[0]["payload"] == {"turn": patient.id}
    (form, _) = _forms(socket)
    assert form["props"]["moment"] == "visit" and form["props"]["actions"]["skip"] is None
    assert "ok" in answer and offers_after == 0
    assert MARKER not in during  # noted only: her hidden state never reached the screen during the visit
    assert t("reading.noted", "fr", turn=str(patient.id)) in during
    (debrief,) = _debriefs(socket)
    score = score_reading(live.visit.readings[0], patient.hidden)
    assert (
        t(
            "reading.heading",
            "fr",
            turn=patient.id,
            moment=t("reading.at_visit", "fr"),
            score=percent(score.overall, "fr"),
        )
        in debrief
    )


async def _offer_again(app: Any, live: Any, turn: int) -> int:
    before = len(app.reading._offered())
    await app.on_offer_reading(cl.Action(name="offer_reading", payload={"turn": turn}))
    return len(app.reading._offered()) - before


async def test_at_the_learner_level_no_reading_is_taken_during_the_visit(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        await app.on_message(_user_message(LEARNER))
        await drain()
        turn = cl.user_session.get("live").conversation.session.turns[-1].id
        await app.on_offer_reading(cl.Action(name="offer_reading", payload={"turn": turn}))
        answer = await app.on_reading(cl.Action(name="read_patient", payload={"turn": turn, **GOOD}))

    assert _forms(socket) == [] and "error" in answer
