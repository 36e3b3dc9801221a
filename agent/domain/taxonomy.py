"""The alliance vocabulary, defined once.

Every label used by prompts, the evaluator, the UI, the evals and the persona schema comes
from here. Each label has a French and an English display name and a one-line definition in
both languages. Sources: Bordin (1979) for the alliance components; the article in
``shared/seed`` (Tables I-III) for rupture types, markers and metacommunication functions;
the 3RS (Eubanks, Muran & Safran) for the finer subtypes.
"""

from __future__ import annotations

from agent.domain.acts import ACT_ARTICLE_LINKS, ACTS, ArticleLink, CommunicativeAct, act_label
from agent.domain.labels import (
    ALLIANCE_MAX,
    ALLIANCE_MIN,
    CLINICIAN_LABELS,
    LANGS,
    PATIENT_LABELS,
    AllianceComponent,
    Emotion,
    EventKind,
    Label,
    Lang,
    MarkerChannel,
    MetacommFunction,
    Move,
    RepairPrinciple,
    RuptureType,
    Speaker,
    _l,
)
from agent.domain.markers import (
    CONFRONTATION_SUBTYPES,
    MARKERS,
    RESOLUTION_SUBTYPES,
    SUBTYPES,
    WITHDRAWAL_SUBTYPES,
    Marker,
)

COMPONENTS: dict[AllianceComponent, Label] = {
    AllianceComponent.goals: _l(
        "goals",
        "Objectifs",
        "Goals",
        "Entente entre patient et clinicien sur les buts des soins.",
        "Agreement between patient and clinician on the aims of care.",
    ),
    AllianceComponent.tasks: _l(
        "tasks",
        "Tâches",
        "Tasks",
        "Entente sur qui fait quoi pour atteindre ces buts.",
        "Agreement on who does what to reach those aims.",
    ),
    AllianceComponent.bond: _l(
        "bond",
        "Lien",
        "Bond",
        "Lien de confiance mutuelle entre patient et clinicien.",
        "The bond of mutual trust between patient and clinician.",
    ),
}

RUPTURES: dict[RuptureType, Label] = {
    RuptureType.withdrawal: _l(
        "withdrawal",
        "Retrait",
        "Withdrawal",
        "L'un des deux se désengage (évitement, repli, expérience masquée) pour se protéger, "
        "au prix de l'authenticité ; souvent subtil.",
        "One party disengages (avoidance, shutting down, masking their experience) to protect "
        "themselves, at the cost of authenticity; often subtle.",
    ),
    RuptureType.confrontation: _l(
        "confrontation",
        "Confrontation",
        "Confrontation",
        "L'un des deux exprime activement un désaccord ou une critique pour réaffirmer son "
        "autonomie ou un besoin, au prix de la cohésion ; souvent explicite.",
        "One party actively voices disagreement or criticism to reassert autonomy or an unmet "
        "need, at the cost of cohesion; usually explicit.",
    ),
}


PRINCIPLES: dict[RepairPrinciple, Label] = {
    RepairPrinciple.explore_perspectives: _l(
        "explore_perspectives",
        "Explorer les perspectives",
        "Explore perspectives",
        "Explorer la vision de chacun des buts, des tâches et des rôles, et expliciter la sienne.",
        "Explore each party's view of goals, tasks and roles, and make one's own explicit.",
    ),
    RepairPrinciple.metacommunication: _l(
        "metacommunication",
        "Métacommunication",
        "Metacommunication",
        "Parler, en partenariat, de ce qui se passe dans la relation, ici et maintenant.",
        "Talk, in partnership, about what is happening in the relationship here and now.",
    ),
}

FUNCTIONS: dict[MetacommFunction, Label] = {
    MetacommFunction.clarifying: _l(
        "clarifying",
        "Clarificatrice",
        "Clarifying",
        "Dissiper un malentendu ou une incompréhension dans l'échange.",
        "Clear up a misunderstanding in the exchange.",
    ),
    MetacommFunction.reflective: _l(
        "reflective",
        "Réflexive",
        "Reflective",
        "Amener une prise de conscience de la dynamique relationnelle.",
        "Bring awareness to the relational dynamic.",
    ),
    MetacommFunction.emotional: _l(
        "emotional",
        "Émotionnelle",
        "Emotional",
        "Reconnaître et valider les émotions présentes dans l'interaction.",
        "Recognise and validate the emotions present in the interaction.",
    ),
    MetacommFunction.exploratory: _l(
        "exploratory",
        "Exploratrice",
        "Exploratory",
        "Approfondir la compréhension de ce qui se joue dans la relation.",
        "Deepen the understanding of what is going on in the relationship.",
    ),
}

EVENT_KINDS: dict[EventKind, Label] = {
    EventKind.rupture_marker: _l(
        "rupture_marker",
        "Marqueur de rupture",
        "Rupture marker",
        "Indice observable d'une rupture d'alliance.",
        "An observable sign of an alliance rupture.",
    ),
    EventKind.repair_attempt: _l(
        "repair_attempt",
        "Tentative de réparation",
        "Repair attempt",
        "Intervention qui vise à restaurer l'alliance.",
        "A move that aims to restore the alliance.",
    ),
    EventKind.missed_repair: _l(
        "missed_repair",
        "Réparation manquée",
        "Missed repair",
        "Une rupture du patient est restée sans tentative de réparation au tour suivant.",
        "A patient rupture was followed by no repair attempt on the next turn.",
    ),
}


