"""The end of a visit in the chat: the debrief, with the patient's thoughts, the learner's readings of the
patient beside them, the timeline's plot and the links to its exports."""

from __future__ import annotations

import chainlit as cl

from agent.debrief.build import build_debrief
from agent.debrief.figure import timeline_figure
from agent.debrief.markdown import to_markdown
from agent.domain.taxonomy import Lang
from agent.i18n.catalog import t
from agent.web.live import LiveVisit
from agent.web.messages import debrief_links
from agent.web.review import PREFIX


async def post_debrief(live: LiveVisit, lang: Lang, kept: bool) -> None:
    """Post the debrief of the visit as it stands; `kept`: the visit is in a store (its pages exist)."""
    conversation = live.conversation
    debrief = build_debrief(
        conversation.session, conversation.persona, live.visit.earlier_branch(), live.visit.readings
    )
    body = f"**{t('ui.debrief_intro', lang)}**\n\n{to_markdown(debrief, lang)}"
    if kept:
        body += "\n\n" + debrief_links(f"{PREFIX}", live.thread_id, lang)
    figure = cl.Plotly(name="timeline", figure=timeline_figure(debrief, lang), display="inline", size="large")
    await cl.Message(content=body, author="Alliance", elements=[figure]).send()
