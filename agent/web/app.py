"""Chainlit handlers only: every decision lives in the modules these call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import chainlit as cl
import chainlit.server
from chainlit.chat_context import chat_context
from chainlit.data import get_data_layer
from chainlit.input_widget import InputWidget, Select
from chainlit.types import ThreadDict

from agent.config import get_settings
from agent.conversation import Conversation
from agent.debrief.build import build_debrief
from agent.debrief.figure import timeline_figure
from agent.debrief.markdown import to_markdown
from agent.domain.events import AllianceEvent
from agent.domain.session import Session
from agent.domain.taxonomy import Lang, Speaker
from agent.domain.text import clean_text
from agent.domain.visit import VisitState
from agent.evaluator.merge import build_evaluator
from agent.feedback.hints import hint_for
from agent.feedback.monitor import CoachingLevel, level_name, monitor_props
from agent.i18n.catalog import number, t, ui_lang
from agent.llm import redaction
from agent.llm.backends import BackendError, ChatBackend, build_backend
from agent.persona.loader import LoadedPersona, load_library
from agent.storage.access import AccessDenied, Requester
from agent.storage.sessions import (
    SessionStore,
    StorageError,
    StoredSession,
    database_url,
    with_learner_turn,
)
from agent.web import auth
from agent.web.datalayer import AllianceDataLayer
from agent.web.review import PREFIX, install_review_routes

redaction.install()  # no credential of OPENAI_BASE_URL in the app's logs
log = logging.getLogger(__name__)
settings = get_settings()
auth.install()
local_mode = auth.local_mode
_backend: ChatBackend | None = None
_backend_lock = asyncio.Lock()

# A message over Engine.IO's 1 MB default closed the learner's socket with nothing said. The transport now
# takes up to 16 MB, and on_message refuses anything over ALLIANCE_MAX_MESSAGE_CHARS with a clear notice.
chainlit.server.sio.eio.max_http_buffer_size = 16 * 1024 * 1024


@cl.data_layer
def data_layer() -> AllianceDataLayer:
    return AllianceDataLayer(database_url(settings), role_of=auth.role_of)


async def _get_backend() -> ChatBackend:
    global _backend
    async with _backend_lock:
        if _backend is None:
            _backend = await asyncio.to_thread(build_backend, settings)
        return _backend


def _lang() -> Lang:
    return ui_lang(getattr(cl.context.session, "language", None))


def _visit() -> VisitState:
    visit: VisitState | None = cl.user_session.get("visit")
    if visit is None:
        visit = VisitState()
        cl.user_session.set("visit", visit)
    return visit


def _level() -> CoachingLevel:
    level = _visit().level
    return CoachingLevel(level) if level in {lvl.value for lvl in CoachingLevel} else CoachingLevel.learner


def _store() -> SessionStore | None:
    layer = get_data_layer()
    return layer.sessions if isinstance(layer, AllianceDataLayer) else None


install_review_routes(chainlit.server.app, _store, settings)


def _requester() -> Requester | None:
    user = cl.context.session.user
    return auth.requester_of(user.identifier if user is not None else None)


async def _save(session: Session | None = None) -> None:
    """Keep the whole session, hidden states included, in our own table: never in Chainlit's thread or steps."""
    conversation: Conversation | None = cl.user_session.get("conversation")
    store, user = _store(), cl.context.session.user
    if session is None and conversation is not None:
        session = conversation.session
    if session is None or not session.turns or store is None or user is None:
        return
    try:
        await store.save(cl.context.session.thread_id, user.identifier, session, _visit())
    except Exception:  # the visit goes on; the learner is told once that it is not being kept
        log.exception("session of thread %s not saved", cl.context.session.thread_id)
        if not cl.user_session.get("save_warned"):
            cl.user_session.set("save_warned", True)
            await cl.Message(content=t("ui.not_saved", _lang()), author="Alliance").send()


