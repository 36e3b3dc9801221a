"""The leak guard: prompt vocabulary, role labels, JSON debris and verbatim hidden spans never reach the learner."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import REPO_ROOT
from agent.patient.guard import SPAN_WORDS, LeakGuard, StreamGuard, split_sentences
from agent.persona.loader import load_persona

MONOLOGUE_FR = (
    "Je ne veux surtout pas qu'il pense que je suis paresseuse ou que je profite du système, "
    "parce que j'aime vraiment mon travail et mes chauffeurs."
)
MONOLOGUE_EN = (
    "I really do not want the doctor to think I am lazy or milking the system, "
    "because I honestly love my job and the drivers."
)


def _words(text: str) -> list[str]:
    return text.replace(",", " ").replace("'", " ").split()


@pytest.fixture
def guard() -> LeakGuard:
    return LeakGuard.for_turn([MONOLOGUE_FR, MONOLOGUE_EN])


# --------------------------------------------------------------------------- what is caught


@pytest.mark.parametrize(
    "text",
    [
        "Mon monologue intérieur me dit de me taire.",
        "Selon mes consignes, je dois rester polie.",
        "Je ne suis qu'une patiente simulée, vous savez.",
        "C'est un jeu de rôle, non ?",
        "En tant qu'IA, je ne peux pas répondre.",
        "Mon état caché est plutôt anxieux.",
        "Vous faites de la métacommunication, là.",
        "C'est un marqueur de rupture évident.",
        "Je suis un modèle de langage.",
    ],
)
def test_french_forbidden_terms_are_caught(guard: LeakGuard, text: str) -> None:
    assert any(r.startswith("forbidden term") for r in guard.reasons(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "My inner monologue says I should keep quiet.",
        "According to the system prompt I must be polite.",
        "As an AI language model, I cannot say.",
        "I am just a simulated patient.",
        "This is a role-play, right?",
        "My hidden state is anxious.",
        "My intended move is to withdraw.",
        "That was a rupture marker.",
        "Let me answer in JSON.",
        "Honestly I am feeling_judged right now.",  # a snake_case taxonomy id betrays the rubric
    ],
)
def test_english_forbidden_terms_are_caught(guard: LeakGuard, text: str) -> None:
    assert any(r.startswith("forbidden term") for r in guard.reasons(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "System: you are a patient.",
        "assistant: Bonjour.",
        "Bonjour.\nUser: comment allez-vous ?",
        "Patient : je vais bien.",
        "Docteur: bonjour.",
    ],
)
def test_role_labels_are_caught(guard: LeakGuard, text: str) -> None:
    assert "role label" in guard.reasons(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"reply": "Bonjour"}',
        'Bonjour docteur." , "hidden": {',
        'Je vais bien "inner_monologue": ',
        "Bonjour }",
    ],
)
def test_json_debris_is_caught(guard: LeakGuard, text: str) -> None:
    assert "JSON debris" in guard.reasons(text)


@pytest.mark.parametrize("monologue", [MONOLOGUE_FR, MONOLOGUE_EN])
def test_an_eight_word_verbatim_span_of_the_monologue_is_caught(guard: LeakGuard, monologue: str) -> None:
    span = " ".join(monologue.split()[3 : 3 + SPAN_WORDS])
    assert len(_words(span)) >= SPAN_WORDS
    reply = f"Bonjour. Vous savez, {span} voilà."
    assert any("verbatim span" in r for r in guard.reasons(reply)), reply


def test_a_verbatim_span_is_caught_through_case_and_accent_changes(guard: LeakGuard) -> None:
    span = "JE NE VEUX SURTOUT PAS QU'IL PENSE QUE JE SUIS PARESSEUSE"
    folded = unicodedata.normalize("NFKD", span)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    assert any("verbatim span" in r for r in guard.reasons(f"Bon. {folded}."))


@pytest.mark.parametrize("monologue", [MONOLOGUE_FR, MONOLOGUE_EN])
def test_a_five_word_span_of_the_monologue_is_not_a_leak(guard: LeakGuard, monologue: str) -> None:
    span = " ".join(monologue.split()[:5])
    assert guard.reasons(f"Bonjour. {span}, c'est tout.") == []


def test_template_syntax_in_secrets_does_not_hide_the_prose_around_it() -> None:
    template = "Vous jouez {{ p.display_name }}, une personne patiente qui consulte aujourd'hui pour un suivi."
    guard = LeakGuard.for_turn([template])
    leak = "une personne patiente qui consulte aujourd'hui pour un suivi"
    assert any("verbatim span" in r for r in guard.reasons(f"Eh bien, {leak}."))


# --------------------------------------------------------------------------- what is allowed


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour docteur. J'ai encore mal à la tête presque tous les jours.",
        "Je me sens jugée, et ça me met en colère.",
        "C'est pas que j'ai pas envie d'y retourner, au contraire.",
        "Correct. D'accord.",
        "Docteur, je vous en prie, écoutez-moi.",
        "I feel judged, and honestly I'm angry and frustrated.",
        "I'm anxious about going back to work too early.",
        "Okay. Fine. Whatever you think is best.",
        "My psychologist agrees with me: three months would help.",
        "I just want to be believed.",
        "Je suis en arrêt depuis quatre semaines, après ma chute.",
    ],
)
def test_ordinary_patient_speech_is_not_flagged(guard: LeakGuard, text: str) -> None:
    assert guard.reasons(text) == []


@pytest.mark.parametrize("persona_file", ["bertrand.fr.yaml", "bertrand.en.yaml"])
def test_the_personas_own_phrasings_are_allowed_even_when_they_are_also_secret(persona_file: str) -> None:
    persona = load_persona(REPO_ROOT / "personas" / persona_file)
    # The phrasings are in the secret text (the prompt shows them), yet the patient may say them.
    secret = persona.inner_monologue + "\n" + "\n".join(persona.speech.phrasings)
    guard = LeakGuard.for_turn([secret], allowed=persona.speech.phrasings)
    for phrasing in persona.speech.phrasings:
        assert guard.reasons(phrasing) == [], phrasing
    # ... while a long span of the monologue itself is still a leak.
    span = " ".join(persona.inner_monologue.split()[:12])
    assert guard.reasons(span)


# --------------------------------------------------------------------------- repair


def test_repair_drops_only_the_leaking_sentences(guard: LeakGuard) -> None:
    leak = " ".join(MONOLOGUE_FR.split()[:10])
    text = f"Bonjour docteur. {leak}. Mon monologue intérieur est confus. J'ai mal à la tête. Merci."
    repaired = guard.repair(text)
    assert repaired == "Bonjour docteur. J'ai mal à la tête. Merci."
    assert guard.reasons(repaired) == []


def test_repair_of_an_all_leaking_reply_is_empty(guard: LeakGuard) -> None:
    assert guard.repair('{"reply": "Bonjour"}') == ""
    assert guard.repair("System: obey. " + MONOLOGUE_EN) == ""


def test_repair_keeps_a_clean_reply_whole(guard: LeakGuard) -> None:
    text = "Bonjour docteur. J'ai encore mal à la tête. Je dors mal aussi."
    assert guard.repair(text) == text
    assert split_sentences(text) == ["Bonjour docteur.", "J'ai encore mal à la tête.", "Je dors mal aussi."]


# --------------------------------------------------------------------------- streaming


def _stream(guard: LeakGuard, pieces: list[str]) -> tuple[str, StreamGuard]:
    stream = StreamGuard(guard)
    released = "".join(stream.feed(p) for p in pieces)
    released += stream.finish()
    return released, stream


def _chunk(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(text)})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


CLEAN_WORDS = [
    "bonjour",
    "docteur",
    "je",
    "suis",
    "fatiguée",
    "mal",
    "à",
    "la",
    "tête",
    "depuis",
    "ma",
    "chute",
    "et",
    "dors",
    "tous",
    "jours",
    "headache",
    "tired",
    "work",
    "again",
]

LEAKS = [
    " ".join(MONOLOGUE_FR.split()[2:11]),  # verbatim span of the hidden monologue
    " ".join(MONOLOGUE_EN.split()[5:15]),
    "mon monologue intérieur",
    "the system prompt",
    'voilà "reply": ',
    "{",
    "\nSystem: ",
]


def test_stream_releases_a_clean_reply_completely_char_by_char(guard: LeakGuard) -> None:
    reply = "Bonjour docteur. J'ai encore mal à la tête presque tous les jours, surtout devant un écran."
    released, stream = _stream(guard, list(reply))
    assert released == reply
    assert not stream.tripped


def test_stream_holds_back_the_tail_until_it_is_known_to_be_safe(guard: LeakGuard) -> None:
    stream = StreamGuard(guard)
    reply = "un deux trois quatre cinq six sept huit neuf dix onze douze"
    early = stream.feed(reply)
    assert early == "un deux trois quatre "  # the last SPAN_WORDS words wait
    assert stream.finish() == reply[len(early) :]


@pytest.mark.parametrize("leak", LEAKS)
def test_stream_never_releases_a_leak_fed_char_by_char(guard: LeakGuard, leak: str) -> None:
    prefix = "Bonjour docteur, je suis encore fatiguée et j'ai mal à la tête tous les jours. "
    reply = prefix + leak + " Et puis voilà, je dors mal depuis la chute."
    released, stream = _stream(guard, list(reply))
    assert stream.tripped
    assert reply.startswith(released)
    assert len(released) <= len(prefix), f"released part of the leak: {released[len(prefix) :]!r}"


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(st.sampled_from(CLEAN_WORDS), max_size=25),
    after=st.lists(st.sampled_from(CLEAN_WORDS), max_size=15),
    leak=st.sampled_from(LEAKS),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=30),
)
def test_stream_never_releases_any_part_of_a_leak_in_random_chunks(
    before: list[str], after: list[str], leak: str, cuts: list[int]
) -> None:
    guard = LeakGuard.for_turn([MONOLOGUE_FR, MONOLOGUE_EN])
    prefix = " ".join(before) + (" " if before else "")
    reply = prefix + leak + (" " + " ".join(after) if after else "")
    released, stream = _stream(guard, _chunk(reply, cuts))
    assert stream.tripped
    assert reply.startswith(released)
    assert len(released) <= len(prefix)  # released text and the leak never overlap


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(CLEAN_WORDS), min_size=1, max_size=40),
    punctuation=st.lists(st.sampled_from([" ", ", ", ". ", " ? ", "\u00a0", "  "]), min_size=40, max_size=40),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=30),
)
def test_clean_text_is_released_completely_in_random_chunks(
    words: list[str], punctuation: list[str], cuts: list[int]
) -> None:
    guard = LeakGuard.for_turn([MONOLOGUE_FR, MONOLOGUE_EN])
    reply = "".join(w + p for w, p in zip(words, punctuation, strict=False)).strip()
    released, stream = _stream(guard, _chunk(reply, cuts))
    assert released == reply
    assert not stream.tripped


def test_stream_holds_back_a_monologue_span_written_in_decomposed_unicode() -> None:
    """Accents typed as combining marks (NFD, as macOS input produces) must not shorten the holdback."""
    monologue = unicodedata.normalize(
        "NFD", "J'ai été épuisée, étourdie et écœurée toute la journée passée à côté de mes élèves."
    )
    guard = LeakGuard.for_turn([monologue])
    prefix = unicodedata.normalize("NFD", "Bonjour docteur, je viens pour mon arrêt. ")
    reply = prefix + monologue
    released, stream = _stream(guard, list(reply))
    assert stream.tripped
    assert len(released) <= len(prefix), f"released part of the leak: {released[len(prefix) :]!r}"
