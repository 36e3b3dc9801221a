"""Two sockets of one page: the page's session follows the socket still open (agent/web/sockets.py).

The live test runs the real app; without the wrappers the learner's turns below are dropped by Chainlit ("Session
not found") and the waits time out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from chainlit.session import WebsocketSession, ws_sessions_id, ws_sessions_sid

from agent.devtools.loadtest import running, serve_stub, stub_env
from agent.domain.taxonomy import Speaker
from agent.web import sockets
from tests.support.live_app import LiveApp, Tab, kept_session, learner_tab, wait_for_turns


async def _second_socket(app: LiveApp, token: str, page_id: str) -> socketio.AsyncClient:
    """A second socket of the same page that connects and never says a word (a retried reconnect)."""
    client = socketio.AsyncClient()
    auth = {"clientType": "webapp", "sessionId": page_id, "threadId": "", "userEnv": "{}", "chatProfile": "bertrand.fr"}
    await client.connect(
        app.url,
        socketio_path="/ws/socket.io",
        headers={"Cookie": f"access_token={token}"},
        auth=auth,
        transports=["websocket"],
    )
    return client


async def test_a_page_is_answered_on_its_open_socket_when_a_second_one_came_and_went(tmp_path: Path) -> None:
    async with learner_tab(tmp_path) as (app, token, tab):
        db = app.data_dir / "alliance.db"

        gone = await _second_socket(app, token, tab.page_id)  # Chainlit binds the page's session to it
        await gone.disconnect()  # ... and it closes: the session goes back to the tab's socket
        await tab.say("Bonjour Madame Bertrand, comment allez-vous ?")
        await wait_for_turns(db, 2)

        silent = await _second_socket(app, token, tab.page_id)  # bound to a socket that stays open, says nothing
        await tab.say("Qu'est-ce qui vous inquiète le plus ?")  # the tab speaks: the session follows it
        session = await wait_for_turns(db, 4)
        await silent.disconnect()
        await tab.say("Et le travail ?")  # the silent socket's leaving takes nothing from the tab
        final = await wait_for_turns(db, 6)
        await tab.client.disconnect()

    assert [t.speaker for t in session.turns] == [Speaker.clinician, Speaker.patient] * 2
    assert [t.text for t in final.turns if t.speaker is Speaker.clinician][-1] == "Et le travail ?"
    replies = [d.get("output") for e, d in tab.events if e in ("new_message", "update_message")]
    assert final.turns[-1].text in replies  # shown on the tab's socket


async def test_an_edit_through_the_socket_is_an_edit(tmp_path: Path) -> None:
    """Chainlit's edit_message reaches on_message marked as an edit: a new branch from that turn. (A kept message
    that arrives again unmarked is not answered twice: tests/web/test_app_debrief.py.)"""
    async with learner_tab(tmp_path) as (app, _token, tab):
        db = app.data_dir / "alliance.db"
        ends = tab.task_ends
        message_id = await tab.send("Bonjour Madame Bertrand.")
        await tab.wait_for(lambda: tab.task_ends > ends)
        first = await wait_for_turns(db, 2)
        ends = tab.task_ends
        edit = {"id": message_id, "type": "user_message", "output": "Bonjour, prenez votre temps.", "threadId": ""}
        await tab.client.emit("edit_message", {"message": edit})
        await tab.wait_for(lambda: tab.task_ends > ends)
        _, edited = kept_session(db)
        await tab.client.disconnect()
    assert edited.parent_id == first.id and edited.turns[0].text == "Bonjour, prenez votre temps."
    assert [t.speaker for t in edited.turns] == [Speaker.clinician, Speaker.patient]


async def test_a_reply_given_while_the_page_was_away_is_shown_when_it_comes_back(tmp_path: Path) -> None:
    """The page's socket drops for a moment while the patient answers (a network blip), then comes back to the same
    process: the reply it missed is sent again, with its buttons, once (agent/web/reconnect.py)."""
    with running(serve_stub(tmp_path / "stub.log", "--latency", "patient_turn=3")) as stub:
        async with learner_tab(tmp_path, stub_env(stub, tmp_path / "data")) as (app, token, tab):
            db = app.data_dir / "alliance.db"
            await tab.send("Bonjour Madame Bertrand, comment allez-vous ?")
            await wait_for_turns(db, 1)  # kept; the patient is thinking
            await tab.client.disconnect()  # the blip
            answered = await wait_for_turns(db, 2)  # the reply went to the dropped socket
            back = Tab(tab.page_id)
            await back.open(app, token, settle=False)
            reply = answered.turns[1].text
            await back.wait_for(lambda: any(_shows(data, reply) for _, data in back.events))
            await back.wait_for(lambda: any(e == "action" for e, _ in back.events))
            await back.client.disconnect()
    assert not any(_shows(data, reply) for _, data in tab.events)  # it had not reached the first socket
    shown = [data for _, data in back.events if _shows(data, reply)]
    assert len({data["id"] for data in shown}) == 1
    assert answered.turns[1].hidden is not None
    assert answered.turns[1].hidden.inner_monologue not in json.dumps(back.events, ensure_ascii=False)
    removed = {d["id"] for e, d in back.events if e == "remove_action"}
    assert removed and removed <= {d["id"] for e, d in back.events if e == "action"}  # replaced, not doubled


def _shows(data: Any, text: str) -> bool:
    return isinstance(data, dict) and data.get("type") == "assistant_message" and data.get("output") == text


@pytest.fixture
def page() -> Iterator[WebsocketSession]:
    """A page's session bound to socket "open-1", which sockets.py knows as open."""
    session = WebsocketSession(
        id="page-1",
        socket_id="open-1",
        emit=lambda event, data: None,
        emit_call=lambda event, data, timeout: None,
        user_env={},
        client_type="webapp",
    )
    sockets._sockets["open-1"] = sockets.Socket("page-1", None, {})
    yield session
    sockets._sockets.clear()
    ws_sessions_id.pop("page-1", None)
    for sid in [sid for sid, s in ws_sessions_sid.items() if s is session]:
        ws_sessions_sid.pop(sid)


async def test_a_socket_closed_while_connecting_gives_the_session_back(
    page: WebsocketSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "is_open", lambda sid: sid == "open-1")
    monkeypatch.setattr(sockets, "is_connected", lambda sid: sid == "open-1")

    async def chainlit_connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        page.restore(new_socket_id=sid)  # Chainlit's restore, for a socket the page has already closed
        return True

    connect = sockets._wrap_connect(chainlit_connect)
    assert await connect("closed-2", {}, {"sessionId": "page-1"}) is True
    assert WebsocketSession.get("open-1") is page
    assert WebsocketSession.get("closed-2") is None
    assert "closed-2" not in sockets._sockets  # no disconnect will come for it: forgotten now


async def test_a_socket_of_another_user_never_takes_the_page(page: WebsocketSession) -> None:
    sockets._sockets["other-3"] = sockets.Socket("page-1", "mallory", {})
    assert sockets.adopt("other-3") is None
    assert WebsocketSession.get("open-1") is page
    assert sockets.adopt("open-1") is page
