"""The side panel of a visit: the case brief, pinned for the whole visit, and the live monitor below it."""

from __future__ import annotations

import asyncio

import chainlit as cl

from agent.feedback.monitor import monitor_props
from agent.i18n.catalog import t
from agent.web import tab

ELEMENT = "AllianceMonitor"  # public/elements/AllianceMonitor.jsx


async def refresh() -> None:
    """Show the panel as the session stands now. Refreshes of one tab run one at a time, each reading the
    session when its turn comes: two evaluations finishing close together can no longer leave the older
    view on screen (the props of the first were read before, and sent after, those of the second)."""
    lock: asyncio.Lock | None = cl.user_session.get("monitor_lock")
    if lock is None:
        lock = asyncio.Lock()
        cl.user_session.set("monitor_lock", lock)
    async with lock:
        live = tab.live()
        if live is None:
            return
        session, persona, lang = live.conversation.session, live.conversation.persona, tab.lang()
        props = monitor_props(
            session.observer_transcript(), session.events, tab.level(), lang, set(live.visit.unavailable)
        )
        # The brief left the screen once the first message created the thread; here it stays in view.
        props["brief"] = {"title": f"{t('ui.brief_title', lang)}: {persona.display_name}", "text": persona.case_brief}
        await cl.ElementSidebar.set_elements(
            [cl.CustomElement(name=ELEMENT, props=props, display="side")], key=f"monitor-{len(props['turns'])}"
        )
        # After the elements: Chainlit's page titles a side element by its name ("AllianceMonitor") when it
        # arrives; our title, sent last, is the one that stays.
        await cl.ElementSidebar.set_title(props["ui"]["title"])
