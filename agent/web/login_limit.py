"""Failed logins, limited per user name and per client address, in this process.

`LoginLimiter` counts failures in a sliding window (`ALLIANCE_LOGIN_WINDOW_S`, 15 minutes): past
`ALLIANCE_LOGIN_FAILURES_PER_USER` for one name, or `..._PER_ADDRESS` from one address, POST /login is
answered 429 with a message in the learner's language, before any password is checked (so a refused
attempt costs no scrypt work either), until the oldest failure leaves the window. A success forgets the
name's failures. Each attempt counts as a failure from the moment it starts, so parallel guesses cannot
slip through while the first ones are being checked.

The counters live in the process: with several processes serving the app, each one counts on its own
(the limits are then per process; see SECURITY.md). Keys are bounded: past `max_keys`, the oldest go.

Chainlit's login page shows an error by looking up `auth.login.errors.<HTTP status text>` in its
translations, so `install_login_messages` adds our message under "too many requests" to the
translations it serves; its toast also shows the answer's `detail`.
"""

from __future__ import annotations

import copy
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from chainlit.config import config
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.config import Settings
from agent.domain.taxonomy import Lang
from agent.i18n.catalog import number, t, ui_lang

MAX_LOGIN_BODY = 64 * 1024  # a login form is a name and a password


class LoginLimiter:
    def __init__(
        self,
        per_user: int,
        per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ):
        self.limits = {"user": per_user, "address": per_address}
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimiter:
        return cls(settings.login_failures_per_user, settings.login_failures_per_address, settings.login_window_s)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        return [("user", name[:128]), ("address", address)]

    def attempt(self, name: str, address: str) -> float | None:
        """Seconds to wait when this attempt is refused; None when it may go on (it then counts as a failure)."""
        now = self.clock()
        keys = self._keys(name, address)
        waits = [
            times[0] + self.window_s - now
            for key in keys
            if len(times := self._recent(key, now)) >= self.limits[key[0]]
        ]
        if waits:
            return max(waits)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return None

    def succeeded(self, name: str, address: str) -> None:
        """The password was right: the name's failures are forgotten, and this attempt is not one."""
        user, by_address = self._keys(name, address)
        self._failures.pop(user, None)
        times = self._failures.get(by_address)
        if times:
            times.pop()


def too_many_message(lang: Lang, window_s: float) -> str:
    return t("ui.login_too_many", lang, minutes=number(max(1, math.ceil(window_s / 60)), lang))


def _replay(body: bytes, then: Receive | None) -> Receive:
    """The request body, read once already, handed again to whoever reads it next."""
    done = False

    async def receive() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then() if then is not None else {"type": "http.disconnect"}

    return receive


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_LOGIN_BODY (or when the client went away)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_LOGIN_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _user_name(scope: Scope, body: bytes) -> str:
    try:
        form: FormData = await Request(scope, _replay(body, None)).form(max_files=0, max_fields=10)
    except Exception:  # not a form Chainlit can read either: it answers 422 itself
        return ""
    name = form.get("username")
    await form.close()
    return name if isinstance(name, str) else ""


async def limited_login(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, limiter: LoginLimiter, client: str
) -> None:
    """POST /login, counted: refused with 429 while the name or the address is over its limit."""
    body = await _read_body(receive)
    if body is None:
        await JSONResponse({"detail": "login form too large"}, status_code=413)(scope, receive, send)
        return
    name = await _user_name(scope, body)
    wait = limiter.attempt(name, client)
    if wait is not None:
        lang = ui_lang(Headers(scope=scope).get("accept-language"))
        detail = too_many_message(lang, limiter.window_s)
        headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        await JSONResponse({"detail": detail}, status_code=429, headers=headers)(scope, receive, send)
        return
    status: list[int] = []

    async def send_status(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        await send(message)

    await app(scope, _replay(body, receive), send_status)
    if status and status[0] == 200:
        limiter.succeeded(name, client)


def install_login_messages(app: FastAPI, window_s: Callable[[], float]) -> None:
    """Serve Chainlit's translations with our "too many attempts" message in them (ahead of its own route)."""
    path = f"{config.run.root_path}/project/translations"
    if any(getattr(r, "path", None) == path and getattr(r, "name", "") == "alliance_translations" for r in app.routes):
        return
    router = APIRouter()

    @router.get(path, name="alliance_translations")
    async def translations(
        language: str = Query(default="en-US", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,2}$"),
    ) -> JSONResponse:
        effective = config.ui.language or language
        translation: dict[str, Any] = copy.deepcopy(config.load_translation(effective))
        errors = translation.setdefault("auth", {}).setdefault("login", {}).setdefault("errors", {})
        errors["too many requests"] = too_many_message(ui_lang(effective), window_s())
        return JSONResponse({"translation": translation})

    before = len(app.router.routes)
    app.include_router(router)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
