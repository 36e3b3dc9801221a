"""The side panel of a visit: the case brief, pinned for the whole visit, and the live monitor below it."""

from __future__ import annotations

import chainlit as cl

from agent.feedback.monitor import monitor_props
from agent.i18n.catalog import t
from agent.web import tab
from agent.web.coalesce import Coalescer

ELEMENT = "AllianceMonitor"  # public/elements/AllianceMonitor.jsx


async def refresh() -> None:
    """Show the panel as the session stands now. Refreshes of one tab are coalesced (`agent.web.coalesce`): one
    drawing at a time, each reading the session when it starts, and the requests made meanwhile share the next
    one. Two evaluations finishing close together can no longer leave the older view on screen, nor draw the
    same panel twice."""
    coalescer: Coalescer | None = cl.user_session.get("monitor_refresh")
    if coalescer is None:
        coalescer = Coalescer(_draw)
        cl.user_session.set("monitor_refresh", coalescer)
    await coalescer.request()


async def _draw() -> None:
    live = tab.live()
    if live is None:
        return
    session, persona, lang = live.conversation.session, live.conversation.persona, tab.lang()
    props = monitor_props(session.observer_transcript(), session.events, tab.level(), lang, set(live.visit.unavailable))
    # The brief left the screen once the first message created the thread; here it stays in view.
    props["brief"] = {"title": f"{t('ui.brief_title', lang)}: {persona.display_name}", "text": persona.case_brief}
    await cl.ElementSidebar.set_elements(
        [cl.CustomElement(name=ELEMENT, props=props, display="side")], key=f"monitor-{len(props['turns'])}"
    )
    # After the elements: Chainlit's page titles a side element by its name ("AllianceMonitor") when it
    # arrives; our title, sent last, is the one that stays.
    await cl.ElementSidebar.set_title(props["ui"]["title"])
