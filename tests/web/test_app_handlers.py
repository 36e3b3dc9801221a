"""The Chainlit handlers of agent/web/app.py, driven through a real Chainlit session and emitter.

Chainlit has no test harness. We build what its socket server builds for a browser tab: a
`WebsocketSession` whose `emit` is ours, and a `ChainlitContext` around it, so every payload
the real `ChainlitEmitter` would put on the socket lands in a list (and every file Chainlit
would serve, such as a custom element's props, lands in a temporary folder). Then we call the
handlers as Chainlit would: on_chat_start, on_settings_update, on_message, an action.

The patient is the scripted fake model (ALLIANCE_LLM=fake) with a responder whose hidden
state carries a unique marker: it must be stored with the turn and appear in no payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chainlit as cl
import chainlit.config
import chainlit.data
import pytest
from chainlit.socket import persist_user_session, resume_thread
from chainlit.user import PersistedUser, User
from langchain_core.messages import BaseMessage

from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn, Session, Turn
from agent.domain.taxonomy import RuptureType, Speaker
from agent.domain.visit import VisitState
from agent.evaluator.base import Evaluator
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import t
from agent.persona.loader import load_persona
from agent.storage.sessions import SESSIONS_TABLE
from agent.web import tab as tab_state
from agent.web.live import LiveVisits
from tests.support.chainlit_harness import (
    LEARNER,
    MARKER,
    PROFILE,
    REPLY,
    FakeSocket,
    Harness,
    browser_tab,
    close_data_layer,
    data_layer,
    drain,
    marker_responder,
)
from tests.support.evaluators import flag_last_turn
from tests.support.storage import chainlit_cells_with

pytestmark = [
    # Chainlit's WebsocketSession runs the async chat_profiles hook with run_until_complete, which
    # cannot work inside a running loop (the real socket server hits the same): it falls back to
    # the global config and leaves this warning.
    pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning"),
]


def broken_responder(messages: Sequence[BaseMessage]) -> str:
    """Output cut short after the hidden state: never parses, never has a reply."""
    return '{"hidden": {"inner_monologue": "' + MARKER + ' je ne dirai rien", "emotions": ["anxi'


class FixedEvaluator(Evaluator):
    """Flags every clinician turn as a confrontation, quoting its first word: a visible event."""

    async def evaluate(self, transcript: list[PublicTurn], lang: str) -> list[AllianceEvent]:
        first_word = transcript[-1].text.split()[0]
        return flag_last_turn(
            transcript, Speaker.clinician, RuptureType.confrontation, first_word, 0.9, rationale="test", source="test"
        )


def _streamed_text(socket: FakeSocket, message_id: str) -> str:
    """The text a browser assembled from stream_start and the stream_token events of one message."""
    start = [s for s in socket.of("stream_start") if s["id"] == message_id]
    tokens = [t["token"] for t in socket.of("stream_token") if t["id"] == message_id]
    return (start[0]["output"] if start else "") + "".join(tokens)


@pytest.mark.parametrize("level", [CoachingLevel.learner, CoachingLevel.coach])
async def test_reply_streams_monitor_is_set_and_hidden_state_is_never_emitted(
    harness: Harness, level: CoachingLevel
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        if level is not CoachingLevel.learner:
            await app.settings_update({"level": level.value})
        before = len(socket.events)
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        conversation = await drain()
        if level is CoachingLevel.coach:
            await app.on_hint(cl.Action(name="hint", payload={}))

    # Chat start: the backend came from the factory (ALLIANCE_LLM=fake), the brief was shown.
    assert [b.label for b in harness.backends] == ["fake"]
    persona = load_persona(app.settings.personas_dir / f"{PROFILE}.yaml")
    briefs = [m for m in socket.of("new_message") if m["output"].startswith("### Mise en situation")]
    assert len(briefs) == 1 and persona.display_name in briefs[0]["output"]
    assert socket.of("chat_settings"), "the coaching level selector was not sent"

    # The patient's reply: streamed token by token, then sent as one message with the same text.
    turn = conversation.session.turns[-1]
    assert turn.speaker is Speaker.patient and turn.text == REPLY
    starts = [e for e, _ in socket.events[before:] if e == "stream_start"]
    assert len(starts) == 1
    reply_id = socket.of("stream_start")[-1]["id"]
    # The first words at once (in stream_start), the rest after them in batches (agent/web/streaming.py).
    first = socket.of("stream_start")[-1]["output"]
    assert first and REPLY.startswith(first) and len(first) < len(REPLY)
    assert len([t for t in socket.of("stream_token") if t["id"] == reply_id]) >= 1
    assert _streamed_text(socket, reply_id) == REPLY
    finals = [m for m in socket.of("new_message") if m["id"] == reply_id]
    assert len(finals) == 1
    assert finals[0]["output"] == REPLY and finals[0]["name"] == persona.display_name
    if level is CoachingLevel.coach:
        assert [a["name"] for a in socket.of("action") if a["forId"] == reply_id] == ["hint", "retry_here", "end_visit"]
        assert any(m["name"] == "Coach" for m in socket.of("new_message"))

    # The monitor: a side custom element, refreshed after the turn, built from the transcript.
    monitors = harness.monitors()
    assert monitors, "the monitor was never put in the sidebar"
    last = monitors[-1]
    assert last["type"] == "custom" and last["display"] == "side"
    assert last["props"]["level"] == level.value
    assert [p["turn"] for p in last["props"]["trend"]] == [0, 1]
    assert socket.of("set_sidebar_title")[-1] == last["props"]["ui"]["title"]

    # The hidden state was really produced and stored: the check below is not vacuous.
    assert turn.hidden is not None and MARKER in turn.hidden.inner_monologue
    assert MARKER in (turn.hidden.move_subtype or "")
    # ...and it reaches the browser through no payload and no served file.
    sent = harness.everything_sent()
    assert REPLY in sent  # the serialisation does cover the conversation
    assert MARKER not in sent
    assert turn.hidden.inner_monologue not in sent
    assert persona.inner_monologue[:60] not in sent  # the persona's secret pre-visit thoughts


async def test_exam_level_sends_a_monitor_with_no_turns(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    app, socket = harness.app, harness.socket
    monkeypatch.setattr(harness.opening, "build_evaluator", lambda kind, settings: FixedEvaluator())
    async with browser_tab(socket):
        await app.start()
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        await drain()
        learner_view = harness.monitors()[-1]["props"]
        await app.settings_update({"level": CoachingLevel.exam.value})
        after_switch = harness.monitors()[-1]["props"]
        await app.on_message(cl.Message(content="Trois mois, c'est non.", author="User", type="user_message"))
        conversation = await drain()

    # At learner level the same events do show (the exam view hides something real).
    assert learner_view["level"] == "learner"
    assert [t["id"] for t in learner_view["turns"]] == [0]
    assert learner_view["turns"][0]["flags"][0]["label"] == "confrontation"
    # At exam level: no turns, no trend, even though events are still recorded for the debrief.
    assert len(conversation.session.events) == 2
    exam_monitors = [m["props"] for m in harness.monitors() if m["props"]["level"] == "exam"]
    assert exam_monitors and exam_monitors[0] == after_switch
    for props in exam_monitors:
        assert props["turns"] == [] and props["trend"] == []
    assert harness.monitors()[-1]["props"]["level"] == "exam"
    assert "Trois mois, c'est non." not in json.dumps(exam_monitors, ensure_ascii=False)


async def test_a_turn_the_model_cannot_form_emits_an_error_message_and_still_no_hidden_state(
    harness: Harness,
) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket):
        await app.start()
        harness.backends[0].model.responder = broken_responder  # type: ignore[attr-defined]
        await app.on_message(cl.Message(content=LEARNER, author="User", type="user_message"))
        conversation = await drain()

    assert [t.speaker for t in conversation.session.turns] == [Speaker.clinician]  # the learner's words kept
    errors = [m for m in socket.of("new_message") if m["name"] == "Alliance" and "n'a pas pu répondre" in m["output"]]
    assert len(errors) == 1
    assert not socket.of("stream_token")
    assert harness.backends[0].model.calls  # type: ignore[attr-defined]
    assert MARKER not in harness.everything_sent()


# --------------------------------------------------------------------------- kept sessions


async def _settle(timeout_s: float = 120.0) -> None:
    """Wait until the background work Chainlit and the app started (thread creation, step writes, late
    monitor refreshes and saves) is done: on the tasks themselves, bounded, failing loudly.

    It used to give up silently after 10 s, so on a busy machine a monitor result could land after the
    test had read the panel, and the resumed panel then had one more trend point than the one read."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while pending := [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]:
        left = deadline - loop.time()
        assert left > 0, f"background tasks still running after {timeout_s} s: {pending}"
        await asyncio.wait(pending, timeout=min(left, 1.0))


