"""Issue 12, item 2: a login token stops working as soon as its user is removed, changes password or
logs out, on Chainlit's own API, on our pages and on the socket, without waiting for it to expire.

Through the real ASGI app, logging in through POST /login like the browser.
"""

from __future__ import annotations

import uuid
from typing import Any

import chainlit.server
import httpx
import pytest
from chainlit.session import WebsocketSession

from agent.storage.access import Requester
from tests.support.web_client import SocketProbe, Web, open_socket

LIST = {"pagination": {"first": 20}, "filter": {}}


def replay(web: Web, token: str, bearer: bool = False) -> httpx.AsyncClient:
    """Another browser (or curl) holding a copied token."""
    client = web.client()
    if bearer:
        client.headers["Authorization"] = f"Bearer {token}"
    else:
        client.cookies.set("access_token", token)
    return client


async def test_2_token_of_a_removed_user_is_refused(web: Web) -> None:
    alice = await web.login("alice")
    await web.login("prof")
    thread, step = await web.thread_of("alice", "alice's visit")
    token = alice.cookies["access_token"]
    assert (await alice.post("/project/threads", json=LIST)).status_code == 200

    web.rewrite_users(remove=("alice",))  # `alliance users remove alice`

    for client in (alice, replay(web, token, bearer=True)):
        assert (await client.get("/user")).status_code == 401
        listing = await client.post("/project/threads", json=LIST)
        assert listing.status_code == 401 and thread not in listing.text
        read = await client.get(f"/project/thread/{thread}")
        assert read.status_code == 401 and "Réponse" not in read.text
        assert (await client.put("/project/thread", json={"threadId": thread, "name": "gone"})).status_code == 401
        shared = await client.put("/project/thread/share", json={"threadId": thread, "isShared": True})
        assert shared.status_code == 401
        deleted = await client.request("DELETE", "/project/thread", json={"threadId": thread})
        assert deleted.status_code == 401
        feedback = {"feedback": {"forId": step, "value": 1}, "sessionId": "x"}
        assert (await client.put("/feedback", json=feedback)).status_code == 401
        assert (await client.get(f"/alliance/debrief/{thread}?format=json")).status_code == 401
        assert (await client.get("/alliance/review")).status_code == 401

    # Nothing changed: faculty still read her thread and her kept session.
    kept = await web.layer.sessions.read(thread, Requester("prof", "faculty"))
    assert kept is not None and kept.owner == "alice"
    rows = await web.layer.execute_sql('SELECT name FROM threads WHERE "id" = :id', {"id": thread})
    assert rows == [{"name": "alice's visit"}]


async def test_2_token_is_refused_after_logout_on_every_device(web: Web) -> None:
    alice, other_device = await web.login("alice"), await web.login("alice")
    token = alice.cookies["access_token"]

    assert (await alice.post("/logout")).status_code == 200

    for client in (replay(web, token), replay(web, token, bearer=True), other_device):
        assert (await client.get("/user")).status_code == 401
        assert (await client.post("/project/threads", json=LIST)).status_code == 401
    again = await web.login("alice")  # a new login works at once
    assert (await again.get("/user")).json()["identifier"] == "alice"
    assert (await replay(web, token).get("/user")).status_code == 401  # the old one stays refused
    assert (await (await web.login("bob")).get("/user")).status_code == 200  # nobody else was logged out


async def test_2_token_is_refused_after_a_password_change(web: Web) -> None:
    alice = await web.login("alice")
    old_password = web.passwords["alice"]

    web.rewrite_users(passwords={"alice": "a-new-pass-77"})  # `alliance users add alice` again

    assert (await alice.get("/user")).status_code == 401
    stale = await web.client().post("/login", data={"username": "alice", "password": old_password})
    assert stale.status_code == 401
    assert (await (await web.login("alice")).get("/user")).status_code == 200


async def test_2_the_socket_server_never_sees_a_stale_token(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = await web.login("alice")
    cookie = f"access_token={alice.cookies['access_token']}; theme=dark"
    probe = SocketProbe()
    monkeypatch.setattr(chainlit.server.sio.eio, "handle_request", probe.handle_request)

    await open_socket({"Cookie": cookie})
    web.rewrite_users(remove=("alice",))
    await open_socket({"Cookie": cookie})

    assert "access_token=" in probe.cookies_seen(0)
    assert "access_token" not in probe.cookies_seen(1)  # Chainlit's connect then refuses: authentication failed
    assert "theme=dark" in probe.cookies_seen(1)  # other cookies pass untouched


async def test_2_login_valid_tells_the_chat_whether_a_tab_may_go_on(web: Web) -> None:
    alice = await web.login("alice")
    token = alice.cookies["access_token"]
    user = await web.layer.get_user("alice")

    async def emit(*args: Any, **kwargs: Any) -> None:
        return None

    def tab(token: str | None, with_user: bool = True) -> WebsocketSession:
        return WebsocketSession(
            id=str(uuid.uuid4()),
            socket_id=str(uuid.uuid4()),
            emit=emit,
            emit_call=emit,
            user_env={},  # type: ignore[arg-type]
            client_type="webapp",
            user=user if with_user else None,
            token=token,
        )

    tabs = [tab(token), tab(None), tab(None, with_user=False)]
    try:
        assert [await web.auth.login_valid(t) for t in tabs] == [True, True, True]
        assert (await alice.post("/logout")).status_code == 200
        assert await web.auth.login_valid(tabs[0]) is False  # this tab's login was logged out
        web.rewrite_users(remove=("alice",))
        assert await web.auth.login_valid(tabs[1]) is False  # no token in hand: the user must still be active
    finally:
        for t in tabs:
            await t.delete()
