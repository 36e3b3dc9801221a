"""One browser tab's state, read from Chainlit's user session: its visit, language, level and opening."""

from __future__ import annotations

import asyncio
import contextlib

import chainlit as cl

from agent.domain.taxonomy import Lang
from agent.domain.visit import VisitState
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import number, t, ui_lang
from agent.web.live import LiveVisit

_OPENING = "_alliance_opening"
_WAITING = "_alliance_message_waiting"


def lang() -> Lang:
    return ui_lang(getattr(cl.context.session, "language", None))


def live() -> LiveVisit | None:
    """This tab's visit, shared with every other tab on the same thread in this process."""
    visit: LiveVisit | None = cl.user_session.get("live")
    return visit


def visit() -> VisitState:
    current = live()
    return current.visit if current is not None else VisitState()


def level() -> CoachingLevel:
    value = visit().level
    return CoachingLevel(value) if value in {lvl.value for lvl in CoachingLevel} else CoachingLevel.learner


def opening() -> asyncio.Event:
    """Set once the chat start (or resume) has run: a message sent before waits for it.

    Kept on the socket session itself, not in the user session: Chainlit's resume replaces the user session's
    contents with the thread's metadata, and a message that arrived before the resume (a page taken over by
    another process sends at once) then waited on an event nobody set."""
    session = cl.context.session
    event: asyncio.Event | None = getattr(session, _OPENING, None)
    if event is None:
        event = asyncio.Event()
        setattr(session, _OPENING, event)
    return event


def mark_message_waiting(waiting: bool = True) -> None:
    """A learner message is waiting for this tab's chat to open (or resume); False once it no longer waits."""
    setattr(cl.context.session, _WAITING, waiting)


def message_waiting() -> bool:
    return bool(getattr(cl.context.session, _WAITING, False))


def opening_messages() -> list[cl.Message]:
    """What the chat start showed: shown again if the page's first socket dropped before it arrived."""
    shown: list[cl.Message] | None = cl.user_session.get("opening_messages")
    if shown is None:
        shown = []
        cl.user_session.set("opening_messages", shown)
    return shown


async def say(key: str, **values: str) -> cl.Message:
    """A notice from the app (not the patient), in the tab's language."""
    message = cl.Message(content=t(key, lang(), **values), author="Alliance")
    await message.send()
    return message


async def slow_notice(first_word: asyncio.Event, seconds: float) -> None:
    """A hung or slow endpoint: the learner hears of it after `seconds` (ALLIANCE_SLOW_NOTICE_S), not at the
    last retry."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(first_word.wait(), timeout=seconds)
        return
    await say("ui.patient_slow", seconds=number(round(seconds), lang()))
