"""Chainlit handlers only: every decision lives in the modules these call."""

from __future__ import annotations

import asyncio
import logging

import chainlit as cl
from chainlit.input_widget import InputWidget, Select

from agent.coach import hint_for
from agent.config import get_settings
from agent.conversation import Conversation
from agent.evaluator import build_evaluator
from agent.events import AllianceEvent
from agent.llm import BackendError, ChatBackend, build_backend
from agent.monitor import LEVEL_NAMES, CoachingLevel, monitor_props
from agent.persona import load_library
from agent.taxonomy import Lang
from agent.ui_text import t, ui_lang

settings = get_settings()
_backend: ChatBackend | None = None
_backend_lock = asyncio.Lock()


async def _get_backend() -> ChatBackend:
    global _backend
    async with _backend_lock:
        if _backend is None:
            _backend = await asyncio.to_thread(build_backend, settings)
        return _backend


def _lang() -> Lang:
    return ui_lang(getattr(cl.context.session, "language", None))


def _level() -> CoachingLevel:
    return CoachingLevel(cl.user_session.get("level") or CoachingLevel.learner)


async def _refresh_monitor() -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None:
        return
    unavailable: set[int] = cl.user_session.get("unavailable") or set()
    props = monitor_props(
        conversation.session.observer_transcript(), conversation.session.events, _level(), _lang(), unavailable
    )
    await cl.ElementSidebar.set_title(props["ui"]["title"])
    await cl.ElementSidebar.set_elements(
        [cl.CustomElement(name="AllianceMonitor", props=props, display="side")], key=f"monitor-{len(props['turns'])}"
    )


@cl.on_app_startup
def app_startup() -> None:
    """Load the embedded model once, before any learner connects.

    Loading a GGUF holds the GIL for seconds; doing it here keeps it out of a live session.
    """
    global _backend
    if not settings.endpoint_configured() and not settings.alliance_llm:
        try:
            _backend = build_backend(settings)
        except (BackendError, OSError):
            logging.getLogger(__name__).exception("embedded model not loaded at startup")


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    library = load_library(settings.personas_dir)  # read on every call: new files appear without a restart
    return [
        cl.ChatProfile(
            name=loaded.id,
            display_name=f"{loaded.persona.display_name} ({loaded.persona.language.upper()})",
            markdown_description=f"**{loaded.persona.title}**\n\n{loaded.persona.case_brief}",
            default=index == 0,
        )
        for index, loaded in enumerate(library.personas.values())
    ]


@cl.on_chat_start
async def start() -> None:
    lang = _lang()
    library = load_library(settings.personas_dir)
    if library.errors:
        listing = "\n".join(f"- `{e}`" for e in library.errors)
        await cl.Message(content=f"{t('broken_personas', lang)}\n{listing}", author="Alliance").send()
    profile = cl.user_session.get("chat_profile")
    loaded = library.personas.get(profile) if profile else next(iter(library.personas.values()), None)
    if loaded is None:
        await cl.Message(content=t("no_persona", lang), author="Alliance").send()
        return
    try:
        if _backend is None and not settings.endpoint_configured():
            await cl.Message(content=t("model_loading", lang), author="Alliance").send()
        backend = await _get_backend()
        evaluator = await asyncio.to_thread(build_evaluator, "detector", settings)
    except (BackendError, OSError) as exc:
        await cl.Message(content=t("backend_failed", lang, reason=str(exc)), author="Alliance").send()
        return
    conversation = Conversation(loaded.id, loaded.persona, backend, settings, evaluator)
    cl.user_session.set("conversation", conversation)
    if backend.prefill:
        conversation.start_prefill()
    cl.user_session.set("level", CoachingLevel.learner.value)
    cl.user_session.set("unavailable", set())
    widgets: list[InputWidget] = [
        Select(
            id="level",
            label=t("coaching_level", lang),
            description=t("coaching_help", lang),
            items={LEVEL_NAMES[level][lang]: level.value for level in CoachingLevel},
            initial_value=CoachingLevel.learner.value,
        )
    ]
    await cl.ChatSettings(widgets).send()
    brief = f"### {t('brief_title', lang)}: {loaded.persona.display_name}\n\n{loaded.persona.case_brief}\n\n"
    brief += f"_{t('brief_footer', lang)}_"
    if backend.offline_demo:
        brief += f"\n\n> ⚠️ {t('offline_demo', lang)}"
    await cl.Message(content=brief, author="Alliance").send()
    await _refresh_monitor()


@cl.on_settings_update
async def settings_update(values: dict[str, str]) -> None:
    cl.user_session.set("level", values.get("level", CoachingLevel.learner.value))
    await _refresh_monitor()


async def _on_events(turn_id: int, events: list[AllianceEvent] | None) -> None:
    if events is None:
        unavailable: set[int] = cl.user_session.get("unavailable") or set()
        unavailable.add(turn_id)
    await _refresh_monitor()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None:
        return
    reply = cl.Message(content="", author=conversation.persona.display_name)

    async def on_token(token: str) -> None:
        await reply.stream_token(token)

    outcome = await conversation.learner_says(message.content, on_token, _on_events)
    if outcome.patient_turn is None:
        if outcome.streamed:
            await reply.remove()
        await cl.Message(content=t("patient_failed", _lang(), reason=outcome.error or "?"), author="Alliance").send()
        return
    if _level() is CoachingLevel.coach:
        reply.actions = [cl.Action(name="hint", payload={}, label=f"💡 {t('hint', _lang())}")]
    if outcome.streamed != outcome.patient_turn.text:
        # The guard repaired or the model regenerated: show only the checked text.
        reply.content = outcome.patient_turn.text
        await (reply.update() if outcome.streamed else reply.send())
    else:
        await reply.send()


@cl.action_callback("hint")
async def on_hint(action: cl.Action) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None or _level() is not CoachingLevel.coach:
        return
    count = int(cl.user_session.get("hints") or 0)
    cl.user_session.set("hints", count + 1)
    hint = hint_for(conversation.session.events, conversation.persona.language, count)
    body = f"**{t('hint_title', _lang())}**\n\n{hint.render(_lang())}"
    await cl.Message(content=body, author="Coach").send()
