"""Chainlit handlers only: every decision lives in the modules these call."""

from __future__ import annotations

import asyncio

import chainlit as cl

from agent.config import get_settings
from agent.conversation import Conversation
from agent.llm import BackendError, ChatBackend, build_backend, describe_failure
from agent.persona import load_library
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


def _lang() -> str:
    return ui_lang(getattr(cl.context.session, "language", None))


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
    lang = ui_lang(getattr(cl.context.session, "language", None))
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
    except BackendError as exc:
        await cl.Message(content=t("backend_failed", lang, reason=str(exc)), author="Alliance").send()
        return
    conversation = Conversation(loaded.id, loaded.persona, backend, settings)
    cl.user_session.set("conversation", conversation)
    brief = f"### {t('brief_title', lang)}: {loaded.persona.display_name}\n\n{loaded.persona.case_brief}\n\n"
    brief += f"_{t('brief_footer', lang)}_"
    if backend.offline_demo:
        brief += f"\n\n> ⚠️ {t('offline_demo', lang)}"
    await cl.Message(content=brief, author="Alliance").send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    conversation: Conversation | None = cl.user_session.get("conversation")
    if conversation is None:
        return
    reply = cl.Message(content="", author=conversation.persona.display_name)

    async def on_token(token: str) -> None:
        await reply.stream_token(token)

    outcome = await conversation.learner_says(message.content, on_token)
    if outcome.patient_turn is None:
        reason = outcome.error or describe_failure(RuntimeError(), conversation.lang)
        if outcome.streamed:
            await reply.remove()
        await cl.Message(content=t("patient_failed", _lang(), reason=reason), author="Alliance").send()
        return
    if outcome.streamed != outcome.patient_turn.text:
        # The guard repaired or the model regenerated: show only the checked text.
        reply.content = outcome.patient_turn.text
        await (reply.update() if outcome.streamed else reply.send())
    else:
        await reply.send()
