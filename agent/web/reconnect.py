"""The page that dropped its first socket: show it what the chat start sent there.

A page often opens a socket, drops it and opens another with the same session (a chat profile
chosen, a slow start on a busy server). Chainlit then sees a restored session whose chat has
started and does nothing: whatever on_chat_start sent went to the dropped socket, and the learner
faced a blank chat with the send button disabled. We wrap Chainlit's `connection_successful`
handler: after it has run, a restored session whose chat had already started (and whose learner
has not spoken yet) gets `on_restored` called in its context, which sends the opening again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from chainlit.context import init_ws_context
from chainlit.server import sio
from chainlit.session import WebsocketSession

log = logging.getLogger(__name__)

_MARK = "_alliance_reconnect"
_tasks: set[asyncio.Task[None]] = set()


def needs_opening_again(session: WebsocketSession | None) -> bool:
    """A socket that replaces one which was sent the chat's opening, before the learner said anything."""
    return bool(session and session.restored and session.chat_started and not session.has_first_interaction)


def install(on_restored: Callable[[], Awaitable[None]]) -> None:
    """Once, when the app module loads (a second call changes nothing)."""
    handlers: dict[str, Any] = sio.handlers.setdefault("/", {})
    original = handlers.get("connection_successful")
    if original is None or getattr(original, _MARK, False):
        return

    async def connection_successful(sid: str) -> None:
        again = needs_opening_again(WebsocketSession.get(sid))
        await original(sid)
        session = WebsocketSession.get(sid)
        if again and session is not None:
            init_ws_context(session)  # the task below copies this context
            task = asyncio.create_task(_run(on_restored))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    setattr(connection_successful, _MARK, True)
    sio.on("connection_successful")(connection_successful)


async def _run(on_restored: Callable[[], Awaitable[None]]) -> None:
    try:
        await on_restored()
    except Exception:  # the learner can still reload; the log says why the opening was not shown again
        log.exception("the chat's opening could not be sent again to a new socket")
