"""A visit that outlives its process: the page of a process that is gone goes on in another one.

Several app processes behind a balancer share one database. When the process that served a page stops or
dies, the page's socket reconnects (through the balancer) to another process, with the same page id
(Chainlit's `sessionId`) and no thread to resume: Chainlit there would start a new chat. We wrap two of
Chainlit's socket handlers:

- `connect`: a page id this process has never seen, with no thread named, is looked up in the database
  (`agent.storage.tabs`, written at the page's first kept turn, for its own user only). If it showed a
  thread, the new socket session is set to resume that thread: Chainlit then runs its resume (the author's
  check, `on_chat_resume`, the thread's messages sent to the page) instead of a new chat.
- `connection_successful`: after Chainlit has handled it (and resumed, if it did), `after_connect` runs in
  the session's context. The app uses it to let the patient answer a learner turn that was kept but never
  answered (the old process died mid-reply): the visit goes on, no turn lost.

A reconnect to the same process (the usual case: a network blip, a sticky balancer) is Chainlit's own
restore and is left alone here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import chainlit as cl
from chainlit.context import init_ws_context
from chainlit.data import get_data_layer
from chainlit.server import sio
from chainlit.session import WebsocketSession
from chainlit.types import ThreadDict

from agent.domain.session import Session, Turn
from agent.domain.taxonomy import Speaker
from agent.domain.text import clean_text
from agent.domain.visit import VisitState
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import SessionStore
from agent.storage.tabs import PageRecord, TabThreads
from agent.web import keeping
from agent.web.live import LiveVisit

log = logging.getLogger(__name__)

_MARK = "_alliance_failover"
_tasks: set[asyncio.Task[None]] = set()


async def known_page(page_id: str, tabs: TabThreads | None) -> PageRecord | None:
    """What the database says page `page_id` showed, if this process has no session of that page (a page it has
    is Chainlit's own restore). None if unknown, or if the database cannot say (the page gets a new chat, as it
    would have without us)."""
    if not page_id or tabs is None or WebsocketSession.get_by_id(page_id) is not None:
        return None
    try:
        return await tabs.page(page_id)
    except Exception:
        log.exception("could not look up page %s", page_id)
        return None


def adopt_known_page(session: WebsocketSession | None, record: PageRecord | None) -> bool:
    """Set a new socket session of a known page to resume the thread the page showed, for the page's owner only.
    True if it was. No await: called right after Chainlit made the session, before any other handler can see it."""
    if session is None or record is None or session.restored or session.thread_id_to_resume or session.user is None:
        return False
    if session.user.identifier != record.owner:
        return False
    session.thread_id = record.thread_id
    session.thread_id_to_resume = record.thread_id
    log.info("page %s reconnected here: resuming thread %s", session.id, record.thread_id)
    return True


def unkept_message(
    steps: list[dict[str, Any]], session: Session, visit: VisitState, max_chars: int
) -> tuple[str, str] | None:
    """The learner's last chat message, if the process that received it died before keeping it as a turn: its
    step id and text. Chainlit writes the message's step and the app keeps the turn side by side; a crash between
    the two leaves a message on the page that the patient never heard of. None when the last message is kept (its
    id is kept with the visit, from the moment its turn is kept; a turn kept without one is compared by its words),
    or is one the app refuses anyway (too long, empty). The same words sent again as a new message are a new turn.

    Chainlit may not have written the steps of the last turns before its process died: the last step it kept can
    be an older, answered message, which is why its id is looked up, not only compared with the last turn."""
    sent = [step for step in steps if step.get("type") == "user_message"]
    if not sent:
        return None
    step_id, raw = str(sent[-1].get("id") or ""), str(sent[-1].get("output") or "")
    text = clean_text(raw)
    learner = [turn for turn in session.turns if turn.speaker is Speaker.clinician]
    if visit.turn_for(step_id) is not None or not text.strip() or len(raw) > max_chars:
        return None
    if learner and learner[-1].text == text and learner[-1].id not in visit.message_turns.values():
        return None  # kept without its message's id (a session kept before ids were): the same words, the same turn
    return step_id, text


def kept_already(session: Session, visit: VisitState, message_id: str, text: str) -> bool:
    """This very message is the session's last turn, kept and not yet answered: a resume kept it (`unkept_message`)
    before the message reached on_message in the same process. It is answered, not kept twice. (An answered turn
    edited to the same words is an edit: it branches, as any edit does.)"""
    turn_id = visit.turn_for(message_id)
    last = session.turns[-1] if session.turns else None
    return (
        turn_id is not None
        and last is not None
        and last.id == turn_id
        and last.speaker is Speaker.clinician
        and last.text == text
    )


def learner_spoke(thread: ThreadDict) -> bool:
    """The thread shows a message of the learner's."""
    return any(step.get("type") == "user_message" for step in thread.get("steps") or [])


