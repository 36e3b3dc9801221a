"""Every string the debrief adds around the taxonomy's labels, in French and English.

Labels (rupture types, functions, principles, components, emotions) come from the taxonomy;
this module holds only the headings and sentences that frame them.
"""

from __future__ import annotations

from agent.domain.taxonomy import Lang, Speaker

_TEXT: dict[str, dict[Lang, str]] = {
    "title": {"fr": "Débriefing", "en": "Debrief"},
    "session": {"fr": "Séance", "en": "Session"},
    "turns": {"fr": "tours", "en": "turns"},
    "branch_of": {
        "fr": "Reprise de la séance {parent} à partir du tour {turn}.",
        "en": "Retry of session {parent} from turn {turn}.",
    },
    "timeline": {"fr": "Trajectoire de l'alliance", "en": "Alliance trajectory"},
    "timeline_help": {
        "fr": "L'alliance telle que la patiente ou le patient la percevait, de 1 à 7, après chacune de ses répliques.",
        "en": "The alliance as the patient perceived it, from 1 to 7, after each of their replies.",
    },
    "turn": {"fr": "Tour", "en": "Turn"},
    "start": {"fr": "début", "en": "start"},
    "events": {"fr": "Événements", "en": "Events"},
    "mean": {"fr": "moyenne", "en": "mean"},
    "alliance_axis": {"fr": "Alliance perçue (1–7)", "en": "Perceived alliance (1–7)"},
    "no_points": {"fr": "Aucun état d'alliance enregistré.", "en": "No alliance state recorded."},
    "you": {"fr": "Vous", "en": "You"},
    "patient": {"fr": "Patient·e", "en": "Patient"},
    "counts": {"fr": "En chiffres", "en": "In numbers"},
    "ruptures": {"fr": "Marqueurs de rupture", "en": "Rupture markers"},
    "by_type": {"fr": "par type", "en": "by type"},
    "by_party": {"fr": "par partie", "en": "by party"},
    "repairs": {"fr": "Tentatives de réparation", "en": "Repair attempts"},
    "repairs_worked": {
        "fr": "Réparations suivies d'une hausse de l'alliance : {worked} sur {assessed}",
        "en": "Repairs followed by a rise in the alliance: {worked} of {assessed}",
    },
    "missed": {"fr": "Réparations manquées", "en": "Missed repairs"},
    "none": {"fr": "aucune", "en": "none"},
    "missed_item": {
        "fr": "Tour {turn} : marqueur de {rupture} au tour {after}, puis vous avez dit",
        "en": "Turn {turn}: a {rupture} marker on turn {after}, then you said",
    },
    "key_moment": {"fr": "Moment clé", "en": "Key moment"},
    "key_drop": {
        "fr": "Après votre tour {turn}, l'alliance a le plus chuté : {before} → {after} (moyenne).",
        "en": "After your turn {turn}, the alliance dropped the most: {before} → {after} (mean).",
    },
    "key_rupture": {
        "fr": "Premier marqueur de rupture de la séance, autour de votre tour {turn}.",
        "en": "The session's first rupture marker, around your turn {turn}.",
    },
    "key_rupture_type": {"fr": "Rupture en jeu : {rupture}.", "en": "Rupture at stake: {rupture}."},
    "key_next": {"fr": "Au tour {turn}, vous avez répondu", "en": "On turn {turn}, you answered"},
    "key_no_next": {"fr": "La séance s'est arrêtée là.", "en": "The session stopped there."},
    "alternatives": {
        "fr": "Ce que vous auriez pu essayer (dans la langue de la patiente ou du patient) :",
        "en": "What you could have tried (in the patient's language):",
    },
    "flagged": {"fr": "Moments signalés, pensées révélées", "en": "Flagged moments, thoughts revealed"},
    "flagged_help": {
        "fr": "Vos mots, à côté de ce que la patiente ou le patient pensait à ce moment-là (caché pendant la visite).",
        "en": "Your words, beside what the patient was thinking at that moment (hidden during the visit).",
    },
    "you_said": {"fr": "Vous avez dit", "en": "You said"},
    "thought": {"fr": "Pensée", "en": "Thought"},
    "emotions": {"fr": "Émotions", "en": "Emotions"},
    "alliance": {"fr": "Alliance", "en": "Alliance"},
    "reply": {"fr": "Réponse", "en": "Reply"},
    "no_reply": {"fr": "(pas de réponse)", "en": "(no reply)"},
    "comparison": {"fr": "Comparaison des branches", "en": "Branch comparison"},
    "comparison_help": {
        "fr": "À partir du tour {turn} : cette séance, puis l'autre branche.",
        "en": "From turn {turn}: this session, then the other branch.",
    },
    "this_branch": {"fr": "Cette branche", "en": "This branch"},
    "other_branch": {"fr": "Autre branche", "en": "Other branch"},
    "final": {"fr": "Alliance finale", "en": "Final alliance"},
    "opening": {"fr": "Votre tour {turn}", "en": "Your turn {turn}"},
    "figure": {"fr": "Graphique de la trajectoire", "en": "Trajectory chart"},
    "glyph_fill": {
        "fr": "Symbole plein : la patiente ou le patient ; creux : vous.",
        "en": "Filled symbol: the patient; hollow: you.",
    },
    "other_mean": {"fr": "Autre branche (moyenne)", "en": "Other branch (mean)"},
}


def t(key: str, lang: Lang, **values: object) -> str:
    return _TEXT[key][lang].format(**values)


def party(speaker: Speaker, lang: Lang, patient_name: str | None = None) -> str:
    """Who spoke, as the learner reads it: "You" or the patient's name."""
    if speaker is Speaker.clinician:
        return t("you", lang)
    return patient_name or t("patient", lang)