async def _refresh_monitor() -> None:
    """Show the monitor as the session stands now. Refreshes of one tab run one at a time, each reading the
    session when its turn comes: two evaluations finishing close together can no longer leave the older
    view on screen (the props of the first were read before, and sent after, those of the second)."""
    lock: asyncio.Lock | None = cl.user_session.get("monitor_lock")
    if lock is None:
        lock = asyncio.Lock()
        cl.user_session.set("monitor_lock", lock)
    async with lock:
        conversation: Conversation | None = cl.user_session.get("conversation")
        if conversation is None:
            return
        props = monitor_props(
            conversation.session.observer_transcript(),
            conversation.session.events,
            _level(),
            _lang(),
            set(_visit().unavailable),
        )
        await cl.ElementSidebar.set_title(props["ui"]["title"])
        await cl.ElementSidebar.set_elements(
            [cl.CustomElement(name="AllianceMonitor", props=props, display="side")],
            key=f"monitor-{len(props['turns'])}",
        )


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


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    library = load_library(settings.personas_dir)  # read on every call: new files appear without a restart
    personas = list(library.personas.values())
    # The default patient speaks the browser's language when one does (a French browser opens a French patient).
    wanted = ui_lang(language)
    default = next((i for i, loaded in enumerate(personas) if loaded.persona.language == wanted), 0)
    return [
        cl.ChatProfile(
            name=loaded.id,
            display_name=f"{loaded.persona.display_name} ({loaded.persona.language.upper()})",
            markdown_description=f"**{loaded.persona.title}**\n\n{loaded.persona.case_brief}",
            default=index == default,
        )
        for index, loaded in enumerate(personas)
    ]


async def _open_conversation(loaded: LoadedPersona, lang: Lang, stored: StoredSession | None) -> Conversation | None:
    """The backend, the evaluator, the conversation (new, or around a kept session) and the level selector."""
    try:
        if _backend is None and not settings.endpoint_configured():
            await cl.Message(content=t("ui.model_loading", lang), author="Alliance").send()
        backend = await _get_backend()
        evaluator = await asyncio.to_thread(build_evaluator, settings.evaluator, settings)
    except (BackendError, OSError) as exc:
        await cl.Message(content=t("ui.backend_failed", lang, reason=str(exc)), author="Alliance").send()
        return None
    session = stored.session if stored is not None else None
    conversation = Conversation(loaded.id, loaded.persona, backend, settings, evaluator, session=session)
    cl.user_session.set("conversation", conversation)
    if backend.prefill:
        conversation.start_prefill()
    cl.user_session.set("visit", stored.view if stored is not None else VisitState())
    initial = _level().value
    _visit().level = initial
    widgets: list[InputWidget] = [
        Select(
            id="level",
            label=t("ui.coaching_level", lang),
            description=t("ui.coaching_help", lang),
            items={level_name(level, lang): level.value for level in CoachingLevel},
            initial_value=initial,
        )
    ]
    await cl.ChatSettings(widgets).send()
    return conversation


async def _refuse_inactive_login() -> bool:
    """A login whose user was removed (or from another mode) keeps a valid token: it gets no visit."""
    user = cl.context.session.user
    if user is None or auth.users.active(user.identifier):
        return False
    await cl.Message(content=t("ui.login_inactive", _lang()), author="Alliance").send()
    return True


