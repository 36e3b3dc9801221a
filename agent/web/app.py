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

from agent.config import get_settings
from agent.conversation import Conversation
from agent.domain.taxonomy import Lang
from agent.domain.text import clean_text
from agent.domain.visit import VisitState
from agent.evaluator.merge import build_evaluator
from agent.feedback.monitor import CoachingLevel
from agent.i18n.catalog import number, t, ui_lang
from agent.llm import redaction
from agent.llm.backends import BackendError, ChatBackend, build_backend
from agent.patient.warmup import warm_personas
from agent.persona.loader import LoadedPersona, load_library
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import StorageError, StoredSession, database_url
from agent.storage.users import LOCAL_USER
from agent.web import auth, failover, keeping, panel, reading, reconnect, replies, sockets, tab
from agent.web.closing import post_debrief
from agent.web.datalayer import AllianceDataLayer
from agent.web.live import LIVE, LiveVisit
from agent.web.messages import case_brief, hint_message, level_settings, patient_profiles
from agent.web.review import install_review_routes

redaction.install()  # no credential of OPENAI_BASE_URL in the app's logs
log = logging.getLogger(__name__)
settings = get_settings()
auth.install()
local_mode = auth.local_mode
_backend: ChatBackend | None = None
_backend_lock = asyncio.Lock()
_background: set[asyncio.Task[int]] = set()  # the start's warm-up, kept referenced until done
OPENING_WAIT_S = 180.0  # a message sent while the chat opens waits this long at most (the model may be loading)

# A message over Engine.IO's 1 MB default closed the learner's socket with nothing said. The transport now
# takes up to 16 MB, and on_message refuses anything over ALLIANCE_MAX_MESSAGE_CHARS with a clear notice.
chainlit.server.sio.eio.max_http_buffer_size = 16 * 1024 * 1024


@cl.data_layer
def data_layer() -> AllianceDataLayer:
    return AllianceDataLayer(database_url(settings), auth.role_of, settings.db_pool_size, settings.db_max_overflow)


async def _get_backend() -> ChatBackend:
    global _backend
    async with _backend_lock:
        if _backend is None:
            _backend = await asyncio.to_thread(build_backend, settings)
        return _backend


install_review_routes(chainlit.server.app, keeping.store, settings)


def _requester() -> Requester | None:
    user = cl.context.session.user
    return auth.requester_of(user.identifier if user is not None else None)


@cl.on_app_startup
async def app_startup() -> None:
    """Create the database schema and load the embedded model once, before any learner connects.

    Loading a GGUF holds the GIL for seconds; doing it here keeps it out of a live session.
    """
    global _backend
    layer = get_data_layer()
    if isinstance(layer, AllianceDataLayer):
        await layer.ensure_schema_or_stop()  # an unreachable or broken database stops the start here
    if not settings.endpoint_configured() and not settings.llm:
        try:
            _backend = build_backend(settings)
        except (BackendError, OSError):
            logging.getLogger(__name__).exception("embedded model not loaded at startup")
        else:  # every patient's prompt processed once, in the background (agent/patient/warmup.py)
            personas = list(load_library(settings.personas_dir).personas.values())
            task = asyncio.create_task(warm_personas(_backend, personas, settings))
            _background.add(task)
            task.add_done_callback(_background.discard)


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    # Read on every call: new files appear without a restart.
    return patient_profiles(list(load_library(settings.personas_dir).personas.values()), ui_lang(language))


async def _open_conversation(loaded: LoadedPersona, lang: Lang, stored: StoredSession | None) -> LiveVisit | None:
    """The backend, the evaluator, the conversation (new, or around a kept session) and the level selector."""
    try:
        if _backend is None and not settings.endpoint_configured():
            tab.opening_messages().append(await tab.say("ui.model_loading"))
        backend = await _get_backend()
        evaluator = await asyncio.to_thread(build_evaluator, settings.evaluator, settings)
    except (BackendError, OSError) as exc:
        await tab.say("ui.backend_failed", reason=str(exc))
        return None
    conversation = Conversation(
        loaded.id, loaded.persona, backend, settings, evaluator, session=stored.session if stored else None
    )
    owner = _requester() or Requester(LOCAL_USER, "learner")
    view = stored.view if stored is not None else VisitState()
    version = stored.version if stored is not None else 0
    live = LIVE.open(LiveVisit(cl.context.session.thread_id, owner, conversation, view, version))
    cl.user_session.set("live", live)
    if live.conversation is conversation:
        conversation.start_prefill()  # the reaction rules, and a local model's prompt cache
    await _send_settings()
    return live


async def _send_settings() -> None:
    tab.visit().level = tab.level().value
    await level_settings(tab.level(), tab.lang()).send()


async def _show_opening_again() -> None:
    """The page dropped its first socket and opened another: Chainlit does not start the chat again, so what
    the start sent (to the first socket) is sent again, under the same ids (the page shows each once)."""
    await tab.opening().wait()
    for message in list(tab.opening_messages()):
        await message.send()
    if tab.live() is not None:
        await _send_settings()
        await panel.refresh()


reconnect.install(_show_opening_again, panel.refresh)


async def _refuse_inactive_login() -> bool:
    """A login that no longer stands (user removed, password changed, logged out): it gets no visit."""
    if await auth.login_valid(cl.context.session):
        return False
    await tab.say("ui.login_inactive")
    return True


