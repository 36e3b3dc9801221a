"""Keeping a tab's visit: the session store, the page records, and the save after each step of a visit."""

from __future__ import annotations

import logging

import chainlit as cl
from chainlit.data import get_data_layer

from agent.storage.sessions import SessionStore
from agent.storage.tabs import TabThreads
from agent.web import tab
from agent.web.datalayer import AllianceDataLayer
from agent.web.live import LiveVisit

log = logging.getLogger(__name__)


def store() -> SessionStore | None:
    layer = get_data_layer()
    return layer.sessions if isinstance(layer, AllianceDataLayer) else None


def tabs() -> TabThreads | None:
    layer = get_data_layer()
    return layer.tabs if isinstance(layer, AllianceDataLayer) else None


async def save(learner_text: str | None = None, message_id: str | None = None) -> None:
    """Keep the whole session, hidden states included, in our own table: never in Chainlit's thread or steps.

    With `learner_text`: the session with the learner's next turn (the chat message `message_id`), kept before
    the patient is asked. A failed save does not stop the visit; the learner is told once that it is not kept.
    """
    live, sessions = tab.live(), store()
    if live is None or sessions is None:
        return
    try:
        if await live.save(sessions, learner_text, message_id):
            await tab.say("ui.other_tab")
        await remember_page()
    except Exception:
        log.exception("session of thread %s not saved", live.thread_id)
        if not cl.user_session.get("save_warned"):
            cl.user_session.set("save_warned", True)
            await tab.say("ui.not_saved")


async def remember_page() -> None:
    """Once per page: which thread it shows, so that any process can take it over if this one goes
    (agent/web/failover.py). At the chat start, and again at the first save (a resumed page)."""
    live, pages = tab.live(), tabs()
    if live is None or pages is None or cl.user_session.get("page_kept"):
        return
    try:
        await pages.remember(cl.context.session.id, live.thread_id, live.owner.identifier)
    except Exception:  # only a failover is lost: the visit goes on, and the next save tries again
        log.exception("page of thread %s not recorded", live.thread_id)
        return
    cl.user_session.set("page_kept", True)


async def sync(live: LiveVisit) -> bool:
    """Catch up with a save made by another process before a turn; True if there was one. A database that does
    not answer is logged and the turn goes on: its save reconciles later, or tells the learner it failed."""
    sessions = store()
    if sessions is None:
        return False
    try:
        return await live.sync(sessions)
    except Exception:
        log.exception("thread %s: could not read the kept session before the turn", live.thread_id)
        return False
