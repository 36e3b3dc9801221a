"""Issue 12, item 6: failed logins are limited per user name and per client address, with a message
the learner reads (HTTP 429, in their language, shown by Chainlit's login page), and the limit lifts
by itself. The clock is a fake one: no test waits for the window to pass.
"""

from __future__ import annotations

import httpx
import pytest

from agent.i18n.catalog import t
from tests.support.web_client import Web


async def sign_in(client: httpx.AsyncClient, name: str, password: str, lang: str = "en-US") -> httpx.Response:
    return await client.post("/login", data={"username": name, "password": password}, headers={"Accept-Language": lang})


async def test_6_failed_logins_are_limited_per_user_with_a_clear_message(web: Web) -> None:
    client = web.client()
    for _ in range(5):
        assert (await sign_in(client, "alice", "not-her-password")).status_code == 401

    refused = await sign_in(client, "alice", web.passwords["alice"])  # even the right password, for a while

    assert refused.status_code == 429 and "access_token" not in refused.headers.get("set-cookie", "")
    assert refused.json()["detail"] == t("ui.login_too_many", "en", minutes="15")
    assert 0 < int(refused.headers["retry-after"]) <= 900
    in_french = await sign_in(web.client(), "alice", "x-123456789", lang="fr-CA,fr;q=0.9")
    assert in_french.status_code == 429 and in_french.json()["detail"] == t("ui.login_too_many", "fr", minutes="15")
    assert (await sign_in(client, "bob", web.passwords["bob"])).status_code == 200  # another user is not locked out


async def test_6_failed_logins_are_limited_per_address(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.web.login_limit import LoginLimiter  # here: the test above runs without it

    clock = [1000.0]
    limiter = LoginLimiter(per_user=100, per_address=4, window_s=60, clock=lambda: clock[0])
    monkeypatch.setattr(web.auth, "login_limiter", limiter)
    client = web.client()
    for name in ("nobody1", "nobody2", "alice", "nobody3"):  # guessing across names from one address
        assert (await sign_in(client, name, "guess-123456")).status_code == 401

    assert (await sign_in(client, "bob", web.passwords["bob"])).status_code == 429
    clock[0] += 61  # the window has passed
    assert (await sign_in(client, "bob", web.passwords["bob"])).status_code == 200


async def test_6_the_login_page_shows_the_message_in_the_learners_language(web: Web) -> None:
    for language, lang in (("fr-FR", "fr"), ("en-US", "en"), ("fr-CA", "fr")):
        answer = await web.client().get("/project/translations", params={"language": language})
        assert answer.status_code == 200
        errors = answer.json()["translation"]["auth"]["login"]["errors"]
        # Chainlit's login page looks the error up by the HTTP status text, lower-cased.
        assert errors["too many requests"] == t("ui.login_too_many", lang, minutes="15")
        assert errors["credentialsSignin"]  # Chainlit's own messages are still there


def test_login_counters_count_attempts_in_flight_and_stay_bounded() -> None:
    from agent.web.login_limit import LoginLimiter

    now = [0.0]
    limiter = LoginLimiter(per_user=2, per_address=100, window_s=60, clock=lambda: now[0], max_keys=50)
    assert limiter.attempt("alice", "a1") is None and limiter.attempt("alice", "a2") is None  # both still checking
    assert limiter.attempt("alice", "a3") == 60  # a third parallel guess waits for the window
    limiter.succeeded("alice", "a1")  # one was right: the name's count is forgotten
    assert limiter.attempt("alice", "a3") is None
    for n in range(500):  # made-up names cannot grow memory without bound
        limiter.attempt(f"guess{n}", "a9")
    assert len(limiter._failures) <= 50
