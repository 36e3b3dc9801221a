"""The app's front door, one ASGI middleware around everything Chainlit serves (HTTP and the socket):

1. Origins. A request whose `Origin` is neither the app's own (scheme, host and port of the request)
   nor in `ALLIANCE_ALLOWED_ORIGINS` is refused: 403 over HTTP, a closed handshake on the socket, and
   never an `access-control-allow-origin`. Chainlit's own CORS middleware (which echoed any origin
   with credentials) is taken out; allowed origins get CORS with credentials from here. Our pages
   (`/alliance/...`) also refuse what the browser marks as loaded by another site or port
   (`Sec-Fetch-Site`) unless it is a navigation: no `<script>` or `<img>` of a review page elsewhere.
2. Logins. A login token (cookie or bearer) that no longer stands (user removed, password changed,
   logged out: see `agent.web.auth.requester_of_token`) is taken out of the request, so Chainlit's
   API, our pages and the socket see an anonymous request and refuse it (401) as they do any other.
   The requester of a valid one is recorded for the data layer's access rule.
3. Failed logins are limited (`agent.web.login_limit`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import chainlit.auth.cookie
from chainlit.auth import get_token_from_cookies
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.config import origin_key
from agent.storage.access import Requester
from agent.web.datalayer import HttpAccess, reset_http_access, set_http_access
from agent.web.login_limit import LoginLimiter, limited_login

log = logging.getLogger(__name__)

OUR_PREFIX = "/alliance/"
_SCHEMES = {"ws": "http", "wss": "https"}
_warned: set[str] = set()


def parse_origin(origin: str) -> str | None:
    """The origin in canonical form, or None for "null" and anything that is not an origin."""
    try:
        return origin_key(origin)
    except ValueError:
        return None


def origin_is_same(
    origin: str | None, host: str, scheme: str, forwarded_proto: str | None = None, forwarded_host: str | None = None
) -> bool:
    """Whether a (parsed) origin is the app's own: the request's scheme, host and port, as received or as a
    proxy says it forwarded them (X-Forwarded-Proto / -Host: a browser cannot set those on a cross-origin
    request without a preflight, which is refused)."""
    if origin is None or not host:
        return False
    scheme = _SCHEMES.get(scheme, scheme)
    candidates = {(scheme, host)}
    if forwarded_proto or forwarded_host:
        first = (forwarded_proto or scheme).split(",")[0].strip(), (forwarded_host or host).split(",")[0].strip()
        candidates.add(first)
    return any(parse_origin(f"{s}://{h}") == origin for s, h in candidates)


@dataclass(frozen=True)
class Guard:
    """What the middleware asks the app, at each request (so that settings and users read now count)."""

    allowed_origins: Callable[[], Sequence[str]]
    requester_of_token: Callable[[str], Awaitable[Requester | None]]
    login_limiter: Callable[[], LoginLimiter]
    login_path: str = "/login"


def _is_token_cookie(name: str) -> bool:
    """Chainlit's login cookie, whole or in chunks (`access_token`, `access_token_0`, ...)."""
    base = getattr(chainlit.auth.cookie, "_auth_cookie_name", "access_token")
    return name == base or (name.startswith(base + "_") and name[len(base) + 1 :].isdigit())


