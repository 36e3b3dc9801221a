"""What the app writes into the chat beyond the patient's words: the case brief, the reply's actions, the
debrief's links. Built from the catalog, in the learner's language."""

from __future__ import annotations

import chainlit as cl
from chainlit.input_widget import InputWidget, Select

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import Lang
from agent.feedback.hints import hint_for
from agent.feedback.monitor import CoachingLevel, level_name
from agent.i18n.catalog import t
from agent.persona.loader import LoadedPersona
from agent.persona.model import Persona


def case_brief(persona: Persona, lang: Lang, offline_demo: bool, local_mode: bool) -> str:
    brief = f"### {t('ui.brief_title', lang)}: {persona.display_name}\n\n{persona.case_brief}\n\n"
    brief += f"_{t('ui.brief_footer', lang)}_"
    if offline_demo:
        brief += f"\n\n> ⚠️ {t('ui.offline_demo', lang)}"
    if local_mode:
        brief += f"\n\n> 🔓 {t('ui.local_mode', lang)}"
    return brief


def patient_profiles(personas: list[LoadedPersona], wanted: Lang) -> list[cl.ChatProfile]:
    """One chat profile per patient; the default speaks the browser's language when one does (a French browser
    opens a French patient)."""
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


def reply_actions(learner_message_id: str, level: CoachingLevel, lang: Lang) -> list[cl.Action]:
    actions = [
        cl.Action(name="retry_here", payload={"message": learner_message_id}, label=f"↩ {t('ui.retry_here', lang)}"),
        cl.Action(name="end_visit", payload={}, label=f"🏁 {t('ui.end_visit', lang)}"),
    ]
    if level is CoachingLevel.coach:
        actions.insert(0, cl.Action(name="hint", payload={}, label=f"💡 {t('ui.hint', lang)}"))
    return actions


def hint_message(events: list[AllianceEvent], persona_language: Lang, lang: Lang, count: int) -> cl.Message:
    """The coach's hint: a repair that fits the current rupture, in the patient's language."""
    hint = hint_for(events, persona_language, count)
    return cl.Message(content=f"**{t('ui.hint_title', lang)}**\n\n{hint.render(lang)}", author="Coach")


def debrief_links(prefix: str, thread_id: str, lang: Lang) -> str:
    base = f"{prefix}/debrief/{thread_id}"
    links = {"html": f"{base}?lang={lang}", "md": f"{base}?format=md&lang={lang}", "json": f"{base}?format=json"}
    return t("ui.debrief_links", lang, review=f"{prefix}/review?lang={lang}", **links)


def level_settings(level: CoachingLevel, lang: Lang) -> cl.ChatSettings:
    """The coaching level selector of the chat's settings panel."""
    items = {level_name(each, lang): each.value for each in CoachingLevel}
    description = t("ui.coaching_help", lang)
    select = Select(
        id="level", label=t("ui.coaching_level", lang), description=description, items=items, initial_value=level.value
    )
    widgets: list[InputWidget] = [select]
    return cl.ChatSettings(widgets)
