"""Every string the app adds to Chainlit's UI, in French and English.

The UI follows the browser's language; the patient speaks the persona's language.
"""

from __future__ import annotations

from agent.domain.taxonomy import Lang

_TEXT: dict[str, dict[Lang, str]] = {
    "offline_demo": {
        "en": "Offline demo model: answers are limited; configure an endpoint for training use.",
        "fr": "Modèle de démonstration hors ligne : les réponses sont limitées ; configurez un point d'accès "
        "pour la formation.",
    },
    "brief_title": {"en": "Case brief", "fr": "Mise en situation"},
    "brief_footer": {
        "en": "You are the physician. Greet the patient when you are ready.",
        "fr": "Vous êtes le médecin. Saluez la patiente ou le patient quand vous êtes prêt·e.",
    },
    "no_persona": {
        "en": "No valid patient is available. Check the persona files below.",
        "fr": "Aucun patient valide n'est disponible. Vérifiez les fichiers de personas ci-dessous.",
    },
    "broken_personas": {
        "en": "Some persona files could not be loaded:",
        "fr": "Certains fichiers de personas n'ont pas pu être chargés :",
    },
    "patient_failed": {
        "en": "The patient could not answer ({reason}). Your message is kept: send it again when you are ready.",
        "fr": "Le patient n'a pas pu répondre ({reason}). Votre message est conservé : renvoyez-le quand vous voulez.",
    },
    "model_loading": {
        "en": "Loading the model… the first start can take a minute.",
        "fr": "Chargement du modèle… le premier démarrage peut prendre une minute.",
    },
    "backend_failed": {
        "en": "The model could not be started: {reason}",
        "fr": "Le modèle n'a pas pu démarrer : {reason}",
    },
    "coaching_level": {"en": "Coaching level", "fr": "Niveau d'accompagnement"},
    "coaching_help": {
        "en": "Exam: nothing live. Learner: flags on your turns. Coach: also the patient's markers, and hints.",
        "fr": "Examen : rien en direct. Apprenant : signaux sur vos tours. Coach : aussi les marqueurs du patient, "
        "et des pistes.",
    },
    "local_mode": {
        "en": "Local mode: no users are configured, so everyone who can open this page shares one local account. "
        "Add users (`alliance users add`) before serving the app to others.",
        "fr": "Mode local : aucun utilisateur n'est configuré, toute personne qui ouvre cette page partage un même "
        "compte local. Ajoutez des utilisateurs (`alliance users add`) avant d'ouvrir l'application à d'autres.",
    },
    "not_saved": {
        "en": "This session cannot be saved right now: you can go on, but a reload or a restart will lose it.",
        "fr": "Cette séance ne peut pas être enregistrée pour l'instant : vous pouvez continuer, mais un rechargement "
        "ou un redémarrage la perdra.",
    },
    "resume_missing": {
        "en": "This conversation was not kept, so it cannot go on. Start a new chat to talk with the patient.",
        "fr": "Cette conversation n'a pas été conservée : elle ne peut pas reprendre. Commencez une nouvelle "
        "conversation pour parler au patient.",
    },
    "resume_no_persona": {
        "en": "The patient of this conversation ({persona}) is no longer available, so it cannot go on.",
        "fr": "Le patient de cette conversation ({persona}) n'est plus disponible : elle ne peut pas reprendre.",
    },
    "resume_unanswered": {
        "en": "The patient had not answered your last message: send it again, or say something new.",
        "fr": "Le patient n'avait pas répondu à votre dernier message : renvoyez-le, ou dites autre chose.",
    },
    "hint": {"en": "Hint", "fr": "Piste"},
    "hint_title": {"en": "A repair move you could try", "fr": "Une piste de réparation à essayer"},
    "end_visit": {"en": "End the visit", "fr": "Terminer la visite"},
    "retry_here": {"en": "Try again from here", "fr": "Reprendre d'ici"},
    "retry_done": {
        "en": "Back to before your turn {turn}: the patient is back where they were then. Say it differently. "
        "(The first version is kept: the debrief compares the two.)",
        "fr": "Retour avant votre tour {turn} : la personne est revenue là où elle en était. Dites-le autrement. "
        "(La première version est gardée : le débriefing compare les deux.)",
    },
    "visit_over": {
        "en": "The visit is over. Use “Try again from here” under a reply, or start a new chat.",
        "fr": "La visite est terminée. Utilisez « Reprendre d'ici » sous une réplique, ou commencez une nouvelle conversation.",
    },
    "debrief_intro": {
        "en": "The visit is over. Here is what the patient lived through while you spoke.",
        "fr": "La visite est terminée. Voici ce que la personne a vécu pendant que vous parliez.",
    },
    "debrief_empty": {
        "en": "Nothing to debrief yet: talk with the patient first.",
        "fr": "Rien à débreffer pour l'instant : parlez d'abord avec la personne.",
    },
    "debrief_links": {
        "en": "Keep it: [HTML]({html}) · [Markdown]({md}) · [JSON]({json}) · all your sessions: [review]({review})",
        "fr": "À garder : [HTML]({html}) · [Markdown]({md}) · [JSON]({json}) · toutes vos séances : [revue]({review})",
    },
    "review_title": {"en": "Sessions and debriefs", "fr": "Séances et débriefings"},
    "review_scope_learner": {"en": "Your sessions", "fr": "Vos séances"},
    "review_scope_faculty": {"en": "Every learner's sessions", "fr": "Les séances de tous les apprenants"},
    "login_inactive": {
        "en": "This login is no longer valid (the user was removed). Log out and sign in again.",
        "fr": "Cette connexion n'est plus valide (l'utilisateur a été retiré). Déconnectez-vous puis reconnectez-vous.",
    },
    "review_in_progress": {
        "en": "visit in progress: end it to read the debrief",
        "fr": "visite en cours : terminez-la pour lire le débriefing",
    },
    "review_empty": {"en": "No session kept yet.", "fr": "Aucune séance gardée pour l'instant."},
    "review_col_learner": {"en": "Learner", "fr": "Apprenant·e"},
    "review_col_patient": {"en": "Patient", "fr": "Patient·e"},
    "review_col_updated": {"en": "Last turn (UTC)", "fr": "Dernier tour (UTC)"},
    "review_col_turns": {"en": "Turns", "fr": "Tours"},
    "review_col_debrief": {"en": "Debrief", "fr": "Débriefing"},
}


def ui_lang(browser_language: str | None) -> Lang:
    """`fr`, `fr-CA`, `fr-FR`... -> fr; anything else -> en."""
    return "fr" if (browser_language or "").lower().startswith("fr") else "en"


def t(key: str, lang: Lang, **values: str) -> str:
    return _TEXT[key][lang].format(**values)