def _token(headers: Headers) -> str | None:
    """The login token as Chainlit reads it: from the cookie first, else a bearer header."""
    token = get_token_from_cookies(cookie_parser(headers.get("cookie", "")))
    if token:
        return str(token)
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def _without_token(scope: Scope) -> Scope:
    """The request as if it carried no login: the token's cookies and any bearer header out, the rest kept."""
    kept: list[tuple[bytes, bytes]] = []
    for key, value in scope["headers"]:
        if key == b"authorization":
            continue
        if key == b"cookie":
            parts = [p for p in value.decode("latin-1").split(";") if p.strip()]
            rest = [p.strip() for p in parts if not _is_token_cookie(p.split("=", 1)[0].strip())]
            if not rest:
                continue
            value = "; ".join(rest).encode("latin-1")
        kept.append((key, value))
    return {**scope, "headers": kept}


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, guard: Guard):
        self.app = app
        self.guard = guard
        self._cors: tuple[tuple[str, ...], ASGIApp] | None = None

    def _with_cors(self, allowed: tuple[str, ...]) -> ASGIApp:
        if self._cors is None or self._cors[0] != allowed:
            cors = CORSMiddleware(
                self.app, allow_origins=allowed, allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
            )
            self._cors = (allowed, cors)
        return self._cors[1]

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, why: str) -> None:
        if why not in _warned and len(_warned) < 100:
            _warned.add(why)
            log.warning(
                "refused %s (%s); if this is the app's own address behind a proxy, pass the Host header through "
                "or list the origin in ALLIANCE_ALLOWED_ORIGINS",
                scope.get("path"),
                why,
            )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await JSONResponse({"detail": "cross-origin request refused"}, status_code=403)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        allowed = tuple(self.guard.allowed_origins())
        app = self.app
        if (raw := headers.get("origin")) is not None:
            origin = parse_origin(raw)
            same = origin_is_same(
                origin,
                headers.get("host", ""),
                scope.get("scheme", "http"),
                headers.get("x-forwarded-proto"),
                headers.get("x-forwarded-host"),
            )
            if not same and origin not in allowed:
                await self._refuse(scope, receive, send, f"origin {raw[:100]!r}")
                return
            if not same:
                app = self._with_cors(allowed)
        elif scope["path"].startswith(OUR_PREFIX) and _loaded_by_another_site(headers):
            await self._refuse(scope, receive, send, f"a {headers.get('sec-fetch-dest', '?')} load from another site")
            return

        requester = None
        if (token := _token(headers)) is not None:
            requester = await self.guard.requester_of_token(token)
            if requester is None:
                scope = _without_token(scope)
        if scope["type"] == "websocket":
            await app(scope, receive, send)
            return
        access = HttpAccess(requester, read_only=scope["method"] in ("GET", "HEAD")) if requester else None
        context = set_http_access(access)
        try:
            if scope["method"] == "POST" and scope["path"] == self.guard.login_path:
                client = scope.get("client") or ("unknown", 0)
                await limited_login(app, scope, receive, send, self.guard.login_limiter(), str(client[0]))
            else:
                await app(scope, receive, send)
        finally:
            reset_http_access(context)


def _loaded_by_another_site(headers: Headers) -> bool:
    site, mode = headers.get("sec-fetch-site"), headers.get("sec-fetch-mode")
    return site in ("cross-site", "same-site") and mode != "navigate"


def socket_origin_allowed(allowed: Callable[[], Sequence[str]]) -> Callable[[str | None, dict[str, str]], bool]:
    """For Engine.IO's own origin check (a second line behind the middleware). Its environ has no reliable
    scheme (it says http unless a proxy says otherwise), so the app's own origin is told by host and port."""

    def check(origin: str | None, environ: dict[str, str]) -> bool:
        parsed = parse_origin(origin) if origin else None  # Engine.IO asks with None when there is no Origin
        if parsed is None:
            return False
        if parsed in allowed():
            return True
        hosts = {environ.get("HTTP_HOST", ""), environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()}
        return any(origin_is_same(parsed, h, parsed.split(":", 1)[0]) for h in hosts if h)

    return check


def install_security_middleware(app: FastAPI, guard: Guard) -> None:
    """Once, before the server starts: Chainlit's CORS out, our middleware outermost."""
    if app.middleware_stack is not None:
        raise RuntimeError("the app is already serving: its middleware can no longer change")
    app.user_middleware[:] = [m for m in app.user_middleware if getattr(m, "cls", None) is not CORSMiddleware]
    if not any(getattr(m, "cls", None) is SecurityMiddleware for m in app.user_middleware):
        app.user_middleware.insert(0, Middleware(SecurityMiddleware, guard=guard))  # type: ignore[arg-type]
