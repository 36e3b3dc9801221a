"""The simulated patient: one structured generation per turn, streamed through the leak guard."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import jinja2
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agent.config import Settings
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Emotion, Move
from agent.llm.backends import ChatBackend
from agent.llm.prompts import render, render_string, template_text
from agent.llm.structured import StructuredOutputError
from agent.patient.engine import MAX_ATTEMPTS, PatientEngine
from agent.patient.guard import fallback_reply
from agent.persona.model import Persona
from tests.support.visits import french_session

MARKER = "QZX-secret-4711"
MONOLOGUE = (
    f"{MARKER} Je ne veux surtout pas qu'il pense que je suis paresseuse, "
    "alors je vais lui demander les trois mois tout de suite avant de perdre mes moyens."
)
REPLY = "Bonjour docteur. J'ai encore mal à la tête presque tous les jours, surtout devant un écran."

Backend = Callable[..., ChatBackend]
TurnJson = Callable[..., str]


def new_session(persona: Persona, learner: str | None = "Bonjour madame, qu'est-ce qui vous amène ?") -> Session:
    session = Session(persona_id=f"bertrand.{persona.language}", language=persona.language, llm="fake")
    if learner is not None:
        session.add_learner_turn(learner)
    return session


class TokenRecorder:
    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def __call__(self, token: str) -> None:
        self.tokens.append(token)

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def hidden(monologue: str = "J'ai peur.") -> HiddenState:
    return HiddenState(
        inner_monologue=monologue,
        emotions=[Emotion.anxiety],
        alliance=AlliancePerception(goals=3, tasks=2, bond=5),
        intended_move=Move.none,
    )


def _no_eight_word_span(haystack: str, secret: str) -> bool:
    words = secret.split()
    return all(" ".join(words[i : i + 8]) not in haystack for i in range(len(words) - 7))


# --------------------------------------------------------------------------- a valid turn


async def test_valid_turn_streams_tokens_that_add_up_to_the_reply(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    backend = scripted_backend(lambda _: turn_json(REPLY, MONOLOGUE), chunk_size=5)
    engine = PatientEngine(persona_fr, backend, settings)
    tokens = TokenRecorder()
    result = await engine.respond(new_session(persona_fr), tokens)
    assert len(tokens.tokens) > 1  # streamed, not delivered in one piece
    assert tokens.text == REPLY == result.output.reply == result.streamed
    assert result.attempts == 1
    assert not result.guard.leaked and result.guard.action == "none"


async def test_hidden_state_is_kept_but_never_streamed(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    backend = scripted_backend(lambda _: turn_json(REPLY, MONOLOGUE, emotions=["shame", "anxiety"], move="withdrawal"))
    engine = PatientEngine(persona_fr, backend, settings)
    tokens = TokenRecorder()
    result = await engine.respond(new_session(persona_fr), tokens)
    assert result.output.hidden.inner_monologue == MONOLOGUE
    assert result.output.hidden.emotions == [Emotion.shame, Emotion.anxiety]
    assert result.output.hidden.intended_move is Move.withdrawal
    assert MARKER not in tokens.text
    assert all(MARKER not in t and "inner_monologue" not in t and "{" not in t for t in tokens.tokens)


async def test_respond_does_not_add_the_patient_turn_itself(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    engine = PatientEngine(persona_fr, scripted_backend(lambda _: turn_json(REPLY)), settings)
    session = new_session(persona_fr)
    await engine.respond(session)
    assert len(session.turns) == 1  # the conversation stores the turn, not the engine


# --------------------------------------------------------------------------- leaks


async def test_reply_quoting_the_hidden_monologue_is_repaired_and_never_streamed(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    leaky = f"Bonjour docteur. {MONOLOGUE} J'ai mal à la tête."
    backend = scripted_backend(lambda _: turn_json(leaky, MONOLOGUE), chunk_size=3)
    engine = PatientEngine(persona_fr, backend, settings)
    tokens = TokenRecorder()
    result = await engine.respond(new_session(persona_fr), tokens)
    assert result.guard.leaked
    assert result.guard.action in ("repaired", "regenerated", "fallback")
    assert any("verbatim span" in r for r in result.guard.reasons)
    assert MARKER not in tokens.text and MARKER not in result.output.reply
    assert _no_eight_word_span(tokens.text, MONOLOGUE)
    assert _no_eight_word_span(result.output.reply, MONOLOGUE)
    assert result.output.reply == "Bonjour docteur. J'ai mal à la tête."
    assert result.output.hidden.inner_monologue == MONOLOGUE  # kept for the debrief


async def test_unrepairable_leak_is_regenerated_with_a_reminder(
    persona_fr: Persona,
    settings: Settings,
    scripted_backend: Backend,
    turn_json: TurnJson,
    responder_sequence: Callable[..., Any],
) -> None:
    backend = scripted_backend(responder_sequence(turn_json(MONOLOGUE, MONOLOGUE), turn_json(REPLY, MONOLOGUE)))
    engine = PatientEngine(persona_fr, backend, settings)
    tokens = TokenRecorder()
    result = await engine.respond(new_session(persona_fr), tokens)
    assert result.attempts == 2
    assert result.guard.leaked and result.guard.action == "regenerated"
    assert result.output.reply == REPLY
    assert MARKER not in tokens.text
    second_call = backend.model.calls[1]  # type: ignore[attr-defined]
    assert isinstance(second_call[-1], SystemMessage) and "JSON" in str(second_call[-1].content)


async def test_a_leak_on_every_attempt_falls_back_to_a_safe_line(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    backend = scripted_backend(lambda _: turn_json("Mon monologue intérieur : " + MONOLOGUE, MONOLOGUE))
    engine = PatientEngine(persona_fr, backend, settings)
    tokens = TokenRecorder()
    result = await engine.respond(new_session(persona_fr), tokens)
    assert result.guard.action == "fallback"
    assert result.output.reply == fallback_reply("fr")
    assert result.attempts == MAX_ATTEMPTS == len(backend.model.calls)  # type: ignore[attr-defined]
    assert MARKER not in tokens.text and "monologue" not in tokens.text


async def test_quoting_the_personas_secret_pre_visit_thoughts_is_caught(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    secret = " ".join(persona_fr.inner_monologue.split()[:14])
    backend = scripted_backend(lambda _: turn_json(f"Bonjour. {secret}. Voilà.", "Je suis nerveuse."))
    tokens = TokenRecorder()
    result = await PatientEngine(persona_fr, backend, settings).respond(new_session(persona_fr), tokens)
    assert result.guard.leaked
    assert _no_eight_word_span(tokens.text, secret)
    assert _no_eight_word_span(result.output.reply, secret)


async def test_quoting_the_prompt_instructions_is_caught(
    persona_en: Persona, settings: Settings, scripted_backend: Backend, turn_json: TurnJson
) -> None:
    instructions = "Stay in this role from start to finish: you are not an assistant, you advise no one"
    assert instructions in template_text("patient.en.md")
    backend = scripted_backend(lambda _: turn_json(f"Hello. {instructions}. Anyway.", "I am nervous."))
    tokens = TokenRecorder()
    result = await PatientEngine(persona_en, backend, settings).respond(new_session(persona_en, "Hi there."), tokens)
    assert result.guard.leaked
    assert "you advise no one" not in tokens.text and "you advise no one" not in result.output.reply


async def test_reply_written_before_the_hidden_state_still_never_streams_a_leak(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    """JSON mode and function calling do not enforce key order: a model may write `reply` first."""
    leaky = f"Bonjour docteur. {MONOLOGUE} J'ai mal à la tête."
    payload = {
        "reply": leaky,
        "hidden": {
            "inner_monologue": MONOLOGUE,
            "emotions": ["anxiety"],
            "alliance": {"goals": 3, "tasks": 3, "bond": 4},
            "intended_move": "none",
            "move_subtype": None,
        },
    }
    backend = scripted_backend(lambda _: json.dumps(payload, ensure_ascii=False), chunk_size=4)
    tokens = TokenRecorder()
    result = await PatientEngine(persona_fr, backend, settings).respond(new_session(persona_fr), tokens)
    assert result.guard.leaked
    assert MARKER not in tokens.text
    assert _no_eight_word_span(tokens.text, MONOLOGUE)


# --------------------------------------------------------------------------- malformed output


async def test_malformed_json_then_valid_json_succeeds_on_retry(
    persona_fr: Persona,
    settings: Settings,
    scripted_backend: Backend,
    turn_json: TurnJson,
    responder_sequence: Callable[..., Any],
) -> None:
    backend = scripted_backend(responder_sequence('{"hidden": {"inner_monologue": "oups', turn_json(REPLY)))
    result = await PatientEngine(persona_fr, backend, settings).respond(new_session(persona_fr))
    assert result.attempts == 2
    assert result.output.reply == REPLY
    assert len(backend.model.calls) == 2  # type: ignore[attr-defined]


async def test_always_malformed_raises_and_leaves_the_session_unchanged(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    backend = scripted_backend(lambda _: "Je ne sais pas quoi répondre, désolée.")
    session = new_session(persona_fr, "Bonjour madame.")
    before = session.model_dump(mode="json")
    with pytest.raises(StructuredOutputError):
        await PatientEngine(persona_fr, backend, settings).respond(session)
    assert session.model_dump(mode="json") == before
    assert [t.text for t in session.turns] == ["Bonjour madame."]
    assert session.events == [] and session.failures == []
    assert len(backend.model.calls) == MAX_ATTEMPTS  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- history and prompt


def _long_session(persona: Persona, turns: int) -> Session:
    session = new_session(persona, learner=None)
    for i in range(turns):
        if i % 2 == 0:
            session.add_learner_turn(f"question {i}")
        else:
            session.add_patient_turn(f"réponse {i}", hidden(f"pensée {i}"))
    return session


def test_history_is_a_window_of_the_last_turns(
    persona_fr: Persona, make_settings: Callable[..., Settings], scripted_backend: Backend, turn_json: TurnJson
) -> None:
    settings = make_settings(history_turns=4)
    engine = PatientEngine(persona_fr, scripted_backend(lambda _: turn_json(REPLY)), settings)
    session = _long_session(persona_fr, 10)
    messages = engine.build_messages(session)
    assert len(messages) == 1 + 4
    assert isinstance(messages[0], SystemMessage)
    # The learner's turns are labelled as the doctor's: the model answers the doctor, it does not play one.
    labelled = ["Le médecin : question 6", "réponse 7", "Le médecin : question 8", "réponse 9"]
    assert [m.content for m in messages[1:]] == labelled
    assert [type(m) for m in messages[1:]] == [HumanMessage, AIMessage, HumanMessage, AIMessage]
    system = str(messages[0].content)
    assert "6 répliques plus anciennes" in system  # the omitted turns are named
    assert "objectifs 3/7, tâches 2/7, lien 5/7" in system  # continuity: the latest hidden state
    assert "question 0" not in system and all("question 0" not in str(m.content) for m in messages)


def test_short_history_omits_nothing(
    persona_en: Persona, make_settings: Callable[..., Settings], scripted_backend: Backend, turn_json: TurnJson
) -> None:
    engine = PatientEngine(persona_en, scripted_backend(lambda _: turn_json(REPLY)), make_settings(history_turns=4))
    session = _long_session(persona_en, 3)
    messages = engine.build_messages(session)
    assert len(messages) == 1 + 3
    assert "earlier lines" not in str(messages[0].content)
    assert str(messages[1].content).startswith("The doctor: ")


async def test_the_model_receives_the_windowed_messages(
    persona_fr: Persona, make_settings: Callable[..., Settings], scripted_backend: Backend, turn_json: TurnJson
) -> None:
    backend = scripted_backend(lambda _: turn_json(REPLY))
    engine = PatientEngine(persona_fr, backend, make_settings(history_turns=4))
    await engine.respond(_long_session(persona_fr, 10))
    sent: Sequence[BaseMessage] = backend.model.calls[0]  # type: ignore[attr-defined]
    assert [m.content for m in sent if isinstance(m, (HumanMessage, AIMessage))] == [
        "Le médecin : question 6",
        "réponse 7",
        "Le médecin : question 8",
        "réponse 9",
    ]


def test_french_persona_renders_a_french_prompt(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    prompt = PatientEngine(persona_fr, scripted_backend(lambda _: ""), settings).system_prompt(new_session(persona_fr))
    assert prompt.startswith("Vous jouez Mme Bertrand")
    assert "# Qui vous êtes" in prompt and "# Who you are" not in prompt
    assert persona_fr.identity in prompt
    assert "objectifs 3/7, tâches 3/7, lien 4/7" in prompt  # the persona's initial alliance
    assert "{{" not in prompt and "{%" not in prompt


def test_english_persona_renders_an_english_prompt(
    persona_en: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    prompt = PatientEngine(persona_en, scripted_backend(lambda _: ""), settings).system_prompt(new_session(persona_en))
    assert prompt.startswith("You are playing")
    assert "# Who you are" in prompt and "# Qui vous êtes" not in prompt
    assert persona_en.identity in prompt
    assert "{{" not in prompt and "{%" not in prompt


def test_compact_prompt_for_small_models_drops_the_long_sections(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    full_backend = scripted_backend(lambda _: "")
    compact_backend = scripted_backend(lambda _: "")
    compact_backend.compact_prompt = True
    session = new_session(persona_fr)
    full = PatientEngine(persona_fr, full_backend, settings).system_prompt(session)
    compact = PatientEngine(persona_fr, compact_backend, settings).system_prompt(session)
    assert len(compact) < len(full)
    assert persona_fr.history not in compact and persona_fr.history in full


def test_missing_template_variable_raises() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_string("Bonjour {{ nom }}, vous avez {{ age }} ans.", nom="Nathalie")
    with pytest.raises(jinja2.UndefinedError):
        render("patient.fr.md")  # no persona given


def test_template_rendering_is_sandboxed() -> None:
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_string("{{ ''.__class__.__mro__[1].__subclasses__() }}")


def test_persona_text_is_data_not_template_code(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    sneaky = persona_fr.model_copy(update={"identity": "Nathalie {{ 7 * 7 }} {% raw %}x{% endraw %}"})
    prompt = PatientEngine(sneaky, scripted_backend(lambda _: ""), settings).system_prompt(new_session(sneaky))
    assert "Nathalie {{ 7 * 7 }} {% raw %}x{% endraw %}" in prompt
    assert "49" not in prompt.split("# Votre situation")[0]


# --------------------------------------------------------------------------- after branching


def test_the_patient_prompt_after_branching_uses_the_restored_hidden_state(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    engine = PatientEngine(persona_fr, scripted_backend(lambda _: "{}"), settings)
    original = french_session()
    assert "objectifs 2/7, tâches 2/7, lien 3/7" in engine.system_prompt(original)  # turn 11
    restored = engine.system_prompt(original.branch_at(4))
    assert "objectifs 2/7, tâches 2/7, lien 2/7" in restored  # turn 3
    assert "lien 3/7" not in restored


def test_the_embedded_model_gets_its_state_after_the_history_so_the_prompt_prefix_stays_cached(
    persona_fr: Persona, settings: Settings, scripted_backend: Backend
) -> None:
    """Issue 14, item 3: the system prompt of a local model is the same at every turn (llama.cpp reuses its
    processed prefix); the state, which changes every turn, comes last, in a system message of its own."""
    local = scripted_backend(lambda _: "{}")
    local.prefill = True
    engine = PatientEngine(persona_fr, local, settings)
    later = french_session()
    assert engine.system_prompt(new_session(persona_fr)) == engine.system_prompt(later)
    messages = engine.build_messages(later)
    assert isinstance(messages[-1], SystemMessage) and "objectifs 2/7, tâches 2/7, lien 3/7" in str(
        messages[-1].content
    )
    assert not isinstance(messages[-2], SystemMessage)  # the history comes before it
    endpoint = PatientEngine(persona_fr, scripted_backend(lambda _: "{}"), settings)
    assert "objectifs 2/7, tâches 2/7, lien 3/7" in endpoint.system_prompt(later)
    assert not isinstance(endpoint.build_messages(later)[-1], SystemMessage)


def test_the_french_instructions_name_no_gender_for_the_patient() -> None:
    """M. Lavoie was told to answer 'comme la vraie patiente' and to stay 'cohérente'."""
    for name in ("patient.fr.md", "patient_state.fr.md", "reminder.fr.md"):
        text = template_text(name)
        assert "la patiente" not in text and "cohérente" not in text and "expliquée" not in text, name
