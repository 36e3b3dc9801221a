"""Sample visits with Mrs. Bertrand (her two personas and two scripted sessions), for the debrief, branching,
patient and command tests: the personas as fixtures (this module is a plugin), the sessions as plain helpers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.domain.events import AllianceEvent
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker
from agent.persona.loader import load_persona
from agent.persona.model import Persona
from tests.support.fakes import PERSONAS_DIR

FR_SHAME = "Il pense que je suis paresseuse. Ça ne sert à rien d'insister, je vais me taire."
FR_OPENING = "Je dois lui demander les trois mois tout de suite, avant de perdre mes moyens."
HOSTILE = "Three months is a lot. <script>alert('x')</script> Let's plan a return in two weeks."


@pytest.fixture(scope="module")
def persona_fr() -> Persona:
    return load_persona(PERSONAS_DIR / "bertrand.fr.yaml")


@pytest.fixture(scope="module")
def persona_en() -> Persona:
    return load_persona(PERSONAS_DIR / "bertrand.en.yaml")


def hidden_state(
    monologue: str, alliance: tuple[int, int, int], emotions: Sequence[str], move: str = "none"
) -> HiddenState:
    goals, tasks, bond = alliance
    return HiddenState.model_validate(
        {
            "inner_monologue": monologue,
            "emotions": list(emotions),
            "alliance": AlliancePerception(goals=goals, tasks=tasks, bond=bond),
            "intended_move": move,
        }
    )


def alliance_event(turn: int, speaker: Speaker, kind: EventKind, evidence: str = "", **labels: object) -> AllianceEvent:
    return AllianceEvent.model_validate(
        {"turn": turn, "speaker": speaker, "kind": kind, "evidence": evidence, "confidence": 0.8, **labels}
    )


_C, _P = Speaker.clinician, Speaker.patient
_R, _A, _M = EventKind.rupture_marker, EventKind.repair_attempt, EventKind.missed_repair


def french_session() -> Session:
    """Scenario A, then a repair that works and one that does not.

    Means: start 3.33; t1 3.33; t3 2.0 (largest drop, after learner turn 2); t5 1.67; t7 3.33
    (emotional repair on 6 worked); t9 2.33; t11 2.33 (repair on 10 did not work).
    """
    s = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    s.add_learner_turn("Bonjour madame Bertrand, qu'est-ce qui vous amène aujourd'hui ?")
    s.add_patient_turn(
        "J'ai encore mal à la tête tous les jours. Je voudrais trois mois de plus.",
        hidden_state(FR_OPENING, (3, 3, 4), ["anxiety"]),
    )
    s.add_learner_turn("Trois mois, c'est beaucoup. On va plutôt viser un retour progressif dans deux semaines.")
    s.add_patient_turn(
        "D'accord… si vous le dites.", hidden_state(FR_SHAME, (2, 2, 2), ["shame", "feeling_judged"], "withdrawal")
    )
    s.add_learner_turn("Parfait. Je vous prépare le formulaire pour l'assurance.")
    s.add_patient_turn("Mm-hmm.", hidden_state("Je veux juste partir d'ici.", (2, 1, 2), ["sadness"], "withdrawal"))
    s.add_learner_turn("Je remarque que vous parlez moins depuis que j'ai parlé du retour. Ça vous a touchée ?")
    s.add_patient_turn(
        "Oui… j'ai peur de frapper un autre mur.",
        hidden_state("Enfin, elle voit que ça ne va pas.", (3, 3, 4), ["anxiety", "relief"], "repair"),
    )
    s.add_learner_turn("Vous avez l'air fâchée, mais je ne peux rien signer de plus, c'est comme ça.")
    s.add_patient_turn(
        "Vous ne me croyez pas, c'est ça ?",
        hidden_state(
            "Encore quelqu'un qui décide à ma place.", (2, 2, 3), ["anger", "feeling_judged"], "confrontation"
        ),
    )
    s.add_learner_turn("Dites-moi ce que vous espérez, et je vous dirai ce que je dois évaluer de mon côté.")
    s.add_patient_turn("Je veux juste qu'on me croie.", hidden_state("Je ne sais pas.", (2, 2, 3), ["ambivalence"]))
    s.events = [
        alliance_event(3, _P, _R, "si vous le dites", rupture=RuptureType.withdrawal, subtype="deferential_appeasing"),
        alliance_event(3, _P, _R, "si vous le dites", rupture=RuptureType.withdrawal),  # reported twice
        alliance_event(4, _C, _M, rupture=RuptureType.withdrawal),
        alliance_event(5, _P, _R, "Mm-hmm.", rupture=RuptureType.withdrawal, subtype="minimal_response"),
        alliance_event(6, _C, _A, "Ça vous a touchée ?", function=MetacommFunction.emotional),
        alliance_event(8, _C, _R, "c'est comme ça", rupture=RuptureType.confrontation),
        alliance_event(9, _P, _R, "Vous ne me croyez pas", rupture=RuptureType.confrontation),
        alliance_event(10, _C, _A, "Dites-moi ce que vous espérez", principle=RepairPrinciple.explore_perspectives),
    ]
    return s


def english_session() -> Session:
    """A confrontation answered by an emotional repair that works, then a withdrawal left unrepaired."""
    s = Session(persona_id="bertrand.en", language="en", llm="fake")
    s.add_learner_turn("Hi Mrs. Bertrand, what brings you in today?")
    s.add_patient_turn(
        "The headaches haven't gone away. I'd like three more months.",
        hidden_state("Ask right away, before I lose my nerve.", (3, 3, 4), ["anxiety"]),
    )
    s.add_learner_turn(HOSTILE)
    s.add_patient_turn(
        "That's not fair. You don't believe me.",
        hidden_state("He thinks I'm milking the system.", (2, 2, 2), ["anger", "feeling_judged"], "confrontation"),
    )
    s.add_learner_turn("I can see you're upset. Tell me what worries you about going back.")
    s.add_patient_turn(
        "I'm scared I'll hit another wall.",
        hidden_state("Maybe I can tell her.", (3, 3, 4), ["anxiety", "hope"], "repair"),
    )
    s.add_learner_turn("Okay. Let's just do two weeks then.")
    s.add_patient_turn(
        "Fine. Whatever you think.", hidden_state("Why did I bother.", (2, 2, 3), ["sadness"], "withdrawal")
    )
    s.add_learner_turn("So, any questions?")
    s.events = [
        alliance_event(3, _P, _R, "You don't believe me", rupture=RuptureType.confrontation),
        alliance_event(4, _C, _A, "I can see you're upset", function=MetacommFunction.emotional),
        alliance_event(7, _P, _R, "Whatever you think", rupture=RuptureType.withdrawal),
        alliance_event(8, _C, _M, rupture=RuptureType.withdrawal),
    ]
    return s
