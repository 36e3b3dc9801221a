"""Issue 12, item 1: another origin (a page on another site or another port) reads nothing with a
logged-in user's cookie: no CORS echo, a 403 for every request it sends, a strict cookie, and the
Socket.IO server refuses it too. Same-origin requests and the configured allow-list still work.

Through the real ASGI app (httpx's transport); the socket tests replace Engine.IO's request handler
with a recorder, so no socket server runs and nothing is left behind.
"""

from __future__ import annotations

import chainlit.server
import httpx
import pytest

from tests.support.web_client import SocketProbe, Web, open_socket

EVIL = "http://evil.example"
OTHER_PORT = "http://testserver:8001"  # the attack: another port of the same host (same site, other origin)


def refused_cross_origin(response: httpx.Response, origin: str) -> bool:
    return response.status_code == 403 and response.headers.get("access-control-allow-origin") in (None, "")


async def test_1_foreign_origin_gets_no_cors_headers_and_no_data(web: Web) -> None:
    await web.login("alice")
    prof = await web.login("prof")
    thread, _ = await web.thread_of("alice", "alice's visit")

    for origin in (EVIL, OTHER_PORT, "null"):
        headers = {"Origin": origin}
        debrief = await prof.get(f"/alliance/debrief/{thread}?format=json", headers=headers)
        assert refused_cross_origin(debrief, origin), (origin, debrief.status_code, dict(debrief.headers))
        assert "Bonjour" not in debrief.text
        review = await prof.get("/alliance/review", headers=headers)
        assert refused_cross_origin(review, origin) and "alice" not in review.text
        listing = await prof.post("/project/threads", json={"pagination": {"first": 5}, "filter": {}}, headers=headers)
        assert refused_cross_origin(listing, origin) and thread not in listing.text
        one = await prof.get(f"/project/thread/{thread}", headers=headers)
        assert refused_cross_origin(one, origin) and "Réponse" not in one.text
        assert refused_cross_origin(await prof.get("/user", headers=headers), origin)
        preflight = await prof.options("/project/threads", headers={**headers, "Access-Control-Request-Method": "POST"})
        assert refused_cross_origin(preflight, origin)
        renamed = await prof.put("/project/thread", json={"threadId": thread, "name": "x"}, headers=headers)
        assert refused_cross_origin(renamed, origin)
        login = await web.client().post("/login", data={"username": "bob", "password": "bob-pass-22"}, headers=headers)
        assert refused_cross_origin(login, origin) and "access_token" not in login.headers.get("set-cookie", "")

    # The app's own pages still work: same origin (what a browser sends on a POST), or no Origin at all.
    same = {"Origin": "http://testserver"}
    assert (await prof.get(f"/alliance/debrief/{thread}?format=json", headers=same)).status_code == 200
    listing = await prof.post("/project/threads", json={"pagination": {"first": 5}, "filter": {}}, headers=same)
    assert listing.status_code == 200 and thread in listing.text
    assert (await prof.get(f"/alliance/debrief/{thread}?format=json")).status_code == 200


async def test_1_a_subresource_load_from_another_site_gets_no_review_page(web: Web) -> None:
    prof = await web.login("prof")
    # <img>, <script> or <link> from another site or port: no Origin header, but the browser says where it is from.
    cross = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}
    assert (await prof.get("/alliance/review", headers=cross)).status_code == 403
    navigation = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert (await prof.get("/alliance/review", headers=navigation)).status_code == 200


async def test_an_allowed_origin_is_answered_with_credentials(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    prof = await web.login("prof")
    monkeypatch.setattr(web.auth.settings, "allowed_origins", ["https://lms.example"])
    answer = await prof.get("/user", headers={"Origin": "https://lms.example"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://lms.example"
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert refused_cross_origin(await prof.get("/user", headers={"Origin": EVIL}), EVIL)


async def test_1_the_login_cookie_is_samesite_strict(web: Web) -> None:
    client = web.client()
    response = await client.post("/login", data={"username": "alice", "password": "alice-pass-1"})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "access_token=" in cookie and "samesite=strict" in cookie and "httponly" in cookie


async def test_1_the_socket_refuses_a_foreign_origin(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    prof = await web.login("prof")
    cookie = f"access_token={prof.cookies['access_token']}"
    probe = SocketProbe()
    monkeypatch.setattr(chainlit.server.sio.eio, "handle_request", probe.handle_request)

    for origin in (EVIL, OTHER_PORT):
        sent = await open_socket({"Origin": origin, "Cookie": cookie})
        assert probe.scopes == [] and sent and sent[0]["type"] in ("websocket.close", "websocket.http.response.start")
        assert not any(m["type"] == "websocket.accept" for m in sent)

    await open_socket({"Origin": "http://testserver", "Cookie": cookie})
    assert len(probe.scopes) == 1  # the app's own page reaches the socket server
    # Engine.IO itself also refuses foreign origins, should anything reach it another way.
    allowed = chainlit.server.sio.eio._cors_allowed_origins
    assert allowed({"HTTP_ORIGIN": EVIL, "HTTP_HOST": "testserver", "wsgi.url_scheme": "http"}) == []
    own = "http://testserver"
    assert allowed({"HTTP_ORIGIN": own, "HTTP_HOST": "testserver", "wsgi.url_scheme": "http"}) == [own]
    assert allowed({"HTTP_HOST": "testserver", "wsgi.url_scheme": "http"}) == []  # no Origin (curl): asked too


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "forwarded", "same"),
    [
        ("http://testserver", "testserver", "http", {}, True),
        ("http://TestServer:80", "testserver", "http", {}, True),
        ("https://app.example", "app.example:443", "https", {}, True),
        ("http://testserver:8001", "testserver", "http", {}, False),
        ("https://testserver", "testserver", "http", {}, False),
        ("http://evil.example", "testserver", "http", {}, False),
        ("null", "testserver", "http", {}, False),
        ("https://app.example", "127.0.0.1:8000", "http", {"proto": "https", "host": "app.example"}, True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", {}, True),
    ],
)
def test_same_origin_is_scheme_host_and_port(
    origin: str, host: str, scheme: str, forwarded: dict[str, str], same: bool
) -> None:
    from agent.web.security import origin_is_same, parse_origin  # here: the item tests above run without it

    parsed = parse_origin(origin)
    assert origin_is_same(parsed, host, scheme, forwarded.get("proto"), forwarded.get("host")) is same