@cl.on_chat_start
async def start() -> None:
    lang = _lang()
    if await _refuse_inactive_login():
        return
    library = load_library(settings.personas_dir)
    if library.errors:
        for error in library.errors:
            log.warning("persona not loaded: %s", error)  # the full path, for whoever runs the server
        faculty = (requester := _requester()) is not None and requester.role == "faculty"
        listing = "\n".join(f"- `{e if faculty else e.for_learners()}`" for e in library.errors)
        await cl.Message(content=f"{t('ui.broken_personas', lang)}\n{listing}", author="Alliance").send()
    profile = cl.user_session.get("chat_profile")
    everyone = list(library.personas.values())
    in_my_language = next((p for p in everyone if p.persona.language == lang), everyone[0] if everyone else None)
    loaded = library.personas.get(profile) if profile else in_my_language
    if loaded is None:
        await cl.Message(content=t("ui.no_persona", lang), author="Alliance").send()
        return
    conversation = await _open_conversation(loaded, lang, None)
    if conversation is None:
        return
    brief = f"### {t('ui.brief_title', lang)}: {loaded.persona.display_name}\n\n{loaded.persona.case_brief}\n\n"
    brief += f"_{t('ui.brief_footer', lang)}_"
    if conversation.patient.backend.offline_demo:
        brief += f"\n\n> ⚠️ {t('ui.offline_demo', lang)}"
    if local_mode:
        brief += f"\n\n> 🔓 {t('ui.local_mode', lang)}"
    await cl.Message(content=brief, author="Alliance").send()
    await _refresh_monitor()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    """A reloaded page or a restarted server: the conversation goes on from the kept session."""
    lang = _lang()
    if await _refuse_inactive_login():
        return
    store, requester = _store(), _requester()
    try:
        stored = await store.read(thread["id"], requester) if store and requester else None
    except AccessDenied:  # Chainlit lets only the author resume; this is the second lock
        stored = None
    except StorageError:
        log.exception("kept session of thread %s unreadable", thread["id"])
        stored = None
    if stored is None:
        await cl.Message(content=t("ui.resume_missing", lang), author="Alliance").send()
        return
    loaded = load_library(settings.personas_dir).personas.get(stored.session.persona_id)
    if loaded is None:
        await cl.Message(
            content=t("ui.resume_no_persona", lang, persona=stored.session.persona_id), author="Alliance"
        ).send()
        return
    if await _open_conversation(loaded, lang, stored) is None:
        return
    if stored.session.turns and stored.session.turns[-1].speaker is Speaker.clinician:
        await cl.Message(content=t("ui.resume_unanswered", lang), author="Alliance").send()
    await _refresh_monitor()


@cl.on_settings_update
async def settings_update(values: dict[str, str]) -> None:
    _visit().level = values.get("level", CoachingLevel.learner.value)
    await _refresh_monitor()
    await _save()


def _events_sink(session: Session) -> Callable[[int, list[AllianceEvent] | None], Awaitable[None]]:
    """The monitor's callback for one branch: late results of a branch left behind change nothing on screen."""

    async def on_events(turn_id: int, events: list[AllianceEvent] | None) -> None:
        current: Conversation | None = cl.user_session.get("conversation")
        if current is None or current.session is not session:
            return
        if events is None:
            _visit().mark_unavailable(turn_id)
        await _refresh_monitor()
        await _save()

    return on_events


def _branch(conversation: Conversation, turn_id: int) -> Conversation:
    """Try again from a learner turn: a new branch with the patient's state of then; the old one is kept."""
    branched = conversation.on_session(_visit().branch(conversation.session, turn_id))  # ValueError: nothing changed
    cl.user_session.set("conversation", branched)
    return branched


def _reply_actions(learner_message_id: str) -> list[cl.Action]:
    lang = _lang()
    actions = [
        cl.Action(name="retry_here", payload={"message": learner_message_id}, label=f"↩ {t('ui.retry_here', lang)}"),
        cl.Action(name="end_visit", payload={}, label=f"🏁 {t('ui.end_visit', lang)}"),
    ]
    if _level() is CoachingLevel.coach:
        actions.insert(0, cl.Action(name="hint", payload={}, label=f"💡 {t('ui.hint', lang)}"))
    return actions


