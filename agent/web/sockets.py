"""A page's live socket: when two sockets of one page race, the page's session follows the one still open.

A page (Chainlit's `sessionId`) keeps one session per process, bound to one socket. When the page opens a second
socket before the first is done (a reconnect that timed out on a busy process and was tried again, a balancer
that redispatched), Chainlit binds the session to whichever socket's `connect` handler finishes last, and that
may be the socket the page has already given up. Everything the page then sends on its live socket is dropped by
Chainlit ("Session not found"), and everything the app sends goes to the dead one: a learner's turn lost, a
reply never shown.

We wrap Chainlit's socket handlers:

- `connect`: remember which page and user each socket belongs to. A socket that closed while its `connect` was
  still running (python-socketio never reports its disconnect) and took the page's session is given back to the
  page's live socket, if there is one.
- `disconnect`: a socket that holds its page's session while a newer socket of the same page is open hands the
  session to that socket (the page is still there; Chainlit would otherwise start clearing it).
- `edit_message` is marked as an edit (`editing`): a message id already kept that arrives otherwise is the same
  message delivered twice (a page taken over elsewhere while this process waited), not an edit.
- every other event: a socket that speaks is open. If it has no session of its own but its page has one (for
  the same user), the session is bound to it before Chainlit handles the event, so nothing it sends is lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from chainlit.server import sio
from chainlit.session import WebsocketSession

log = logging.getLogger(__name__)

_MARK = "_alliance_sockets"
_NAMESPACE = "/"


@dataclass(frozen=True)
class Socket:
    page_id: str
    user: str | None  # the login's identifier, as Chainlit's own restore compares it
    environ: dict[str, Any]


_sockets: dict[str, Socket] = {}  # socket id → its page, while the socket is open (or its connect is running)


def is_open(sid: str) -> bool:
    """The socket's connection is open (its engine.io socket exists, and is neither closed nor closing). True too
    while its `connect` handler runs."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, _NAMESPACE)
    socket = sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
    return socket is not None and not socket.closed and not socket.closing


def is_connected(sid: str) -> bool:
    """Open and connected: neither connecting (its `connect` handler still running) nor disconnecting."""
    return is_open(sid) and bool(sio.manager.is_connected(sid, _NAMESPACE))


def _user_of(session: WebsocketSession) -> str | None:
    return session.user.identifier if session.user is not None else None


def bind(session: WebsocketSession, sid: str) -> None:
    """Bind the page's session to this socket, as Chainlit's own restore does for a new socket."""
    known = _sockets.get(sid)
    session.restore(new_socket_id=sid)

    def emit(event: str, data: Any) -> Any:
        return sio.emit(event, data, to=sid)

    def emit_call(event: str, data: Any, timeout: Any) -> Any:
        return sio.call(event, data, timeout=timeout, to=sid)

    session.emit = emit
    session.emit_call = emit_call
    if known is not None:
        session.environ = known.environ


def adopt(sid: str) -> WebsocketSession | None:
    """The session of this open socket: its own, or its page's (bound to it now). None if neither exists, or
    the page's session belongs to another user."""
    session = cast(WebsocketSession | None, WebsocketSession.get(sid))
    if session is not None:
        return session
    known = _sockets.get(sid)
    page = cast(WebsocketSession | None, WebsocketSession.get_by_id(known.page_id) if known is not None else None)
    if known is None or page is None or _user_of(page) != known.user:
        return None
    log.info("page %s spoke on socket %s: its session follows it (was on %s)", known.page_id, sid, page.socket_id)
    bind(page, sid)
    return page


def newest_sibling(sid: str) -> str | None:
    """Another open socket of the same page (the newest), for the same user."""
    known = _sockets.get(sid)
    if known is None:
        return None
    siblings = [
        other
        for other, socket in _sockets.items()
        if other != sid and socket.page_id == known.page_id and socket.user == known.user and is_connected(other)
    ]
    return siblings[-1] if siblings else None  # dicts keep insertion order: the last connected


def hand_over(sid: str) -> bool:
    """The session bound to this (closing or closed) socket moves to an open sibling. True if it moved."""
    session = WebsocketSession.get(sid)
    sibling = newest_sibling(sid)
    if session is None or sibling is None:
        return False
    log.info("socket %s of page %s is gone: its session follows %s", sid, session.id, sibling)
    bind(session, sibling)
    return True


Handler = Callable[..., Awaitable[Any]]


def _wrap_connect(original: Handler) -> Handler:
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> Any:
        page_id = auth.get("sessionId") if isinstance(auth, dict) else None
        accepted = await original(sid, environ, auth)  # refusals propagate; nothing is remembered
        session = WebsocketSession.get(sid)
        if accepted is False or session is None or not page_id:
            return accepted
        _sockets[sid] = Socket(str(page_id), _user_of(session), environ)
        if not is_open(sid):  # closed while connecting: no disconnect will come for it
            hand_over(sid)
            _sockets.pop(sid, None)
        return accepted

    return connect


def _wrap_disconnect(original: Handler) -> Handler:
    async def disconnect(sid: str, reason: Any = None) -> Any:  # Chainlit's handler takes the socket id only
        try:
            if hand_over(sid):
                return None  # the page is still open elsewhere: nothing of Chainlit's clearing applies
            return await original(sid)
        finally:
            _sockets.pop(sid, None)

    return disconnect


_editing: ContextVar[bool] = ContextVar("alliance_editing", default=False)


def editing() -> bool:
    """The learner's message being handled was edited (Chainlit's `edit_message`), not sent."""
    return _editing.get()


@contextlib.contextmanager
def as_edit() -> Iterator[None]:
    token = _editing.set(True)
    try:
        yield
    finally:
        _editing.reset(token)


def _wrap_event(original: Handler, name: str) -> Handler:
    async def event(sid: str, *args: Any) -> Any:
        adopt(sid)
        if name != "edit_message":
            return await original(sid, *args)
        with as_edit():  # Chainlit's handler calls on_message in this very task
            return await original(sid, *args)

    return event


def install() -> None:
    """Once, after every other wrapper of Chainlit's handlers, so that this one runs first (a second call
    changes nothing)."""
    handlers: dict[str, Any] = sio.handlers.setdefault(_NAMESPACE, {})
    if any(getattr(handler, _MARK, False) for handler in handlers.values()):
        return
    for name, original in list(handlers.items()):
        if name == "connect":
            wrapper = _wrap_connect(original)
        elif name == "disconnect":
            wrapper = _wrap_disconnect(original)
        else:
            wrapper = _wrap_event(original, name)
        setattr(wrapper, _MARK, True)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        sio.on(name)(wrapper)
