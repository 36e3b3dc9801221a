"""Who may log in, and who a login still is: the users directory, the login callbacks, the front door.

Chainlit-facing, like app.py. The users file is re-read when it changes, so a user removed or
added while the app runs is seen on the next request.

A login token is Chainlit's signed JWT (15 days). Ours carry, in the user's metadata, `login`:
the fingerprint of the password hash (`Account.fingerprint`) and the user's login generation
(`agent.storage.logins`, bumped by every logout). `requester_of_token` checks both on every request
(HTTP and the socket's handshake, through `agent.web.security`), so a token stops working at once
when its user is removed, changes password or logs out, in every process. `login_valid` is the same
check for a chat tab that is already open.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from typing import Any

import chainlit as cl
import chainlit.auth.cookie
import chainlit.data
import chainlit.server
from chainlit.auth.jwt import decode_jwt
from chainlit.config import config
from fastapi import Request, Response
from starlette.datastructures import Headers

from agent.config import get_settings
from agent.storage.access import Requester, Role
from agent.storage.logins import LoginGenerations
from agent.storage.users import LOCAL_USER, UserDirectory, ensure_auth_secret
from agent.web.datalayer import AllianceDataLayer, current_http_access
from agent.web.login_limit import LoginLimiter, install_login_messages
from agent.web.security import Guard, install_security_middleware, socket_origin_allowed

log = logging.getLogger(__name__)

settings = get_settings()
users = UserDirectory(settings)
users.load()  # a broken users file or ALLIANCE_USERS stops the app here: never a silent fallback to local mode
local_mode = not users.configured()
ensure_auth_secret(settings)  # before Chainlit checks CHAINLIT_AUTH_SECRET, right after loading this module
login_limiter = LoginLimiter.from_settings(settings)


def role_of(identifier: str) -> Role | None:
    return users.role_of(identifier) if users.active(identifier) else None


def requester_of(identifier: str | None) -> Requester | None:
    """The requester behind a login, or None when that login no longer names an active user."""
    return users.requester(identifier) if identifier is not None and users.active(identifier) else None


# --------------------------------------------------------------------------- what a token must still say


def _generations() -> LoginGenerations | None:
    layer = chainlit.data.get_data_layer()  # type: ignore[no-untyped-call]  # Chainlit's API is partly untyped
    return layer.logins if isinstance(layer, AllianceDataLayer) else None


async def _generation(identifier: str) -> int:
    store = _generations()
    return await store.current(identifier) if store is not None else 0


def _fingerprint(identifier: str) -> str | None:
    """What a token of this user must carry now: the password's fingerprint ("" in local mode); None: nobody."""
    if not users.configured():
        return ""  # local mode: the app is open to whoever reaches it; the generation still counts
    account = users.accounts().get(identifier)
    return account.fingerprint if account is not None else None


async def _claims(identifier: str, fingerprint: str) -> dict[str, Any]:
    return {"pw": fingerprint, "gen": await _generation(identifier)}


async def user_still_valid(user: cl.User) -> Requester | None:
    """The requester of a decoded login, or None when that login no longer stands."""
    claims = user.metadata.get("login") if isinstance(user.metadata, dict) else None
    expected = _fingerprint(user.identifier)
    if not isinstance(claims, dict) or expected is None:
        return None  # a removed user, or a token from before these checks (everyone logs in again once)
    if users.configured() and not hmac.compare_digest(str(claims.get("pw", "")), expected):
        return None  # the password was changed (or the user removed and added again)
    if claims.get("gen") != await _generation(user.identifier):
        return None  # logged out since
    return users.requester(user.identifier)


async def requester_of_token(token: str) -> Requester | None:
    """The requester of a login token, or None: unreadable, expired, or no longer standing."""
    try:
        user = decode_jwt(token)
    except Exception:  # no secret, bad signature, expired: no login at all
        return None
    return await user_still_valid(user)


async def login_valid(session: Any) -> bool:
    """Whether a chat tab's login still stands (pass `cl.context.session`). A tab without a user has no login
    to check (Chainlit already refused the socket where one is required); a tab without the token (tests'
    sessions) is judged on its user being active."""
    user = getattr(session, "user", None)
    if user is None:
        return True
    token = getattr(session, "token", None)
    if not token:
        return users.active(user.identifier)
    requester = await requester_of_token(token)
    return requester is not None and requester.identifier == user.identifier


# --------------------------------------------------------------------------- Chainlit's callbacks


async def password_login(username: str, password: str) -> cl.User | None:
    account = await asyncio.to_thread(users.authenticate, username, password)  # scrypt: off the event loop
    if account is None:
        return None
    claims = await _claims(account.name, account.fingerprint)
    return cl.User(identifier=account.name, metadata={"role": account.role, "provider": "password", "login": claims})


async def local_login(headers: Headers) -> cl.User | None:
    if users.configured():  # users were added while the app ran: local login is over at once, not at restart
        return None
    claims = await _claims(LOCAL_USER, "")
    return cl.User(identifier=LOCAL_USER, metadata={"role": "learner", "provider": "local", "login": claims})


async def logged_out(request: Request, response: Response) -> dict[str, bool]:
    """POST /logout: every token of this user ends (this browser's cookie is cleared by Chainlit)."""
    access = current_http_access()
    store = _generations()
    if access is not None and store is not None:
        await store.bump(access.requester.identifier)
    return {"success": True}


def _allowed_origins() -> list[str]:
    return settings.allowed_origins


def install() -> None:
    """Once, when the app module loads: the front door, the cookie, the login callbacks of the mode we start in."""
    app = chainlit.server.app
    guard = Guard(
        allowed_origins=_allowed_origins,
        requester_of_token=requester_of_token,
        login_limiter=lambda: login_limiter,
        login_path=f"{config.run.root_path}/login",
    )
    install_security_middleware(app, guard)
    chainlit.server.sio.eio.cors_allowed_origins = socket_origin_allowed(_allowed_origins)
    install_login_messages(app, lambda: settings.login_window_s)
    if "CHAINLIT_COOKIE_SAMESITE" not in os.environ:  # the login cookie goes with no request from another site
        chainlit.auth.cookie._cookie_samesite = "strict"
    cl.on_logout(logged_out)
    if local_mode:
        cl.header_auth_callback(local_login)  # one local user, no password: history and resume still work
    else:
        cl.password_auth_callback(password_login)