async def _learner(name: str = "alice") -> PersistedUser:
    """A learner known to Chainlit's data layer, as after their login."""
    user = await (await data_layer()).create_user(User(identifier=name))
    assert isinstance(user, PersistedUser)
    return user


async def _visit(harness: Harness, *lines: str) -> tuple[PersistedUser, str]:
    """alice's visit in a tab of this process, where she says `lines`: her user and the visit's thread."""
    alice = await _learner()
    async with browser_tab(harness.socket, user=alice) as tab:
        await harness.app.start()
        for line in lines:
            await _say(line)
        await _settle()
        return alice, str(tab.thread_id)


async def _say(text: str) -> str:
    """A learner message the way Chainlit's socket handler delivers it: stored as a step, then on_message."""
    import agent.web.app as app

    payload: Any = {
        "message": {
            "id": str(uuid.uuid4()),
            "type": "user_message",
            "output": text,
            "createdAt": "2026-01-01T00:00:00Z",
            "threadId": cl.context.session.thread_id,
        },
        "fileReferences": [],
    }
    message = await cl.context.emitter.process_message(payload)
    await app.on_message(message)
    await drain()
    await _settle()
    return str(message.id)


def _kept_turns(db_path: Path) -> list[Turn]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(f"SELECT session_json FROM {SESSIONS_TABLE}").fetchall()
    assert len(rows) == 1
    return Session.from_json(rows[0][0]).turns


