"""The taxonomy's building blocks: languages, the bilingual `Label`, the label enums and scales.

Import the vocabulary from `agent.domain.taxonomy`, which re-exports these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")


@dataclass(frozen=True)
class Label:
    """A label with its display names and definitions in both languages."""

    id: str
    fr: str
    en: str
    definition_fr: str
    definition_en: str

    def name(self, lang: Lang) -> str:
        return self.fr if lang == "fr" else self.en

    def definition(self, lang: Lang) -> str:
        return self.definition_fr if lang == "fr" else self.definition_en


class AllianceComponent(StrEnum):
    goals = "goals"
    tasks = "tasks"
    bond = "bond"


class RuptureType(StrEnum):
    withdrawal = "withdrawal"
    confrontation = "confrontation"


class MarkerChannel(StrEnum):
    interpersonal = "interpersonal"
    emotional = "emotional"


class RepairPrinciple(StrEnum):
    explore_perspectives = "explore_perspectives"
    metacommunication = "metacommunication"


class MetacommFunction(StrEnum):
    clarifying = "clarifying"
    reflective = "reflective"
    emotional = "emotional"
    exploratory = "exploratory"


class EventKind(StrEnum):
    rupture_marker = "rupture_marker"
    repair_attempt = "repair_attempt"
    missed_repair = "missed_repair"


class Speaker(StrEnum):
    """Who spoke a turn. The learner plays the clinician."""

    clinician = "clinician"
    patient = "patient"


class Move(StrEnum):
    """What the simulated patient intends to do with a turn (hidden state)."""

    none = "none"
    withdrawal = "withdrawal"
    confrontation = "confrontation"
    repair = "repair"


class Emotion(StrEnum):
    """Felt emotions: Table II's emotional markers, plus the states of a working alliance."""

    anxiety = "anxiety"
    sadness = "sadness"
    guilt = "guilt"
    boredom = "boredom"
    confusion = "confusion"
    ambivalence = "ambivalence"
    shame = "shame"
    anger = "anger"
    indignation = "indignation"
    frustration = "frustration"
    feeling_incompetent = "feeling_incompetent"
    feeling_judged = "feeling_judged"
    feeling_misunderstood = "feeling_misunderstood"
    relief = "relief"
    hope = "hope"
    trust = "trust"
    calm = "calm"


# The alliance as the patient perceives it, per component: an integer on this scale.
ALLIANCE_MIN = 1
ALLIANCE_MAX = 7

# Gold label sets of the eval format (evals/README.md).
CLINICIAN_LABELS: tuple[str, ...] = (*[f.value for f in MetacommFunction], "none")
PATIENT_LABELS: tuple[str, ...] = (*[r.value for r in RuptureType], "none")


def _l(id: str, fr: str, en: str, dfr: str, den: str) -> Label:
    return Label(id, fr, en, dfr, den)