@cl.on_chat_start
async def start() -> None:
    try:
        if (store := keeping.store()) is not None and (requester := _requester()) is not None:
            try:
                thread = await failover.kept_without_its_thread(store, requester, cl.context.session.user)
            except Exception:  # the database: the page gets a new chat, as it would have without the failover
                log.exception("no takeover of thread %s", cl.context.session.thread_id)
                thread = None
            if thread is not None:  # a page taken over after its first kept turn (agent/web/failover.py)
                await _resume(thread)
                await cl.context.emitter.resume_thread(thread)  # the page shows what is kept, as after any resume
                return
        await _start()
    finally:
        tab.opening().set()


async def _start() -> None:
    lang = tab.lang()
    if await _refuse_inactive_login():
        return
    library = load_library(settings.personas_dir)
    if library.errors:
        for error in library.errors:
            log.warning("persona not loaded: %s", error)  # the full path, for whoever runs the server
        faculty = (requester := _requester()) is not None and requester.role == "faculty"
        listing = "\n".join(f"- `{e if faculty else e.for_learners()}`" for e in library.errors)
        notice = cl.Message(content=f"{t('ui.broken_personas', lang)}\n{listing}", author="Alliance")
        tab.opening_messages().append(notice)
        await notice.send()
    profile = cl.user_session.get("chat_profile")
    everyone = list(library.personas.values())
    in_my_language = next((p for p in everyone if p.persona.language == lang), everyone[0] if everyone else None)
    loaded = library.personas.get(profile) if profile else in_my_language
    if loaded is None:
        tab.opening_messages().append(await tab.say("ui.no_persona"))
        return
    live = await _open_conversation(loaded, lang, None)
    if live is None:
        return
    await keeping.remember_page()  # from now on, another process can take this page over
    brief = case_brief(loaded.persona, lang, live.conversation.patient.backend.offline_demo, local_mode)
    message = cl.Message(content=brief, author="Alliance")
    tab.opening_messages().append(message)
    await message.send()
    await panel.refresh()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    try:
        await _resume(thread)
    finally:
        tab.opening().set()


async def _resume(thread: ThreadDict) -> None:
    """A reloaded page, a restarted server or a second tab: the conversation goes on from the kept session
    (or from the visit already open in this process, shared with the other tab)."""
    if await _refuse_inactive_login():
        return
    store, requester = keeping.store(), _requester()
    nothing_kept = False
    try:
        stored = await store.read(thread["id"], requester) if store and requester else None
        nothing_kept = store is not None and requester is not None and stored is None
    except AccessDenied:  # Chainlit lets only the author resume; this is the second lock
        stored = None
    except StorageError:
        log.exception("kept session of thread %s unreadable", thread["id"])
        stored = None
    if (
        nothing_kept
        and not failover.patient_spoke(thread)
        and (tab.message_waiting() or failover.learner_spoke(thread))
    ):
        open_here = LIVE.get(thread["id"])  # another tab of this process may have it open already
        await _start()  # a page taken over before its first kept turn: the visit begins, its first words answered
        await _reconcile(thread, taken_over=open_here is None)
        return
    if stored is None:
        await tab.say("ui.resume_missing")
        return
    open_here = LIVE.get(thread["id"])
    persona_id = open_here.conversation.session.persona_id if open_here else stored.session.persona_id
    loaded = load_library(settings.personas_dir).personas.get(persona_id)
    if loaded is None:
        await tab.say("ui.resume_no_persona", persona=persona_id)
        return
    if open_here is not None:
        cl.user_session.set("live", open_here)
        await _send_settings()
    elif await _open_conversation(loaded, tab.lang(), stored) is None:
        return
    await _reconcile(thread, taken_over=open_here is None)
    await panel.refresh()


async def _reconcile(thread: ThreadDict, taken_over: bool) -> None:
    """What the page shows and what is kept, made one; a turn left unanswered is answered next."""
    if (live := tab.live()) is not None:
        cl.user_session.set(
            "unanswered", await failover.reconcile_page(live, thread, taken_over, settings.max_message_chars)
        )


async def _answer_unanswered() -> None:
    """After a resume: the learner's last turn was kept but never answered (its process was lost mid-reply, or
    the patient failed); the patient answers it now, as if it had just been sent."""
    with contextlib.suppress(TimeoutError):  # the chat start (or resume) sets what is left to answer
        await asyncio.wait_for(tab.opening().wait(), timeout=OPENING_WAIT_S)
    message_id = cl.user_session.get("unanswered")
    live = tab.live()
    if message_id is None or live is None:
        return
    cl.user_session.set("unanswered", None)
    async with live.turn_lock:
        if live.conversation.unanswered() is None or live.visit.ended:  # answered meanwhile, or the visit is over
            return
        await tab.say("ui.resume_unanswered")
        await cl.context.emitter.task_start()
        try:
            conversation = live.conversation
            await replies.stream(
                live,
                str(message_id),
                lambda on_token: conversation.answer_unanswered(on_token, replies.events_sink(conversation.session)),
                settings.slow_notice_s,
            )
        finally:
            await cl.context.emitter.task_end()


failover.install(keeping.tabs, _answer_unanswered)
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
            await asyncio.wait_for(tab.opening().wait(), timeout=OPENING_WAIT_S)
        tab.mark_message_waiting(False)  # a later resume of this socket session has no message of it waiting
    live = tab.live()
    if live is None:
        await tab.say("ui.visit_not_open")
    return live


@cl.on_message
async def on_message(message: cl.Message) -> None:
    if await _refuse_inactive_login():  # a socket opened before a logout elsewhere goes no further
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
