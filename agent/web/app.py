"""Chainlit handlers only: every decision lives in the modules these call."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import chainlit as cl
import chainlit.server
from chainlit.chat_context import chat_context
from chainlit.data import get_data_layer
from chainlit.types import ThreadDict

from agent.domain.text import clean_text
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import number, t, ui_lang
from agent.llm import redaction
from agent.persona.loader import load_library
from agent.storage.sessions import database_url
from agent.web import auth, failover, keeping, opening, panel, reading, reconnect, replies, sockets, tab
from agent.web.closing import post_debrief
from agent.web.datalayer import AllianceDataLayer
from agent.web.live import LiveVisit
from agent.web.messages import hint_message, patient_profiles
from agent.web.review import install_review_routes

redaction.install()  # no credential of OPENAI_BASE_URL in the app's logs
log = logging.getLogger(__name__)
settings = opening.settings  # one object: a test that changes it changes it for the opening too
auth.install()

# A message over Engine.IO's 1 MB default closed the learner's socket with nothing said. The transport now
# takes up to 16 MB, and on_message refuses anything over ALLIANCE_MAX_MESSAGE_CHARS with a clear notice.
chainlit.server.sio.eio.max_http_buffer_size = 16 * 1024 * 1024


@cl.data_layer
def data_layer() -> AllianceDataLayer:
    return AllianceDataLayer(database_url(settings), auth.role_of, settings.db_pool_size, settings.db_max_overflow)


install_review_routes(chainlit.server.app, keeping.store, settings)


@cl.on_app_startup
async def app_startup() -> None:
    """Create the database schema and load the embedded model once, before any learner connects.

    Loading a GGUF holds the GIL for seconds; doing it here keeps it out of a live session.
    """
    layer = get_data_layer()
    if isinstance(layer, AllianceDataLayer):
        await layer.ensure_schema_or_stop()  # an unreachable or broken database stops the start here
    opening.load_embedded_model()


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    # Read on every call: new files appear without a restart.
    return patient_profiles(list(load_library(settings.personas_dir).personas.values()), ui_lang(language))


reconnect.install(opening.show_opening_again, panel.refresh)


@cl.on_chat_start
async def start() -> None:
    try:
        if (store := keeping.store()) is not None and (requester := opening.current_requester()) is not None:
            try:
                thread = await failover.kept_without_its_thread(store, requester, cl.context.session.user)
            except Exception:  # the database: the page gets a new chat, as it would have without the failover
                log.exception("no takeover of thread %s", cl.context.session.thread_id)
                thread = None
            if thread is not None:  # a page taken over after its first kept turn (agent/web/failover.py)
                await opening.resume_visit(thread)
                await cl.context.emitter.resume_thread(thread)  # the page shows what is kept, as after any resume
                return
        await opening.start_visit()
    finally:
        tab.opening().set()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    try:
        await opening.resume_visit(thread)
    finally:
        tab.opening().set()


failover.install(keeping.tabs, opening.answer_unanswered)
sockets.install()  # last, so that it runs first: a page's session follows its open socket


@cl.on_settings_update
async def settings_update(values: dict[str, str]) -> None:
    tab.visit().level = values.get("level", CoachingLevel.learner.value)
    await panel.refresh()
    await keeping.save()


async def _branch(live: LiveVisit, turn_id: int) -> None:
    """Try again from a learner turn: a new branch with the patient's state of then; the old one is kept.
    After the end, this is a new attempt, and the learner is told so. ValueError: nothing changed."""
    ended = live.visit.ended
    live.conversation = live.conversation.on_session(live.visit.branch(live.conversation.session, turn_id))
    if ended:
        await tab.say("ui.new_attempt", attempt=str(live.visit.attempt), turn=str(turn_id))


async def _opened_visit() -> LiveVisit | None:
    """This tab's visit; a message sent while the chat still opens waits for it (bounded), never dropped."""
    if tab.live() is None:
        tab.mark_message_waiting()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tab.opening().wait(), timeout=opening.OPENING_WAIT_S)
        tab.mark_message_waiting(False)  # a later resume of this socket session has no message of it waiting
    live = tab.live()
    if live is None:
        await tab.say("ui.visit_not_open")
    return live


@cl.on_message
async def on_message(message: cl.Message) -> None:
    if await opening.refuse_inactive_login():  # a socket opened before a logout elsewhere goes no further
        return
    live = await _opened_visit()
    if live is None:
        return
    async with live.turn_lock:  # one turn at a time, whichever tab sent it
        await _turn(live, message)


