"""Two tabs on one visit, a page whose first socket drops, a message before the start, a slow patient
(issue 12, items 10, 11, 12, 17, 18 and 20): each test is named after the item it covers."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import chainlit as cl
import chainlit.server
import pytest
from chainlit.chat_context import chat_context
from chainlit.context import ChainlitContext, context_var
from chainlit.session import WebsocketSession
from chainlit.user import PersistedUser, User
from chainlit.user_session import user_sessions

from agent.domain.session import Session
from agent.domain.visit import VisitState
from agent.i18n.catalog import t
from agent.persona.loader import load_persona
from agent.storage.sessions import SESSIONS_TABLE
from agent.web import reconnect
from agent.web import tab as tab_state
from agent.web.live import LiveVisits
from tests.support.chainlit_harness import FakeSocket, Harness, browser_tab, data_layer, drain
from tests.support.web_client import Web, make_session

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'chat_profiles' was never awaited:RuntimeWarning")

WAIT_S = 60.0  # every wait below is for an event; this only bounds a broken one


def _user_message(text: str, message_id: str | None = None) -> cl.Message:
    message = cl.Message(content=text, author="User", type="user_message", id=message_id or str(uuid.uuid4()))
    chat_context.add(message)
    return message


def _kept(harness: Harness) -> tuple[Session, VisitState]:
    with sqlite3.connect(harness.db_path) as conn:
        session_json, view_json = conn.execute(f"SELECT session_json, view_json FROM {SESSIONS_TABLE}").fetchone()
    return Session.from_json(session_json), VisitState.from_json(view_json)


def _said(socket: FakeSocket, key: str, **values: str) -> list[str]:
    text = t(key, "fr", **values)
    return [m["output"] for m in socket.of("new_message") if m["output"] == text]


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition that another task makes true; fail clearly if it never does."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout=WAIT_S)
    except TimeoutError:
        pytest.fail(f"still waiting after {WAIT_S} s for {what}")


@contextlib.contextmanager
def in_tab(tab: WebsocketSession) -> Iterator[None]:
    """Back in one of two open tabs: what Chainlit does for each event a tab's socket receives."""
    token = context_var.set(ChainlitContext(tab))
    try:
        yield
    finally:
        context_var.reset(token)


async def _alice() -> PersistedUser:
    user = await (await data_layer()).create_user(User(identifier="alice"))
    assert isinstance(user, PersistedUser)
    return user


async def test_10_two_tabs_on_one_thread_keep_every_turn_of_both(harness: Harness) -> None:
    app = harness.app
    alice = await _alice()
    async with browser_tab(FakeSocket(), user=alice) as a_tab:
        await app.start()
        await app.on_message(_user_message("Tab A, one."))
        await drain()
        # The second tab opens the thread from the history while the first stays open; both talk in turns.
        async with browser_tab(FakeSocket(), user=alice, thread_id=a_tab.thread_id) as b_tab:
            await app.resume({"id": a_tab.thread_id})  # type: ignore[typeddict-item]
            for turn in range(2):
                for name, tab in (("B", b_tab), ("A", a_tab)):
                    with in_tab(tab):
                        await app.on_message(_user_message(f"Tab {name}, {turn}."))
                        await drain()
            # Both tabs at once: one turn at a time, neither lost.
            with in_tab(b_tab):
                first = asyncio.create_task(app.on_message(_user_message("Tab B, together.")))
            with in_tab(a_tab):
                second = asyncio.create_task(app.on_message(_user_message("Tab A, together.")))
            await asyncio.wait_for(asyncio.gather(first, second), timeout=WAIT_S)
        with in_tab(a_tab):
            await drain()

    session, _ = _kept(harness)
    learner = sorted(turn.text for turn in session.turns[::2])
    assert learner == sorted(
        ["Tab A, one.", "Tab B, 0.", "Tab A, 0.", "Tab B, 1.", "Tab A, 1.", "Tab B, together.", "Tab A, together."]
    )
    assert len(session.turns) == 14 and all(turn.hidden is not None for turn in session.turns[1::2])