async def test_every_turn_survives_a_restart_and_the_conversation_resumes_where_it_was(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, socket = harness.app, harness.socket
    monkeypatch.setattr(harness.opening, "build_evaluator", lambda kind, settings: FixedEvaluator())
    alice = await _learner()

    async with browser_tab(socket, user=alice) as tab:
        thread_id = tab.thread_id
        await app.start()
        await app.settings_update({"level": CoachingLevel.coach.value})
        await _say(LEARNER)
        await _say("Qu'est-ce qui vous inquiète le plus ?")
        before = cl.user_session.get("live").conversation.session
        monitor_before = harness.monitors()[-1]["props"]
        # What Chainlit does when the tab goes away: the user session into the thread's metadata.
        await persist_user_session(thread_id, tab.to_persistable())

    # Kept: all four turns, the patient's hidden states with them, the events, the level.
    kept = _kept_turns(harness.db_path)
    assert [t.speaker for t in kept] == [Speaker.clinician, Speaker.patient] * 2
    assert all(MARKER in t.hidden.inner_monologue for t in kept if t.hidden is not None)
    # ... and not one hidden word in any Chainlit table (threads, their metadata, steps...).
    assert MARKER not in harness.everything_sent()
    assert chainlit_cells_with(harness.db_path, MARKER) == []
    assert chainlit_cells_with(harness.db_path, REPLY), "the scan does cover what Chainlit keeps"

    # The server restarts: a new process would have a new data layer, backend and socket session.
    await close_data_layer()
    monkeypatch.setattr(chainlit.data, "_data_layer", None)
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", False)
    monkeypatch.setattr(harness.opening, "_backend", None)
    resumed_socket = FakeSocket()
    async with browser_tab(resumed_socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)  # Chainlit's own: checks the author, restores the user session
        assert thread is not None
        await app.resume(thread)
        conversation = cl.user_session.get("live").conversation
        assert conversation.session == before  # every turn, hidden states and events included
        assert cl.user_session.get("live").visit.level == CoachingLevel.coach.value
        monitor = [
            e
            for p in resumed_socket.of("set_sidebar_elements")
            for e in p["elements"]
            if e["name"] == "AllianceMonitor"
        ][-1]["props"]
        assert monitor == monitor_before  # the same flags, trend and level as before the restart
        assert monitor["level"] == "coach" and [p["turn"] for p in monitor["trend"]] == [0, 1, 2, 3]
        assert [t["id"] for t in monitor["turns"]] == [0, 2]  # FixedEvaluator flags the learner's turns
        assert resumed_socket.of("chat_settings")[-1][0]["initial"] == "coach"
        await _say("Et le retour au travail ?")

    kept = _kept_turns(harness.db_path)
    assert len(kept) == 6 and kept[4].text == "Et le retour au travail ?" and kept[5].hidden is not None
    assert MARKER not in resumed_socket.dump()


async def test_the_learners_words_are_kept_before_the_patient_is_asked(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    seen_by_the_patient: list[list[str]] = []

    def crashing_patient(messages: Sequence[BaseMessage]) -> str:
        seen_by_the_patient.append([t.text for t in _kept_turns(harness.db_path)])  # what is on disk now
        with contextlib.closing(sqlite3.connect(harness.db_path)) as conn:  # and which chat message that turn is
            recorded.append(VisitState.from_json(conn.execute(f"SELECT view_json FROM {SESSIONS_TABLE}").fetchone()[0]))
        raise RuntimeError("the server dies here")

    recorded: list[VisitState] = []
    alice = await _learner()
    async with browser_tab(socket, user=alice):
        await app.start()
        harness.backends[0].model.responder = crashing_patient  # type: ignore[attr-defined]
        sent = await _say(LEARNER)

    assert seen_by_the_patient and all(kept == [LEARNER] for kept in seen_by_the_patient)
    assert [t.text for t in _kept_turns(harness.db_path)] == [LEARNER]
    assert recorded and all(view.message_turns == {sent: 0} for view in recorded)  # kept with its message's id


async def test_a_resumed_visit_whose_last_message_had_no_answer_is_answered_then(harness: Harness) -> None:
    """A process lost mid-reply (here: the patient failed): the learner's turn was kept without an answer. The
    page that resumes the visit (a reload, or another process after a failover) gets it answered, once."""
    app, socket = harness.app, harness.socket
    alice = await _learner()
    async with browser_tab(socket, user=alice) as tab:
        thread_id = tab.thread_id
        await app.start()
        harness.backends[0].model.responder = broken_responder  # type: ignore[attr-defined]
        await _say(LEARNER)
    assert [t.speaker for t in _kept_turns(harness.db_path)] == [Speaker.clinician]
    harness.backends[0].model.responder = marker_responder  # type: ignore[attr-defined]
    async with browser_tab(socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        await app.resume(thread)
        await harness.opening.answer_unanswered()
        await harness.opening.answer_unanswered()  # a second connect of the same page answers nothing more
        await _settle()
    notices = [m["output"] for m in socket.of("new_message") if m["output"] == t("ui.resume_unanswered", "fr")]
    assert len(notices) == 1
    kept = _kept_turns(harness.db_path)
    assert [(t.speaker, t.text if t.speaker is Speaker.clinician else "") for t in kept] == [
        (Speaker.clinician, LEARNER),
        (Speaker.patient, ""),
    ]
    assert kept[1].text and kept[1].hidden is not None
    assert any(m["output"] == kept[1].text for m in socket.of("new_message") + socket.of("update_message"))


async def test_a_kept_turn_whose_message_chainlit_never_wrote_is_shown_again_then_answered(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died after keeping the learner's turn but before Chainlit wrote its message: the page resumed
    elsewhere would not show the words the patient is about to answer. The message is written and added to the
    thread the page receives, and the answer follows it."""
    app, socket = harness.app, harness.socket
    layer = await data_layer()
    alice = await _learner()
    async with browser_tab(socket, user=alice) as tab:
        thread_id = tab.thread_id
        await app.start()
        harness.backends[0].model.responder = broken_responder  # type: ignore[attr-defined]
        await _say(LEARNER)
    harness.backends[0].model.responder = marker_responder  # type: ignore[attr-defined]
    monkeypatch.setattr(harness.opening, "LIVE", LiveVisits())  # another process: the visit is not open there
    async with browser_tab(socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        thread["steps"] = [s for s in thread["steps"] if s["type"] != "user_message"]  # as if never written
        tab.has_first_interaction = True  # as Chainlit's handler marks a resumed tab before on_chat_resume
        await app.resume(thread)
        shown = [s for s in thread["steps"] if s["type"] == "user_message"]
        assert [s["output"] for s in shown] == [LEARNER]  # what the page will show
        await harness.opening.answer_unanswered()
        await _settle()
    kept = await layer.get_thread(thread_id)
    assert kept is not None
    assert [s["id"] for s in kept["steps"] if s["type"] == "user_message" and s["output"] == LEARNER]
    assert shown[0]["id"] in {s["id"] for s in kept["steps"]}
    turns = _kept_turns(harness.db_path)
    assert [t.speaker for t in turns] == [Speaker.clinician, Speaker.patient]


async def test_a_kept_reply_whose_message_chainlit_never_wrote_is_shown_on_the_resumed_page(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died after keeping the patient's reply but before Chainlit wrote its message: the page resumed
    elsewhere is shown the reply (its words, never its hidden state), once, and nothing is answered again."""
    app, layer = harness.app, await data_layer()
    alice, thread_id = await _visit(harness, LEARNER)
    kept = _kept_turns(harness.db_path)
    assert [t.speaker for t in kept] == [Speaker.clinician, Speaker.patient]
    monkeypatch.setattr(harness.opening, "LIVE", LiveVisits())  # another process: the visit is not open there
    async with browser_tab(harness.socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        thread["steps"] = [s for s in thread["steps"] if s.get("output") != kept[1].text]  # as if never written
        tab.has_first_interaction = True
        await app.resume(thread)
        await harness.opening.answer_unanswered()
        await _settle()
    replies = [s for s in thread["steps"] if s["type"] == "assistant_message" and s["output"] == kept[1].text]
    persona = load_persona(app.settings.personas_dir / f"{PROFILE}.yaml")
    assert len(replies) == 1 and replies[0]["name"] == persona.display_name
    assert kept[1].hidden is not None
    assert kept[1].hidden.inner_monologue not in json.dumps(thread["steps"], ensure_ascii=False)
    written = await layer.get_thread(thread_id)
    assert written is not None and replies[0]["id"] in {s["id"] for s in written["steps"]}
    assert len(_kept_turns(harness.db_path)) == 2  # answered once, not again


async def test_a_reply_the_page_shows_is_not_written_again_after_a_refused_message(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page shows the patient's last reply, then a message of the learner's the app refused (nothing kept) and
    its notice: the page is taken over elsewhere, and the reply is not written a second time."""
    app, layer = harness.app, await data_layer()
    alice, thread_id = await _visit(harness, LEARNER, "x" * (app.settings.max_message_chars + 1))  # refused: too long
    kept = _kept_turns(harness.db_path)
    monkeypatch.setattr(harness.opening, "LIVE", LiveVisits())  # another process: the visit is not open there
    async with browser_tab(harness.socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        assert [s["type"] for s in thread["steps"]][-2:] == ["user_message", "assistant_message"]  # refused, notice
        tab.has_first_interaction = True
        await app.resume(thread)
        await _settle()
    assert len([s for s in thread["steps"] if s["output"] == kept[1].text]) == 1
    written = await layer.get_thread(thread_id)
    assert written is not None and len([s for s in written["steps"] if s["output"] == kept[1].text]) == 1


async def test_resuming_a_thread_with_no_kept_session_says_it_cannot_go_on(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    layer = await data_layer()
    alice = await _learner()
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="old", user_id=alice.id)
    async with browser_tab(socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        await app.resume(thread)
        assert cl.user_session.get("live") is None
    assert [m["output"] for m in socket.of("new_message")] == [t("ui.resume_missing", "fr")]


async def test_a_page_taken_over_before_its_first_kept_turn_begins_its_visit_for_the_waiting_message(
    harness: Harness,
) -> None:
    """The process died before anything was kept; the page's first words reached the new process, which found the
    thread (Chainlit wrote it for that message) but no kept session: the visit begins there, not a dead end."""
    app, socket = harness.app, harness.socket
    layer = await data_layer()
    alice = await _learner()
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="Bonjour", user_id=alice.id)
    async with browser_tab(socket, user=alice, thread_id=thread_id) as tab:
        thread = await resume_thread(tab)
        assert thread is not None
        tab_state.mark_message_waiting()  # on_message is waiting for the visit to open
        await app.resume(thread)
        assert cl.user_session.get("live") is not None
    outputs = [m["output"] for m in socket.of("new_message")]
    assert t("ui.resume_missing", "fr") not in outputs
    assert any(t("ui.brief_title", "fr") in o or "Bertrand" in o for o in outputs)


async def test_a_first_message_its_dead_process_never_kept_is_kept_and_answered_by_the_new_one(
    harness: Harness,
) -> None:
    """The process died after Chainlit wrote the page's first message, before the app kept anything: the page
    resumed elsewhere shows that message and nothing answers it. There the visit begins, the message is kept as
    the first turn, and the patient answers it."""
    app, socket = harness.app, harness.socket
    layer = await data_layer()
    alice = await _learner()
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name=LEARNER, user_id=alice.id)
    now = datetime.now(UTC).isoformat()
    step = {"id": str(uuid.uuid4()), "threadId": thread_id, "name": "alice", "type": "user_message", "output": LEARNER}
    async with browser_tab(socket, user=alice, thread_id=thread_id) as tab:
        tab.has_first_interaction = True  # Chainlit's data layer writes a step only after the first interaction
        await layer.create_step(step | {"createdAt": now, "start": now, "end": now, "streaming": False})
        thread = await resume_thread(tab)
        assert thread is not None and [s["output"] for s in thread["steps"]] == [LEARNER]
        await app.resume(thread)
        await harness.opening.answer_unanswered()
        await _settle()
    assert t("ui.resume_missing", "fr") not in [m["output"] for m in socket.of("new_message")]
    kept = _kept_turns(harness.db_path)
    assert [(t.speaker, t.text if t.speaker is Speaker.clinician else "") for t in kept] == [
        (Speaker.clinician, LEARNER),
        (Speaker.patient, ""),
    ]
    assert any(m["output"] == kept[1].text for m in socket.of("new_message") + socket.of("update_message"))


@pytest.mark.parametrize("local", [True, False])
async def test_local_mode_is_announced_at_chat_start(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, local: bool
) -> None:
    monkeypatch.setattr(harness.opening, "local_mode", local)
    async with browser_tab(harness.socket, language="en-US"):
        await harness.app.start()
    brief = [m["output"] for m in harness.socket.of("new_message") if m["output"].startswith("### Case brief")]
    assert len(brief) == 1
    assert (t("ui.local_mode", "en") in brief[0]) is local


async def test_a_database_that_fails_is_reported_once_and_the_visit_goes_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, socket = harness.app, harness.socket
    layer = await data_layer()
    alice = await _learner()

    async def down(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(layer.sessions, "save", down)
    async with browser_tab(socket, user=alice):
        await app.start()
        await _say(LEARNER)
        await _say("Et ensuite ?")
        conversation = cl.user_session.get("live").conversation
    assert len(conversation.session.turns) == 4  # the patient answered both times
    warnings = [m for m in socket.of("new_message") if m["output"] == t("ui.not_saved", "fr")]
    assert len(warnings) == 1
