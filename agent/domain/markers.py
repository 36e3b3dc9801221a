"""Rupture markers (article, Table II) and the finer 3RS subtypes (Eubanks, Muran & Safran).

Import them from `agent.domain.taxonomy`, which re-exports these.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain.labels import Label, MarkerChannel, RuptureType, _l


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
