"""Opening a visit: the chat start, the resume (reload, restart, a page taken over from another process) and
the level selector, and what follows a resume (a kept turn left unanswered). The Chainlit handlers that call
these live in `agent/web/app.py`; this module only opens, reopens and reconciles."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import chainlit as cl
from chainlit.types import ThreadDict

from agent.config import get_settings
from agent.conversation import Conversation
from agent.domain.taxonomy import Lang
from agent.domain.visit import VisitState
from agent.evaluator.merge import build_evaluator
from agent.i18n.catalog import t
from agent.llm.backends import BackendError, ChatBackend, build_backend
from agent.patient.warmup import warm_personas
from agent.persona.loader import LoadedPersona, load_library
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import StorageError, StoredSession
from agent.storage.users import LOCAL_USER
from agent.web import auth, failover, keeping, panel, replies, tab
from agent.web.live import LIVE, LiveVisit
from agent.web.messages import case_brief, level_settings

log = logging.getLogger(__name__)
settings = get_settings()  # the app's (agent/web/app.py uses this very object)
local_mode = auth.local_mode
_backend: ChatBackend | None = None
_backend_lock = asyncio.Lock()
_background: set[asyncio.Task[int]] = set()  # the start's warm-up, kept referenced until done
OPENING_WAIT_S = 180.0  # a message sent while the chat opens waits this long at most (the model may be loading)


def load_embedded_model() -> None:
    """At the app's start, with no endpoint: load the embedded model (it holds the GIL for seconds: never in a
    live session) and process every patient's prompt once, in the background (agent/patient/warmup.py)."""
    global _backend
    if settings.endpoint_configured() or settings.llm:
        return
    try:
        _backend = build_backend(settings)
    except (BackendError, OSError):
        log.exception("embedded model not loaded at startup")
        return
    personas = list(load_library(settings.personas_dir).personas.values())
    task = asyncio.create_task(warm_personas(_backend, personas, settings))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def get_backend() -> ChatBackend:
    global _backend
    async with _backend_lock:
        if _backend is None:
            _backend = await asyncio.to_thread(build_backend, settings)
        return _backend


def current_requester() -> Requester | None:
    user = cl.context.session.user
    return auth.requester_of(user.identifier if user is not None else None)


async def open_conversation(loaded: LoadedPersona, lang: Lang, stored: StoredSession | None) -> LiveVisit | None:
    """The backend, the evaluator, the conversation (new, or around a kept session) and the level selector."""
    try:
        if _backend is None and not settings.endpoint_configured():
            tab.opening_messages().append(await tab.say("ui.model_loading"))
        backend = await get_backend()
        evaluator = await asyncio.to_thread(build_evaluator, settings.evaluator, settings)
    except (BackendError, OSError) as exc:
        await tab.say("ui.backend_failed", reason=str(exc))
        return None
    conversation = Conversation(
        loaded.id, loaded.persona, backend, settings, evaluator, session=stored.session if stored else None
    )
    owner = current_requester() or Requester(LOCAL_USER, "learner")
    view = stored.view if stored is not None else VisitState()
    version = stored.version if stored is not None else 0
    live = LIVE.open(LiveVisit(cl.context.session.thread_id, owner, conversation, view, version))
    cl.user_session.set("live", live)
    if live.conversation is conversation:
        conversation.start_prefill()  # the reaction rules, and a local model's prompt cache
    await send_settings()
    return live


async def send_settings() -> None:
    tab.visit().level = tab.level().value
    await level_settings(tab.level(), tab.lang()).send()


async def show_opening_again() -> None:
    """The page dropped its first socket and opened another: Chainlit does not start the chat again, so what
    the start sent (to the first socket) is sent again, under the same ids (the page shows each once)."""
    await tab.opening().wait()
    for message in list(tab.opening_messages()):
        await message.send()
    if tab.live() is not None:
        await send_settings()
        await panel.refresh()


async def refuse_inactive_login() -> bool:
    """A login that no longer stands (user removed, password changed, logged out): it gets no visit."""
    if await auth.login_valid(cl.context.session):
        return False
    await tab.say("ui.login_inactive")
    return True


async def start_visit() -> None:
    lang = tab.lang()
    if await refuse_inactive_login():
        return
    library = load_library(settings.personas_dir)
    if library.errors:
        for error in library.errors:
            log.warning("persona not loaded: %s", error)  # the full path, for whoever runs the server
        faculty = (requester := current_requester()) is not None and requester.role == "faculty"
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
    live = await open_conversation(loaded, lang, None)
    if live is None:
        return
    await keeping.remember_page()  # from now on, another process can take this page over
    brief = case_brief(loaded.persona, lang, live.conversation.patient.backend.offline_demo, local_mode)
    message = cl.Message(content=brief, author="Alliance")
    tab.opening_messages().append(message)
    await message.send()
    await panel.refresh()


async def resume_visit(thread: ThreadDict) -> None:
    """A reloaded page, a restarted server or a second tab: the conversation goes on from the kept session
    (or from the visit already open in this process, shared with the other tab)."""
    if await refuse_inactive_login():
        return
    store, requester = keeping.store(), current_requester()
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
        await start_visit()  # a page taken over before its first kept turn: the visit begins, its first words answered
        await reconcile(thread, taken_over=open_here is None)
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
        await send_settings()
    elif await open_conversation(loaded, tab.lang(), stored) is None:
        return
    await reconcile(thread, taken_over=open_here is None)
    await panel.refresh()


async def reconcile(thread: ThreadDict, taken_over: bool) -> None:
    """What the page shows and what is kept, made one; a turn left unanswered is answered next."""
    if (live := tab.live()) is not None:
        cl.user_session.set(
            "unanswered", await failover.reconcile_page(live, thread, taken_over, settings.max_message_chars)
        )


async def answer_unanswered() -> None:
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
