"""The alliance vocabulary, defined once.

Every label used by prompts, the evaluator, the UI, the evals and the persona schema comes
from here. Each label has a French and an English display name and a one-line definition in
both languages. Sources: Bordin (1979) for the alliance components; the article in
``shared/seed`` (Tables I-III) for rupture types, markers and metacommunication functions;
the 3RS (Eubanks, Muran & Safran) for the finer subtypes.
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


@dataclass(frozen=True)
class Marker:
    label: Label
    rupture: RuptureType
    channel: MarkerChannel


def _m(rupture: RuptureType, channel: MarkerChannel, *args: str) -> Marker:
    return Marker(_l(*args), rupture, channel)


_W, _C = RuptureType.withdrawal, RuptureType.confrontation
_I, _E = MarkerChannel.interpersonal, MarkerChannel.emotional

MARKERS: tuple[Marker, ...] = (
    _m(
        _W,
        _I,
        "avoidance",
        "Évitement, repli, désengagement",
        "Avoidance, retreat, disengagement",
        "Esquive le sujet, se replie, se retire de l'échange.",
        "Sidesteps the topic, pulls back, leaves the exchange.",
    ),
    _m(
        _W,
        _I,
        "lowered_engagement",
        "Baisse de ton et d'engagement",
        "Lowered tone and engagement",
        "Répond moins, plus bas, avec moins d'énergie.",
        "Answers less, more quietly, with less energy.",
    ),
    _m(
        _W,
        _I,
        "silence_passivity",
        "Silence, indifférence, passivité",
        "Silence, apathy, passivity",
        "Se tait ou laisse faire sans s'impliquer.",
        "Falls silent or goes along without taking part.",
    ),
    _m(
        _W,
        _I,
        "surface_compliance",
        "Conformité de surface",
        "Surface compliance",
        "Acquiesce en apparence en cachant son désaccord ou son vécu.",
        "Agrees on the surface while hiding disagreement or experience.",
    ),
    _m(
        _C,
        _I,
        "hostility_opposition",
        "Hostilité, opposition, contrôle",
        "Hostility, opposition, control",
        "S'oppose, cherche à contrôler l'échange ou l'issue.",
        "Opposes, tries to control the exchange or its outcome.",
    ),
    _m(
        _C,
        _I,
        "rising_energy",
        "Hausse d'énergie et de ton",
        "Rising energy and tone",
        "Le ton monte, l'engagement devient combatif.",
        "The tone rises; engagement turns combative.",
    ),
    _m(
        _C,
        _I,
        "complaints",
        "Plaintes sur les soins ou le clinicien",
        "Complaints about care or clinician",
        "Exprime son mécontentement envers les soins ou la personne qui soigne.",
        "Voices dissatisfaction with the care or the clinician.",
    ),
    _m(
        _C,
        _I,
        "power_struggle",
        "Lutte de pouvoir",
        "Power struggle",
        "Chacun cherche à imposer sa décision.",
        "Each side tries to impose its decision.",
    ),
    _m(
        _C,
        _I,
        "marked_disagreement",
        "Désaccord marqué",
        "Marked disagreement",
        "Rejette ouvertement la proposition ou l'avis de l'autre.",
        "Openly rejects the other's proposal or view.",
    ),
    _m(_W, _E, "anxiety", "Anxiété", "Anxiety", "Inquiétude, appréhension.", "Worry, apprehension."),
    _m(_W, _E, "sadness", "Tristesse", "Sadness", "Peine, abattement.", "Sorrow, low mood."),
    _m(_W, _E, "guilt", "Culpabilité", "Guilt", "Se sentir fautif.", "Feeling at fault."),
    _m(_W, _E, "boredom", "Ennui", "Boredom", "Désintérêt pour l'échange.", "Loss of interest in the exchange."),
    _m(
        _W, _E, "confusion", "Confusion", "Confusion", "Ne plus savoir où on en est.", "Not knowing where things stand."
    ),
    _m(_W, _E, "ambivalence", "Ambivalence", "Ambivalence", "Tiraillé entre deux envies.", "Torn between two wishes."),
    _m(
        _W,
        _E,
        "shame",
        "Honte",
        "Shame",
        "Se sentir diminué aux yeux de l'autre.",
        "Feeling diminished in the other's eyes.",
    ),
    _m(_C, _E, "anger", "Colère", "Anger", "Irritation vive.", "Strong irritation."),
    _m(_C, _E, "indignation", "Indignation", "Indignation", "Sentiment d'injustice.", "A sense of injustice."),
    _m(_C, _E, "frustration", "Frustration", "Frustration", "Besoin contrarié.", "A thwarted need."),
    _m(
        _C,
        _E,
        "feeling_incompetent",
        "Sentiment d'incompétence",
        "Feeling incompetent",
        "Se sentir incapable ou remis en cause.",
        "Feeling unable or called into question.",
    ),
    _m(
        _C,
        _E,
        "feeling_judged",
        "Impression d'être jugé",
        "Feeling judged",
        "Percevoir un jugement sur soi.",
        "Perceiving a judgement of oneself.",
    ),
    _m(
        _C,
        _E,
        "feeling_misunderstood",
        "Impression d'être incompris",
        "Feeling misunderstood",
        "Percevoir que l'autre ne saisit pas son point de vue.",
        "Perceiving that one's view is not grasped.",
    ),
)

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

# Finer 3RS-style subtypes. Withdrawal and confrontation markers, and resolution strategies.
WITHDRAWAL_SUBTYPES: dict[str, Label] = {
    "denial": _l(
        "denial",
        "Déni",
        "Denial",
        "Nie une émotion ou un problème que ses paroles laissent voir.",
        "Denies a feeling or problem that their words show.",
    ),
    "minimal_response": _l(
        "minimal_response",
        "Réponse minimale",
        "Minimal response",
        "Réponses brèves et fermées.",
        "Short, closed answers.",
    ),
    "abstract_communication": _l(
        "abstract_communication",
        "Discours abstrait",
        "Abstract communication",
        "Reste vague ou intellectuel pour éviter le vécu.",
        "Stays vague or intellectual to avoid experience.",
    ),
    "avoidant_storytelling": _l(
        "avoidant_storytelling",
        "Récit d'évitement, changement de sujet",
        "Avoidant storytelling, topic shift",
        "Détourne la conversation vers un autre sujet.",
        "Steers the conversation to another topic.",
    ),
    "deferential_appeasing": _l(
        "deferential_appeasing",
        "Déférence, apaisement",
        "Deferential, appeasing",
        "Se soumet ou rassure l'autre au détriment de ses besoins.",
        "Submits or soothes the other at the cost of their own needs.",
    ),
    "content_affect_split": _l(
        "content_affect_split",
        "Clivage contenu-affect",
        "Content/affect split",
        "Parle d'un sujet chargé sans l'émotion attendue.",
        "Talks about a charged topic without the expected feeling.",
    ),
    "self_criticism_hopelessness": _l(
        "self_criticism_hopelessness",
        "Autocritique, désespoir",
        "Self-criticism, hopelessness",
        "Se blâme ou se dit sans espoir, ce qui ferme l'échange.",
        "Blames self or sounds hopeless, closing the exchange.",
    ),
}
CONFRONTATION_SUBTYPES: dict[str, Label] = {
    "complaint_about_clinician": _l(
        "complaint_about_clinician",
        "Plainte sur le clinicien",
        "Complaint about the clinician",
        "Critique la personne ou la compétence du clinicien.",
        "Criticises the clinician as a person or their competence.",
    ),
    "rejecting_intervention": _l(
        "rejecting_intervention",
        "Rejet de l'intervention",
        "Rejecting the intervention",
        "Refuse le plan ou la proposition.",
        "Refuses the plan or proposal.",
    ),
    "complaint_about_activities": _l(
        "complaint_about_activities",
        "Plainte sur les soins ou le progrès",
        "Complaint about care or progress",
        "Critique le déroulement ou l'efficacité des soins.",
        "Criticises how care goes or whether it works.",
    ),
    "defending_self": _l(
        "defending_self",
        "Se défendre",
        "Defending oneself",
        "Se justifie face à un reproche perçu.",
        "Justifies oneself against a perceived reproach.",
    ),
    "controlling_pressuring": _l(
        "controlling_pressuring",
        "Contrôle, pression",
        "Controlling, pressuring",
        "Exige, impose ses conditions ou presse l'autre.",
        "Demands, sets conditions or pressures the other.",
    ),
}
RESOLUTION_SUBTYPES: dict[str, Label] = {
    "clarify_misunderstanding": _l(
        "clarify_misunderstanding",
        "Clarifier un malentendu",
        "Clarify a misunderstanding",
        "Remettre au clair ce qui a été dit ou compris.",
        "Set straight what was said or understood.",
    ),
    "change_tasks_goals": _l(
        "change_tasks_goals",
        "Ajuster tâches ou objectifs",
        "Change tasks or goals",
        "Modifier le plan pour rejoindre l'autre.",
        "Adjust the plan to meet the other.",
    ),
    "give_rationale": _l(
        "give_rationale",
        "Donner sa raison",
        "Give a rationale",
        "Expliquer le pourquoi d'une démarche.",
        "Explain the why of an approach.",
    ),
    "invite_relationship_talk": _l(
        "invite_relationship_talk",
        "Inviter à parler de la relation",
        "Invite talk about the relationship",
        "Ouvrir la discussion sur la relation.",
        "Open talk about the relationship.",
    ),
    "acknowledge_contribution": _l(
        "acknowledge_contribution",
        "Reconnaître sa part",
        "Acknowledge one's contribution",
        "Admettre son rôle dans la tension.",
        "Own one's part in the tension.",
    ),
    "disclose_experience": _l(
        "disclose_experience",
        "Partager son vécu de l'échange",
        "Disclose one's experience",
        "Dire ce qu'on vit soi-même dans l'échange.",
        "Say what one feels in the exchange.",
    ),
    "link_patterns": _l(
        "link_patterns",
        "Relier à des schémas",
        "Link to patterns",
        "Relier la tension à un schéma récurrent.",
        "Link the tension to a recurring pattern.",
    ),
    "validate_defensive_posture": _l(
        "validate_defensive_posture",
        "Valider la posture défensive",
        "Validate the defensive posture",
        "Reconnaître le sens de la réaction de l'autre.",
        "Acknowledge the sense of the other's reaction.",
    ),
    "redirect": _l(
        "redirect",
        "Réorienter",
        "Redirect",
        "Ramener doucement l'échange vers la tâche.",
        "Gently bring the exchange back to the task.",
    ),
}

SUBTYPES: dict[str, Label] = {**WITHDRAWAL_SUBTYPES, **CONFRONTATION_SUBTYPES, **RESOLUTION_SUBTYPES}

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


def glossary(lang: Lang) -> str:
    """The taxonomy rendered as a compact glossary, for prompts (never repeated by hand)."""
    lines: list[str] = []

    def add(title: str, labels: list[Label]) -> None:
        lines.append(f"## {title}")
        lines.extend(f"- `{lab.id}` ({lab.name(lang)}): {lab.definition(lang)}" for lab in labels)

    fr = lang == "fr"
    add("Composantes de l'alliance" if fr else "Alliance components", list(COMPONENTS.values()))
    add("Types de rupture" if fr else "Rupture types", list(RUPTURES.values()))
    for rupture in RuptureType:
        for channel in MarkerChannel:
            title = f"{RUPTURES[rupture].name(lang)} — " + (
                ("marqueurs interpersonnels" if fr else "interpersonal markers")
                if channel is MarkerChannel.interpersonal
                else ("marqueurs émotionnels" if fr else "emotional markers")
            )
            add(title, [m.label for m in MARKERS if m.rupture is rupture and m.channel is channel])
    add("Principes de réparation" if fr else "Repair principles", list(PRINCIPLES.values()))
    add("Fonctions de la métacommunication" if fr else "Metacommunication functions", list(FUNCTIONS.values()))
    add("Sous-types de retrait" if fr else "Withdrawal subtypes", list(WITHDRAWAL_SUBTYPES.values()))
    add("Sous-types de confrontation" if fr else "Confrontation subtypes", list(CONFRONTATION_SUBTYPES.values()))
    add("Stratégies de résolution" if fr else "Resolution strategies", list(RESOLUTION_SUBTYPES.values()))
    return "\n".join(lines)