EMOTIONS: dict[Emotion, Label] = {
    **{Emotion(m.label.id): m.label for m in MARKERS if m.channel is MarkerChannel.emotional},
    Emotion.relief: _l("relief", "Soulagement", "Relief", "Tension qui se relâche.", "Tension easing."),
    Emotion.hope: _l("hope", "Espoir", "Hope", "Attente favorable.", "A hopeful expectation."),
    Emotion.trust: _l(
        "trust", "Confiance", "Trust", "Se sentir en sécurité avec l'autre.", "Feeling safe with the other."
    ),
    Emotion.calm: _l("calm", "Calme", "Calm", "État posé.", "A settled state."),
}

MOVES: dict[Move, Label] = {
    Move.none: _l(
        "none", "Aucun", "None", "Poursuit l'échange sans rupture ni réparation.", "Goes on with no rupture or repair."
    ),
    Move.withdrawal: RUPTURES[RuptureType.withdrawal],
    Move.confrontation: RUPTURES[RuptureType.confrontation],
    Move.repair: _l(
        "repair", "Réparation", "Repair", "Tente de restaurer l'alliance.", "Tries to restore the alliance."
    ),
}


def label_for(value: str) -> Label:
    """The label of any taxonomy id (rupture, function, principle, subtype, emotion, kind, move)."""
    for table in (RUPTURES, FUNCTIONS, PRINCIPLES, EVENT_KINDS, COMPONENTS, EMOTIONS, MOVES):
        for key, lab in table.items():
            if key.value == value:
                return lab
    if value in SUBTYPES:
        return SUBTYPES[value]
    for m in MARKERS:
        if m.label.id == value:
            return m.label
    raise KeyError(value)


def display(value: str, lang: Lang) -> str:
    """Display name of a taxonomy id in the given language."""
    return label_for(value).name(lang)


# The glossary's section titles: prompt text for the model (not shown to people), in both languages.
_GLOSSARY_HEADINGS: dict[Lang, dict[str, str]] = {
    "fr": {
        "components": "Composantes de l'alliance",
        "ruptures": "Types de rupture",
        "interpersonal": "marqueurs interpersonnels",
        "emotional": "marqueurs émotionnels",
        "principles": "Principes de réparation",
        "functions": "Fonctions de la métacommunication",
        "withdrawal_subtypes": "Sous-types de retrait",
        "confrontation_subtypes": "Sous-types de confrontation",
        "resolution_subtypes": "Stratégies de résolution",
    },
    "en": {
        "components": "Alliance components",
        "ruptures": "Rupture types",
        "interpersonal": "interpersonal markers",
        "emotional": "emotional markers",
        "principles": "Repair principles",
        "functions": "Metacommunication functions",
        "withdrawal_subtypes": "Withdrawal subtypes",
        "confrontation_subtypes": "Confrontation subtypes",
        "resolution_subtypes": "Resolution strategies",
    },
}


def glossary(lang: Lang) -> str:
    """The taxonomy rendered as a compact glossary, for prompts (never repeated by hand)."""
    lines: list[str] = []

    def add(title: str, labels: list[Label]) -> None:
        lines.append(f"## {title}")
        lines.extend(f"- `{lab.id}` ({lab.name(lang)}): {lab.definition(lang)}" for lab in labels)

    head = _GLOSSARY_HEADINGS[lang]
    add(head["components"], list(COMPONENTS.values()))
    add(head["ruptures"], list(RUPTURES.values()))
    for rupture in RuptureType:
        for channel in MarkerChannel:
            title = f"{RUPTURES[rupture].name(lang)} — {head[channel.value]}"
            add(title, [m.label for m in MARKERS if m.rupture is rupture and m.channel is channel])
    add(head["principles"], list(PRINCIPLES.values()))
    add(head["functions"], list(FUNCTIONS.values()))
    add(head["withdrawal_subtypes"], list(WITHDRAWAL_SUBTYPES.values()))
    add(head["confrontation_subtypes"], list(CONFRONTATION_SUBTYPES.values()))
    add(head["resolution_subtypes"], list(RESOLUTION_SUBTYPES.values()))
    return "\n".join(lines)


__all__ = [
    "ACTS",
    "ACT_ARTICLE_LINKS",
    "ALLIANCE_MAX",
    "ALLIANCE_MIN",
    "CLINICIAN_LABELS",
    "COMPONENTS",
    "CONFRONTATION_SUBTYPES",
    "EMOTIONS",
    "EVENT_KINDS",
    "FUNCTIONS",
    "LANGS",
    "MARKERS",
    "MOVES",
    "PATIENT_LABELS",
    "PRINCIPLES",
    "RESOLUTION_SUBTYPES",
    "RUPTURES",
    "SUBTYPES",
    "WITHDRAWAL_SUBTYPES",
    "AllianceComponent",
    "ArticleLink",
    "CommunicativeAct",
    "Emotion",
    "EventKind",
    "Label",
    "Lang",
    "Marker",
    "MarkerChannel",
    "MetacommFunction",
    "Move",
    "RepairPrinciple",
    "RuptureType",
    "Speaker",
    "act_label",
    "display",
    "glossary",
    "label_for",
]