def patient_spoke(thread: ThreadDict) -> bool:
    """The thread shows a reply of the patient's (the app's own notices are authored "Alliance")."""
    return any(
        step.get("type") == "assistant_message" and step.get("name") != "Alliance" for step in thread.get("steps") or []
    )


async def reconcile_page(live: LiveVisit, thread: ThreadDict, taken_over: bool, max_chars: int) -> str | None:
    """After a resume: a page taken over from another process (`taken_over`: the visit was not open here) may show
    a message the old process never kept (kept now), or lack one it kept (written now). Returns the id of the
    learner's message to answer next (`app._answer_unanswered`), or None. Under the visit's turn lock; a visit
    already open here, or ended, is left as it is."""
    steps: list[Any] = list(thread.get("steps") or [])
    sent = [str(step["id"]) for step in steps if step.get("type") == "user_message"]
    if not taken_over:  # open here (a reload, a second tab): a turn in progress ends under the lock first
        unanswered = not live.visit.ended and live.conversation.unanswered() is not None
        return (sent[-1] if sent else "") if unanswered else None
    async with live.turn_lock:
        if live.visit.ended:
            return None
        session = live.conversation.session
        unkept = unkept_message(steps, session, live.visit, max_chars)
        if unkept is not None:
            turn = session.add_learner_turn(unkept[1])
            live.visit.record(unkept[0], turn.id)  # the same message may still reach on_message here: kept once
            await keeping.save()
        if live.conversation.unanswered() is None:
            await show_kept_reply(thread, session, live.visit, live.conversation.persona.display_name)
            return None
        user = cl.context.session.user
        shown = await show_kept_turn(thread, session, user.identifier if user else "learner")
        return shown or (sent[-1] if sent else "")


async def show_kept_turn(thread: ThreadDict, session: Session, author: str) -> str | None:
    """The reverse of `unkept_message`: the learner's last turn was kept, unanswered, but the process died before
    Chainlit wrote its message, so the resumed page would not show it (and the patient would answer words the
    learner no longer sees). Write that message now and add it to the thread Chainlit is about to send to the
    page (the same dict: Chainlit sends it after `on_chat_resume`). Returns its id, or None if nothing was done."""
    last = session.turns[-1] if session.turns else None
    shown = [step.get("output") for step in _steps(thread) if step.get("type") == "user_message"]
    if last is None or last.speaker is not Speaker.clinician or (shown and shown[-1] == last.text):
        return None
    message = cl.Message(content=last.text, author=author, type="user_message")
    await _write_step(thread, message, last)
    return message.id


async def show_kept_reply(thread: ThreadDict, session: Session, visit: VisitState, patient: str) -> bool:
    """The patient's last reply was kept, but the process died before Chainlit wrote its message: the page resumed
    elsewhere would show the learner's turn with no answer (and the patient would not answer it again: it is
    answered). Write the reply's message now and add it to the thread the page is about to receive. Its words
    only, as the learner saw them streamed; never the hidden state. True if it was written."""
    last = session.turns[-1] if session.turns else None
    if last is None or last.speaker is not Speaker.patient or len(session.turns) < 2:
        return False
    steps = _steps(thread)
    if any(
        step.get("type") == "assistant_message" and clean_text(str(step.get("output") or "")) == last.text
        for step in steps[_asked_at(steps, session.turns[-2], visit) + 1 :]
    ):
        return False
    await _write_step(thread, cl.Message(content=last.text, author=patient), last)
    return True


def _steps(thread: ThreadDict) -> list[Any]:
    """The thread's own list of steps (made if it has none): what Chainlit sends to the page after the resume."""
    steps = thread.get("steps")
    if steps is None:
        steps = thread["steps"] = []
    return steps


