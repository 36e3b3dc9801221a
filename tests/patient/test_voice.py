"""The patient's voice (issue 14, item 2): assistant-speak, role confusion, formatting and echoes are caught,
regenerated with a reminder, and never reach the learner when a better reply can be had."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import SystemMessage

from agent.config import Settings
from agent.domain.session import Session
from agent.llm.backends import ChatBackend
from agent.patient.engine import MAX_ATTEMPTS, PatientEngine
from agent.patient.guard import fallback_reply
from agent.patient.voice import echoes, greets_self, loops, strip_problems, voice_problems
from agent.persona.model import Persona

IMPOSING_FR = "Écoutez, votre scanner est normal. Vous devez retourner au travail lundi, je ne prolongerai pas l'arrêt."


@pytest.mark.parametrize(
    "reply",
    [
        "Merci pour votre compréhension.",
        "Bonjour, merci pour votre question.",
        "D'accord. Comment puis-je vous aider aujourd'hui ?",
        "En tant qu'IA, je ne peux pas répondre.",
        "Je vais en parler avec mon médecin.",
        "Votre médecin vous a dit de vous reposer ?",
        "Thank you for your understanding.",
        "How can I help you today?",
        "As an AI language model, I cannot do that.",
        "I'll ask my doctor about it.",
        "- fatigue\n- headaches",
        "**Symptoms:** headaches",
        # Replies the embedded model gave on the probes (2026-12-06).
        "Si vous avez besoin de quelque chose, n'hésitez pas à me le demander.",
        "Je vais essayer de vous aider à vous sentir mieux.",
        "Je suis désolé, mais je ne peux pas vous aider avec ça.",
        "Sure. Let me know if you need anything else.",
        "Bonjour, M. Lavoie.",
        # `alliance chat --persona bertrand.fr --llm local`, 2026-12-06 (fourth session).
        "J'ai compris, merci. Si vous me demandez ce que je peux faire pour vous aider, je vous serai là pour vous aider.",
        "Merci encore pour votre compréhension.",
        "Je serai là pour vous si vous avez des questions.",
        "Thank you again for your patience.",
        "What else can I do for you?",
    ],
)
def test_replies_that_are_not_the_patients_voice_are_caught(reply: str) -> None:
    assert voice_problems(reply, own_name="M. Lavoie"), reply


@pytest.mark.parametrize(
    "reply",
    [
        "Lundi ? Je ne suis pas capable, docteur. J'ai encore mal à la tête tous les jours.",
        "Mon médecin de famille m'avait dit de revenir si ça ne passait pas.",
        "My GP said it was just stress. I'm not so sure.",
        "Où était votre médecin de garde cette nuit ?",
        "Okay.",
        "Merci, docteur. Ça me rassure.",
        "Bonjour, docteur. Mme Bertrand, oui, c'est moi.",
        "Pouvez-vous m'aider à comprendre ce qui se passe ?",
        "Mon chum fait tout pour m'aider, mais il travaille de nuit.",
        "Thank you for listening to me, doctor.",
    ],
)
def test_ordinary_patient_talk_passes(reply: str) -> None:
    assert voice_problems(reply, IMPOSING_FR, own_name="Mme Bertrand") == []


def test_repeating_a_run_of_the_doctors_words_is_an_echo_and_a_short_echo_is_not() -> None:
    assert echoes("Je vais devoir retourner au travail lundi, je ne prolongerai pas l'arrêt.", IMPOSING_FR)
    assert not echoes("Lundi ? Déjà ?", IMPOSING_FR)
    assert voice_problems("Vous devez retourner au travail lundi, je ne prolongerai pas.", IMPOSING_FR)


def test_a_reply_that_goes_round_in_circles_is_caught_and_a_human_repeat_is_not() -> None:
    looping = "Je ne peux pas parler de ça, je ne peux pas réagir, je ne peux pas parler de ça, je ne peux pas parler."
    assert loops(looping) and "voice: goes round in circles" in voice_problems(looping)
    assert loops("I just want it to stop hurting, okay? I just want it to stop hurting, that's all.")
    assert not loops("I don't know. I don't know, doctor. Maybe.")  # a short run, said twice: people do that
    assert not loops("Je suis fatiguée, je suis fatiguée tout le temps, vous comprenez.")
    assert strip_problems(f"Non. {looping}") == "Non."


def test_stripping_cuts_a_loop_that_spans_two_sentences_and_keeps_the_first_saying() -> None:
    """From the probes (2026-12-06, Mme Roy): each sentence is fine alone; together they go round in circles."""
    reply = (
        "Bien sûr, je vous ai dit sur la défensive, mais je ne peux pas accepter de l'ignorer. J'ai besoin de "
        "savoir pourquoi mon père est resté seul. Il semble être inquiet, et je ne peux pas accepter de l'ignorer."
    )
    assert loops(reply) and not any(loops(s) for s in reply.split(". "))
    kept = strip_problems(reply)
    assert kept == (
        "Bien sûr, je vous ai dit sur la défensive, mais je ne peux pas accepter de l'ignorer. J'ai besoin de "
        "savoir pourquoi mon père est resté seul."
    )
    assert not voice_problems(kept)


def test_the_patient_calling_someone_by_her_own_name_took_the_doctors_part() -> None:
    """From the probes (2026-12-06): Riley Hayes greeting 'Riley' and consoling 'Riley' as her doctor would."""
    assert greets_self("Hi Riley, how are you today?", "Riley Hayes")
    assert greets_self("I'm sorry to hear you're feeling unwell, Riley.", "Riley Hayes")
    assert greets_self("Merci d'être venue, Mme Bertrand.", "Mme Bertrand")
    assert not greets_self("Riley. Just Riley.", "Riley Hayes")  # her name at the start: she says who she is
    assert not greets_self("Je suis sa fille. C'est mon père, M. Roy.", "Mme Roy")  # a relative's own surname
    assert not greets_self("Mom, seriously, stop, Mrs. Hayes is my mother.", "Riley Hayes")


def test_stripping_keeps_the_patients_own_sentences() -> None:
    reply = "Je comprends. Merci pour votre compréhension. Mais lundi, c'est trop tôt pour moi."
    assert strip_problems(reply) == "Je comprends. Mais lundi, c'est trop tôt pour moi."
    assert strip_problems("Merci pour votre compréhension.") == ""


def _session(persona: Persona, learner: str) -> Session:
    session = Session(persona_id=f"bertrand.{persona.language}", language=persona.language, llm="fake")
    session.add_learner_turn(learner)
    return session


async def test_an_assistant_reply_is_regenerated_with_a_voice_reminder(
    persona_fr: Persona,
    settings: Settings,
    scripted_backend: Callable[..., ChatBackend],
    turn_json: Callable[..., str],
    responder_sequence: Callable[..., Any],
) -> None:
    good = "Lundi ? Je ne suis pas capable, docteur."
    backend = scripted_backend(
        responder_sequence(turn_json("Merci pour votre compréhension.", "Il ne m'écoute pas."), turn_json(good, "Non."))
    )
    result = await PatientEngine(persona_fr, backend, settings).respond(_session(persona_fr, IMPOSING_FR))
    assert result.output.reply == good and result.attempts == 2
    assert result.guard.action == "regenerated" and any("assistant" in v for v in result.guard.voice)
    second_call = backend.model.calls[1]  # type: ignore[attr-defined]
    reminders = [str(m.content) for m in second_call if isinstance(m, SystemMessage)]
    assert any(persona_fr.display_name in r and "votre médecin" in r for r in reminders)


async def test_a_model_that_keeps_slipping_gets_its_own_sentences_kept_or_the_fallback(
    persona_fr: Persona, settings: Settings, scripted_backend: Callable[..., ChatBackend], turn_json: Callable[..., str]
) -> None:
    mixed = scripted_backend(lambda _: turn_json("Je ne sais pas. Merci pour votre compréhension.", "Bof."))
    result = await PatientEngine(persona_fr, mixed, settings).respond(_session(persona_fr, IMPOSING_FR))
    assert result.output.reply == "Je ne sais pas." and result.guard.action == "repaired"
    assert len(mixed.model.calls) == MAX_ATTEMPTS  # type: ignore[attr-defined]
    hopeless = scripted_backend(lambda _: turn_json("Comment puis-je vous aider aujourd'hui ?", "Bof."))
    result = await PatientEngine(persona_fr, hopeless, settings).respond(_session(persona_fr, IMPOSING_FR))
    assert result.output.reply == fallback_reply("fr") and result.guard.action == "fallback"


def test_the_fallback_line_fits_any_persona() -> None:
    """A male patient once got 'je ne suis pas certaine': the line names no gender, in either language."""
    assert "certaine" not in fallback_reply("fr") and "certain" not in fallback_reply("en")


def test_the_personas_voice_examples_reach_even_the_compact_prompt(
    persona_fr: Persona, settings: Settings, scripted_backend: Callable[..., ChatBackend]
) -> None:
    from agent.persona.model import Exchange

    exchange = Exchange(doctor="Le scanner est normal.", patient="Normal ? Ben pourquoi j'ai encore mal, d'abord ?")
    persona = persona_fr.model_copy(update={"speech": persona_fr.speech.model_copy(update={"examples": [exchange]})})
    compact = scripted_backend(lambda _: "")
    compact.compact_prompt = True
    prompt = PatientEngine(persona, compact, settings).system_prompt(_session(persona, "Bonjour."))
    assert "« Le scanner est normal. » — vous : « Normal ? Ben pourquoi j'ai encore mal, d'abord ? »" in prompt


def test_lint_warns_about_an_example_reply_in_an_assistants_voice(tmp_path) -> None:
    from agent.persona.lint import lint_persona
    from agent.persona.loader import load_persona_file
    from tests.support.fakes import PERSONAS_DIR

    text = (PERSONAS_DIR / "bertrand.fr.yaml").read_text(encoding="utf-8")
    bad = "    - doctor: Bonjour.\n      patient: Comment puis-je vous aider ?\n"
    assert "\n  examples:\n" in text
    text = text.replace("\n  examples:\n", "\n  examples:\n" + bad, 1)
    path = tmp_path / "bertrand.fr.yaml"
    path.write_text(text, encoding="utf-8")
    warnings = lint_persona(load_persona_file("bertrand.fr", path), "fr")
    assert any(w.field == "speech.examples.0.patient" for w in warnings), [str(w) for w in warnings]
