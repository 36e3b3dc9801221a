"""The page that dropped its first socket: show it what the chat start sent there.

A page often opens a socket, drops it and opens another with the same session (a chat profile
chosen, a slow start on a busy server). Chainlit then sees a restored session whose chat has
started and does nothing: whatever on_chat_start sent went to the dropped socket, and the learner
faced a blank chat with the send button disabled. We wrap Chainlit's `connection_successful`
handler: after it has run, a restored session whose chat had already started (and whose learner
has not spoken yet) gets `on_restored` called in its context, which sends the opening again.

The same holds later in a visit: a page whose socket dropped for a moment (a network blip) while the patient
answered comes back on a new socket of the same process, and Chainlit's restore sends nothing again. The
patient's reply went to the dropped socket: the learner would wait for an answer already given. A restored
session of a visit under way gets what followed the learner's last message sent again, under the same ids
(the page shows a message once, and its buttons are replaced, not doubled), then `on_back` (the panel).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import chainlit as cl
from chainlit.chat_context import chat_context
from chainlit.context import init_ws_context
from chainlit.server import sio
from chainlit.session import WebsocketSession

log = logging.getLogger(__name__)

_MARK = "_alliance_reconnect"
_tasks: set[asyncio.Task[None]] = set()


def needs_opening_again(session: WebsocketSession | None) -> bool:
    """A socket that replaces one which was sent the chat's opening, before the learner said anything."""
    return bool(session and session.restored and session.chat_started and not session.has_first_interaction)


def missed_while_away(session: WebsocketSession | None) -> bool:
    """A socket that replaces one of a visit under way: what was sent meanwhile went to the dropped socket."""
    return bool(session and session.restored and session.has_first_interaction)


async def show_missed() -> None:
    """Send again what followed the learner's last message (the patient's reply, the app's notices), under the
    same ids: the page adds a message it lacks and updates one it has. Buttons are removed, then sent."""
    messages = chat_context.get()
    asked = max((i for i, message in enumerate(messages) if message.type == "user_message"), default=-1)
    for message in messages[asked + 1 :]:
        await cl.context.emitter.send_step(message.to_dict())
        for action in getattr(message, "actions", None) or []:
            await action.remove()
            await action.send(for_id=message.id)


def install(on_restored: Callable[[], Awaitable[None]], on_back: Callable[[], Awaitable[None]]) -> None:
    """Once, when the app module loads (a second call changes nothing)."""
    handlers: dict[str, Any] = sio.handlers.setdefault("/", {})
    original = handlers.get("connection_successful")
    if original is None or getattr(original, _MARK, False):
        return

    async def back() -> None:
        await show_missed()
        await on_back()

    async def connection_successful(sid: str) -> None:
        before = WebsocketSession.get(sid)
        again, missed = needs_opening_again(before), missed_while_away(before)
        await original(sid)
        session = WebsocketSession.get(sid)
        if (again or missed) and session is not None:
            init_ws_context(session)  # the task below copies this context
            task = asyncio.create_task(_run(on_restored if again else back))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    setattr(connection_successful, _MARK, True)
    sio.on("connection_successful")(connection_successful)


async def _run(on_restored: Callable[[], Awaitable[None]]) -> None:
    try:
        await on_restored()
    except Exception:  # the learner can still reload; the log says why the opening was not shown again
        log.exception("what the page missed could not be sent again to its new socket")