async def _write_step(thread: ThreadDict, message: cl.Message, turn: Turn) -> None:
    """Write `message` as the step of a kept `turn` (dated as the turn) and add it to the thread the page receives."""
    step = message.to_dict()
    step["createdAt"] = step["start"] = step["end"] = turn.created_at.isoformat()
    layer = get_data_layer()  # type: ignore[no-untyped-call]
    if layer is not None:
        await layer.create_step(step)
    _steps(thread).append(step)


def _asked_at(steps: list[Any], asked: Turn, visit: VisitState) -> int:
    """Where the page shows the learner's message that a reply answers: by its id kept with the visit, else by its
    words; -1 if the page does not show it (then the reply is looked for in the whole thread)."""
    for i in reversed(range(len(steps))):
        step = steps[i]
        if step.get("type") != "user_message":
            continue
        if (
            visit.turn_for(str(step.get("id") or "")) == asked.id
            or clean_text(str(step.get("output") or "")) == asked.text
        ):
            return i
    return -1


async def kept_without_its_thread(store: SessionStore, requester: Requester, user: Any) -> ThreadDict | None:
    """At the chat start of a socket set to resume a thread: Chainlit did not resume it (the old process died after
    the visit's first turn was kept, before Chainlit wrote the thread; or the page's socket reconnected here twice
    before the first resume was done), so it starts a new chat on that thread id. If a session is kept for it, for
    this user, the thread is written now, for them, and returned: the app resumes the kept session from it. None
    for any other chat start (nothing kept, or not theirs: a new chat it is)."""
    session = cl.context.session
    layer = get_data_layer()  # type: ignore[no-untyped-call]
    user_id = getattr(user, "id", None)
    if not session.thread_id_to_resume or layer is None or user_id is None:
        return None
    try:
        kept = await store.read(session.thread_id, requester)
    except AccessDenied:
        return None
    if kept is None or kept.owner != requester.identifier:  # faculty may read a learner's session, not take it
        return None
    await layer.update_thread(session.thread_id, user_id=user_id)
    session.has_first_interaction = True  # its messages are written at once, as in any resumed visit
    thread = await layer.get_thread(session.thread_id)
    return cast(ThreadDict, thread) if thread is not None else None


def install(tabs: Callable[[], TabThreads | None], after_connect: Callable[[], Awaitable[None]]) -> None:
    """Once, when the app module loads (a second call changes nothing)."""
    handlers: dict[str, Any] = sio.handlers.setdefault("/", {})
    original_connect = handlers.get("connect")
    original_successful = handlers.get("connection_successful")
    if original_connect is None or original_successful is None or getattr(original_connect, _MARK, False):
        return

    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> Any:
        named = isinstance(auth, dict) and not auth.get("threadId")  # a page naming its thread: Chainlit's resume
        page_id = str(auth.get("sessionId") or "") if named else ""
        # Looked up before Chainlit makes the session, and adopted right after with no await between: a second
        # socket of the same page (a retried reconnect) cannot start a chat on the session before it is adopted.
        record = await known_page(page_id, tabs())
        accepted = await original_connect(sid, environ, auth)  # refusals (login, thread's author) propagate
        adopt_known_page(WebsocketSession.get(sid), record)
        return accepted

    async def connection_successful(sid: str) -> None:
        await original_successful(sid)
        session = WebsocketSession.get(sid)
        if session is not None:
            init_ws_context(session)  # the task below copies this context
            task = asyncio.create_task(_run(after_connect))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    wrapped: list[tuple[Any, Any]] = [(connect, original_connect), (connection_successful, original_successful)]
    for wrapper, original in wrapped:
        setattr(wrapper, _MARK, True)
        wrapper.__wrapped__ = original  # the handlers it wraps (reconnect.py's, Chainlit's) stay reachable
    sio.on("connect")(connect)
    sio.on("connection_successful")(connection_successful)


async def _run(after_connect: Callable[[], Awaitable[None]]) -> None:
    try:
        await after_connect()
    except Exception:  # the learner can still send the message again; the log says why it was not answered
        log.exception("the resumed visit's unanswered turn could not be answered")
