"""The patient's reply on screen: streamed in batches, kept, then shown with its actions; and the monitor's
callback that refreshes the panel when a turn's flags arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import chainlit as cl

from agent.conversation import TurnOutcome
from agent.domain.events import AllianceEvent
from agent.domain.session import Session
from agent.patient.engine import TokenSink
from agent.web import keeping, panel, reading, tab
from agent.web.live import LiveVisit
from agent.web.messages import reply_actions
from agent.web.streaming import TokenBatcher


def events_sink(session: Session) -> Callable[[int, list[AllianceEvent] | None], Awaitable[None]]:
    """The monitor's callback for one branch: late results of a branch left behind change nothing on screen."""
    live = tab.live()

    async def on_events(turn_id: int, events: list[AllianceEvent] | None) -> None:
        if live is None or live.conversation.session is not session:
            return
        if events is None:
            live.visit.mark_unavailable(turn_id)
        await panel.refresh()
        await reading.offer_when_flagged(session, live.visit, tab.level(), tab.lang())
        await keeping.save()

    return on_events


async def stream(
    live: LiveVisit,
    message_id: str,
    answer: Callable[[TokenSink], Awaitable[TurnOutcome | None]],
    slow_notice_s: float,
) -> None:
    """Stream the patient's answer to the learner's message `message_id`, keep the visit, show the reply. The
    learner hears of a slow patient after `slow_notice_s`."""
    conversation = live.conversation
    reply = cl.Message(content="", author=conversation.persona.display_name)
    batches = TokenBatcher(reply.stream_token)  # the first word at once, then one socket message per 50 ms
    notice = asyncio.create_task(tab.slow_notice(batches.first_word, slow_notice_s))
    try:
        outcome = await answer(batches.add)
        await batches.close()
    finally:
        notice.cancel()
    if outcome is None:
        return
    live.visit.record(message_id, outcome.learner_turn.id)
    await keeping.save()
    if outcome.patient_turn is None:
        if outcome.streamed:
            await reply.remove()
        await tab.say("ui.patient_failed", reason=outcome.error or "?")
        return
    turn_id = outcome.patient_turn.id
    reply.actions = reply_actions(message_id, tab.level(), tab.lang())
    reply.actions += reading.reply_offers(conversation.session, live.visit, tab.level(), tab.lang(), turn_id)
    if outcome.streamed != outcome.patient_turn.text:
        # The guard repaired or the model regenerated: show only the checked text.
        reply.content = outcome.patient_turn.text
        await (reply.update() if outcome.streamed else reply.send())
    else:
        await reply.send()
    reading.reply_sent(turn_id, reply.id)