@cl.on_message
async def on_message(message: cl.Message) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None:
        return
    visit = _visit()
    edited = visit.turn_for(message.id)
    if edited is not None:  # the learner edited an earlier message: Chainlit removed what followed it
        conversation = _branch(conversation, edited)
    elif visit.ended:
        await cl.Message(content=t("ui.visit_over", _lang()), author="Alliance").send()
        return
    if len(message.content) > settings.max_message_chars:  # refused, and said so: nothing reaches the patient
        limit = number(settings.max_message_chars, _lang())
        await cl.Message(content=t("ui.message_too_long", _lang(), limit=limit), author="Alliance").send()
        return
    text = clean_text(message.content)
    if text != message.content:  # what Chainlit keeps and shows is the cleaned text too
        message.content = text
        await message.update()
    # Kept before the patient is asked: a crash or a restart mid-reply loses no word of the learner.
    await _save(with_learner_turn(conversation.session, text))
    reply = cl.Message(content="", author=conversation.persona.display_name)

    async def on_token(token: str) -> None:
        await reply.stream_token(token)

    outcome = await conversation.learner_says(text, on_token, _events_sink(conversation.session))
    _visit().record(message.id, outcome.learner_turn.id)
    await _save()
    if outcome.patient_turn is None:
        if outcome.streamed:
            await reply.remove()
        await cl.Message(content=t("ui.patient_failed", _lang(), reason=outcome.error or "?"), author="Alliance").send()
        return
    reply.actions = _reply_actions(message.id)
    if outcome.streamed != outcome.patient_turn.text:
        # The guard repaired or the model regenerated: show only the checked text.
        reply.content = outcome.patient_turn.text
        await (reply.update() if outcome.streamed else reply.send())
    else:
        await reply.send()


@cl.action_callback("retry_here")
async def on_retry(action: cl.Action) -> None:
    """Branch from the learner's message under this reply, then take it and all that followed off the screen."""
    conversation: Conversation | None = cl.user_session.get("conversation")
    message_id = action.payload.get("message")
    turn = _visit().turn_for(message_id if isinstance(message_id, str) else None)  # ours, never the client's
    if conversation is None or turn is None:
        return
    try:
        _branch(conversation, turn)
    except ValueError:
        log.warning("retry refused at turn %s", turn)
        return
    removing = False
    for shown in list(chat_context.get()):
        removing = removing or shown.id == message_id
        if removing:
            await shown.remove()
    await _save()
    await _refresh_monitor()
    await cl.Message(content=t("ui.retry_done", _lang(), turn=str(turn)), author="Alliance").send()


@cl.action_callback("end_visit")
async def on_end_visit(action: cl.Action) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    lang = _lang()
    if conversation is None or not conversation.session.turns:
        await cl.Message(content=t("ui.debrief_empty", lang), author="Alliance").send()
        return
    await conversation.drain(timeout=30)  # the last turn's flags belong in the debrief
    _visit().ended = True
    await _save()
    debrief = build_debrief(conversation.session, conversation.persona, _visit().earlier_branch())
    body = f"**{t('ui.debrief_intro', lang)}**\n\n{to_markdown(debrief, lang)}"
    if _store() is not None:
        base = f"{PREFIX}/debrief/{cl.context.session.thread_id}"
        links = {"html": f"{base}?lang={lang}", "md": f"{base}?format=md&lang={lang}", "json": f"{base}?format=json"}
        body += "\n\n" + t("ui.debrief_links", lang, review=f"{PREFIX}/review?lang={lang}", **links)
    figure = cl.Plotly(name="timeline", figure=timeline_figure(debrief, lang), display="inline", size="large")
    await cl.Message(content=body, author="Alliance", elements=[figure]).send()


@cl.action_callback("hint")
async def on_hint(action: cl.Action) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None or _level() is not CoachingLevel.coach:
        return
    count = int(cl.user_session.get("hints") or 0)
    cl.user_session.set("hints", count + 1)
    hint = hint_for(conversation.session.events, conversation.persona.language, count)
    body = f"**{t('ui.hint_title', _lang())}**\n\n{hint.render(_lang())}"
    await cl.Message(content=body, author="Coach").send()