async def _turn(live: LiveVisit, message: cl.Message) -> None:
    if await keeping.sync(live):  # another process moved this visit on
        await tab.say("ui.other_tab")
    conversation = live.conversation
    if failover.kept_already(conversation.session, live.visit, message.id, clean_text(message.content)):
        if conversation.unanswered() is not None:  # kept by the resume that took this page over: answered here
            answer = conversation.answer_unanswered
            sink = replies.events_sink(conversation.session)
            await replies.stream(live, message.id, lambda on_token: answer(on_token, sink), settings.slow_notice_s)
        return
    if (edited := live.visit.turn_for(message.id)) is not None:  # an edit (Chainlit removed what followed it), or
        if not sockets.editing():  # the message delivered again (its page taken over meanwhile): kept and answered
            return
        await _branch(live, edited)
    elif live.visit.ended:
        await tab.say("ui.visit_over")
        return
    if len(message.content) > settings.max_message_chars:  # refused, and said so: nothing reaches the patient
        await tab.say("ui.message_too_long", limit=number(settings.max_message_chars, tab.lang()))
        return
    text = clean_text(message.content)
    if text != message.content:  # what Chainlit keeps and shows is the cleaned text too
        message.content = text
        await message.update()
    # Kept before the patient is asked: a crash or a restart mid-reply loses no word of the learner.
    await keeping.save(text, message.id)
    conversation = live.conversation
    await replies.stream(
        live,
        message.id,
        lambda on_token: conversation.learner_says(text, on_token, replies.events_sink(conversation.session)),
        settings.slow_notice_s,
    )


@cl.action_callback("retry_here")
async def on_retry(action: cl.Action) -> None:
    """Branch from the learner's message under this reply, then take it and all that followed off the screen."""
    live = tab.live()
    if live is None:
        return
    async with live.turn_lock:
        message_id = action.payload.get("message")
        turn = live.visit.turn_for(message_id if isinstance(message_id, str) else None)  # ours, never the client's
        if turn is None:
            return
        try:
            await _branch(live, turn)
        except ValueError:
            log.warning("retry refused at turn %s", turn)
            return
        removing = False
        for shown in list(chat_context.get()):
            removing = removing or shown.id == message_id
            if removing:
                await shown.remove()
        await keeping.save()
    await panel.refresh()
    await tab.say("ui.retry_done", turn=str(turn))


@cl.action_callback("end_visit")
async def on_end_visit(action: cl.Action) -> None:
    """End the visit: first the form to read the patient at her last turn (unless read), else the debrief."""
    live = tab.live()
    if live is None or not live.conversation.session.turns:
        await tab.say("ui.debrief_empty")
        return
    async with live.turn_lock:
        await live.conversation.drain(timeout=30)  # the last turn's flags belong in the debrief
        live.visit.ended = True
        await keeping.save()
        turn = reading.debrief_turn(live.conversation.session, live.visit)
    if turn is not None:
        await reading.form_message(turn, "debrief", live.conversation.persona, tab.lang()).send()
    else:
        await post_debrief(live, tab.lang(), keeping.store() is not None)


@cl.action_callback(reading.READ)
async def on_reading(action: cl.Action) -> dict[str, str]:
    """The learner's reading of the patient (the form's answer): kept, then the debrief or "noted"."""
    live = tab.live()
    if live is None:
        return {"error": t("reading.invalid", tab.lang(), reason=t("reading.bad_turn", tab.lang()))}
    async with live.turn_lock:
        taken = reading.take(live.visit, live.conversation.session, action.payload, tab.lang(), tab.level())
        if taken.reading is not None:
            await keeping.save()
    if taken.reading is not None and taken.reading.moment == "debrief":
        await post_debrief(live, tab.lang(), keeping.store() is not None)
    elif taken.reading is not None:
        await tab.say("reading.noted", turn=str(taken.reading.turn_id))
    return taken.response


@cl.action_callback(reading.SKIP)
async def on_skip_reading(action: cl.Action) -> dict[str, str]:
    live = tab.live()
    if live is not None and live.visit.ended:
        await post_debrief(live, tab.lang(), keeping.store() is not None)
    return {"ok": ""}


@cl.action_callback(reading.OFFER)
async def on_offer_reading(action: cl.Action) -> None:
    """Coach level, at a flagged patient rupture: the form about that turn (its answer is "noted" only)."""
    live = tab.live()
    turn = action.payload.get("turn")
    if live is not None and reading.may_read_now(live.conversation.session, live.visit, turn, tab.level()):
        await reading.form_message(int(str(turn)), "visit", live.conversation.persona, tab.lang()).send()


@cl.action_callback("hint")
async def on_hint(action: cl.Action) -> None:
    live = tab.live()
    if live is None or tab.level() is not CoachingLevel.coach:
        return
    count = int(cl.user_session.get("hints") or 0)
    cl.user_session.set("hints", count + 1)
    await hint_message(live.conversation.session.events, live.conversation.persona.language, tab.lang(), count).send()