async def test_10_a_second_process_on_the_same_thread_loses_no_turn(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each tab served by its own process: each has its own copy of the visit; the kept row reconciles them."""
    app = harness.app
    alice = await _alice()
    a_socket = FakeSocket()
    monkeypatch.setattr(harness.opening, "LIVE", LiveVisits())  # process A
    async with browser_tab(a_socket, user=alice) as a_tab:
        await app.start()
        await app.on_message(_user_message("A1"))
        await drain()
        monkeypatch.setattr(harness.opening, "LIVE", LiveVisits())  # process B
        async with browser_tab(FakeSocket(), user=alice, thread_id=a_tab.thread_id):
            await app.resume({"id": a_tab.thread_id})  # type: ignore[typeddict-item]
            await app.on_message(_user_message("B1"))
            await drain()
        await app.on_message(_user_message("A2"))  # process A's copy is behind: it catches up first
        await drain()

    session, _ = _kept(harness)
    assert [turn.text for turn in session.turns[::2]] == ["A1", "B1", "A2"]
    assert _said(a_socket, "ui.other_tab"), "the tab that was behind is told why its screen lacks turns"


async def test_11_a_visit_ended_in_one_tab_stays_ended_in_the_other(harness: Harness) -> None:
    app = harness.app
    alice = await _alice()
    b_socket = FakeSocket()
    async with browser_tab(FakeSocket(), user=alice) as a_tab:
        await app.start()
        await app.on_message(_user_message("Bonjour madame."))
        await drain()
        async with browser_tab(b_socket, user=alice, thread_id=a_tab.thread_id) as b_tab:
            await app.resume({"id": a_tab.thread_id})  # type: ignore[typeddict-item]
            with in_tab(a_tab):
                await app.on_end_visit(cl.Action(name="end_visit", payload={}))
            await app.on_message(_user_message("Et maintenant ?"))
            await app.settings_update({"level": "coach"})  # a save from the other tab, too
            assert b_tab is not a_tab

    session, view = _kept(harness)
    assert view.ended and len(session.turns) == 2
    assert _said(b_socket, "ui.visit_over")


async def test_11_trying_again_after_the_end_is_a_new_attempt_shown_as_such(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    alice = await _alice()
    first_id = str(uuid.uuid4())
    async with browser_tab(socket, user=alice):
        await app.start()
        await app.on_message(_user_message("Bonjour madame.", first_id))
        await drain()
        await app.on_end_visit(cl.Action(name="end_visit", payload={}))
        await app.on_retry(cl.Action(name="retry_here", payload={"message": first_id}))
        await app.on_message(_user_message("Bonjour madame, je vous écoute."))
        await drain()

    _, view = _kept(harness)
    assert view.attempt == 2 and not view.ended and view.branches[-1].turns[0].text == "Bonjour madame."
    assert _said(socket, "ui.new_attempt", attempt="2", turn="0")
    requester = app.auth.users.requester("alice")
    summaries = await (await data_layer()).sessions.list_visible(requester)
    assert [summary.attempt for summary in summaries] == [2]


async def test_12_a_message_sent_before_the_chat_has_started_is_answered(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    alice = await _alice()
    async with browser_tab(socket, user=alice):
        early = asyncio.create_task(app.on_message(_user_message("Bonjour, vous m'entendez ?")))
        await asyncio.sleep(0)  # the message handler runs first, as it can on a busy server
        assert not early.done() and tab_state.message_waiting()
        await app.start()
        await asyncio.wait_for(early, timeout=WAIT_S)
        assert not tab_state.message_waiting()  # a later resume of this socket finds no message waiting
        await drain()

    session, _ = _kept(harness)
    assert session.turns[0].text == "Bonjour, vous m'entendez ?" and session.turns[1].hidden is not None


async def test_12_a_message_that_finds_no_visit_is_refused_visibly(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, socket = harness.app, harness.socket
    monkeypatch.setattr(harness.opening, "OPENING_WAIT_S", 0.05)  # the start never comes
    async with browser_tab(socket, user=await _alice()):
        await app.on_message(_user_message("Allô ?"))
    assert _said(socket, "ui.visit_not_open")


async def test_17_a_page_whose_first_socket_dropped_gets_the_opening_again(harness: Harness) -> None:
    app, first_socket = harness.app, harness.socket
    alice = await _alice()
    handler = chainlit.server.sio.handlers["/"]["connection_successful"]
    wrappers, inner = [], handler
    while inner is not None:
        wrappers += [mark for mark in ("_alliance_failover", "_alliance_reconnect") if getattr(inner, mark, False)]
        inner = getattr(inner, "__wrapped__", None)
    assert wrappers == ["_alliance_failover", "_alliance_reconnect"], "Chainlit's handler is wrapped once the app loads"
    async with browser_tab(first_socket, user=alice) as tab:
        tab.chat_started = True  # as Chainlit's handler marks it before it runs on_chat_start
        await app.start()
        brief = next(m for m in first_socket.of("new_message") if t("ui.brief_title", "fr") in m["output"])
        # The page drops that socket and opens another, as Chainlit's client does: the same session, restored.
        second_socket = FakeSocket()
        tab.restore(str(uuid.uuid4()))
        tab.emit, tab.emit_call = second_socket.emit, second_socket.emit_call
        assert WebsocketSession.get(tab.socket_id) is tab
        await handler(tab.socket_id)
        await asyncio.wait_for(asyncio.gather(*reconnect._tasks), timeout=WAIT_S)

    again = [m for m in second_socket.of("new_message") if m["id"] == brief["id"]]
    assert again and again[0]["output"] == brief["output"]  # the same message: shown once by the page
    assert second_socket.of("chat_settings") and second_socket.of("set_sidebar_elements")


async def test_17_a_socket_after_the_first_words_gets_nothing_twice(harness: Harness) -> None:
    app = harness.app
    async with browser_tab(harness.socket, user=await _alice()) as tab:
        tab.chat_started = True
        await app.start()
        tab.has_first_interaction = True
        assert not reconnect.needs_opening_again(tab)
        tab.restore(str(uuid.uuid4()))
        assert not reconnect.needs_opening_again(tab)
        tab.has_first_interaction = False
        assert reconnect.needs_opening_again(tab)


@pytest.mark.parametrize("level", ["exam", "learner", "coach"])
async def test_18_the_case_brief_stays_in_the_side_panel_for_the_whole_visit(harness: Harness, level: str) -> None:
    app = harness.app
    persona = load_persona(app.settings.personas_dir / "bertrand.fr.yaml")
    async with browser_tab(harness.socket, user=await _alice()):
        await app.start()
        await app.settings_update({"level": level})
        await app.on_message(_user_message("Bonjour madame."))
        await drain()
        await app.on_message(_user_message("Comment ça va ?"))
        await drain()
    panels: list[dict[str, Any]] = [m["props"] for m in harness.monitors()]
    assert len(panels) >= 3
    assert all(panel["brief"]["text"] == persona.case_brief for panel in panels)
    assert all(persona.display_name in panel["brief"]["title"] for panel in panels)


async def test_20_a_hung_patient_gets_a_notice_after_the_configured_delay_and_the_turn_is_kept(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, socket = harness.app, harness.socket
    monkeypatch.setattr(app.settings, "slow_notice_s", 0.2)
    notice = t("ui.patient_slow", "fr", seconds="0")
    async with browser_tab(socket, user=await _alice()):
        await app.start()
        live = cl.user_session.get("live")
        respond = live.conversation.patient.respond

        async def hung_until_noticed(session: Session, on_token: Any) -> Any:
            await _until(lambda: any(m["output"] == notice for m in socket.of("new_message")), "the slow notice")
            return await respond(session, on_token)

        monkeypatch.setattr(live.conversation.patient, "respond", hung_until_noticed)
        await asyncio.wait_for(app.on_message(_user_message("Bonjour madame.")), timeout=WAIT_S)
        await drain()

    session, _ = _kept(harness)
    assert session.turns[0].text == "Bonjour madame." and session.turns[1].hidden is not None
    notices = [m for m in socket.of("new_message") if m["output"] == notice]
    assert len(notices) == 1


async def test_20_a_quick_patient_gets_no_slow_notice(harness: Harness) -> None:
    app, socket = harness.app, harness.socket
    async with browser_tab(socket, user=await _alice()):
        await app.start()
        await app.on_message(_user_message("Bonjour madame."))
        await drain()
    slow = t("ui.patient_slow", "fr", seconds="X").split("(")[0]
    assert not [m for m in socket.of("new_message") if m["output"].startswith(slow)]


async def test_11_faculty_see_a_later_attempt_as_such_in_the_review_list(web: Web) -> None:
    await web.login("alice")
    thread, _ = await web.thread_of("alice", "visit")
    await web.layer.sessions.save(thread, "alice", make_session(), VisitState(attempt=2))
    prof = await web.login("prof")
    page = (await prof.get("/alliance/review?lang=en")).text
    assert "attempt 2" in page


async def test_a_message_that_arrives_before_the_resume_waits_for_that_resume(harness: Harness) -> None:
    """A page taken over by another process sends its next line at once, before that process has resumed the
    visit; Chainlit's resume then replaces the user session's contents with the thread's metadata. The message
    must still be released by the resume, not wait out OPENING_WAIT_S on an event nobody sets."""
    app = harness.app
    alice = await _alice()
    async with browser_tab(harness.socket, user=alice) as tab:
        thread_id = tab.thread_id
        await app.start()
        await app.on_message(_user_message("Bonjour"))
        await drain()
    async with browser_tab(FakeSocket(), user=alice, thread_id=thread_id) as tab:
        waiting = tab_state.opening()  # what an on_message that arrived first is waiting on
        assert not waiting.is_set()
        user_sessions[tab.id] = {}  # as Chainlit's resume_thread does, before on_chat_resume
        await app.resume({"id": thread_id})  # type: ignore[typeddict-item]
        assert waiting.is_set()
        assert tab_state.live() is not None
