"""Who may log in, and who a login still is: the users directory, the login callbacks, the requester middleware.

Chainlit-facing, like app.py. The users file is re-read when it changes, so a user removed or
added while the app runs is seen on the next request.
"""

from __future__ import annotations

import asyncio

import chainlit as cl
import chainlit.server
from starlette.datastructures import Headers

from agent.config import get_settings
from agent.storage.access import Requester, Role
from agent.storage.users import LOCAL_USER, UserDirectory, ensure_auth_secret
from agent.web.datalayer import install_requester_middleware

settings = get_settings()
users = UserDirectory(settings)
users.load()  # a broken users file or ALLIANCE_USERS stops the app here: never a silent fallback to local mode
local_mode = not users.configured()
ensure_auth_secret(settings)  # before Chainlit checks CHAINLIT_AUTH_SECRET, right after loading this module


def role_of(identifier: str) -> Role | None:
    return users.role_of(identifier) if users.active(identifier) else None


def requester_of(identifier: str | None) -> Requester | None:
    """The requester behind a login, or None when that login no longer names an active user."""
    return users.requester(identifier) if identifier is not None and users.active(identifier) else None


async def password_login(username: str, password: str) -> cl.User | None:
    account = await asyncio.to_thread(users.authenticate, username, password)  # scrypt: off the event loop
    if account is None:
        return None
    return cl.User(identifier=account.name, metadata={"role": account.role, "provider": "password"})


async def local_login(headers: Headers) -> cl.User | None:
    if users.configured():  # users were added while the app ran: local login is over at once, not at restart
        return None
    return cl.User(identifier=LOCAL_USER, metadata={"role": "learner", "provider": "local"})


def install() -> None:
    """Once, when the app module loads: the middleware, then the login callback of the mode we start in."""
    install_requester_middleware(chainlit.server.app, role_of)
    if local_mode:
        cl.header_auth_callback(local_login)  # one local user, no password: history and resume still work
    else:
        cl.password_auth_callback(password_login)
