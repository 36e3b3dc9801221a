"""Communicative acts: what a sentence does, before any reading of the alliance (issue 13, item 1a).

One act per sentence. The acts are general, so real dialogue data with behaviour codes (MISC/MITI,
counselling strategies) can train them; the inventory and the source mappings are in
``evals/DATA.md``. The alliance layer reads acts in context: the same act is a repair after a
rupture marker and ordinary talk otherwise. ``ACT_ARTICLE_LINKS`` says, for the acts that have one,
which notion of the article's Tables I-III (``shared/seed``) the act can carry and when.

Import these from `agent.domain.taxonomy`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent.domain.labels import Label, Lang, MetacommFunction, RepairPrinciple, RuptureType, _l


class CommunicativeAct(StrEnum):
    open_question = "open_question"
    closed_question = "closed_question"
    simple_reflection = "simple_reflection"
    complex_reflection = "complex_reflection"
    validation = "validation"
    summary_check = "summary_check"
    metacommunication = "metacommunication"
    information = "information"
    advice_directive = "advice_directive"
    self_disclosure = "self_disclosure"
    agreement = "agreement"
    disagreement = "disagreement"
    minimal_reply = "minimal_reply"
    topic_shift = "topic_shift"
    social = "social"
    other = "other"


_A = CommunicativeAct

ACTS: dict[CommunicativeAct, Label] = {
    _A.open_question: _l(
        "open_question",
        "Question ouverte",
        "Open question",
        "Invite une réponse dans les mots de l'autre (quoi, comment, pourquoi, racontez-moi…).",
        "Invites an answer in the other's own words (what, how, why, tell me…).",
    ),
    _A.closed_question: _l(
        "closed_question",
        "Question fermée",
        "Closed question",
        "Demande un oui ou un non, un chiffre ou un choix.",
        "Asks for a yes or no, a number or a choice.",
    ),
    _A.simple_reflection: _l(
        "simple_reflection",
        "Reflet simple",
        "Simple reflection",
        "Reprend ou paraphrase ce que l'autre a dit, sans y ajouter beaucoup.",
        "Restates or paraphrases what the other said, adding little.",
    ),
    _A.complex_reflection: _l(
        "complex_reflection",
        "Reflet complexe",
        "Complex reflection",
        "Reflet qui ajoute du sens ou nomme un sentiment, un besoin ou une valeur.",
        "A reflection that adds meaning or names a feeling, need or value.",
    ),
    _A.validation: _l(
        "validation",
        "Validation",
        "Validation",
        "Reconnaît, soutient, normalise ; exprime de l'intérêt ou de la compassion.",
        "Affirms, supports, normalises; expresses care or compassion.",
    ),
    _A.summary_check: _l(
        "summary_check",
        "Vérification / résumé",
        "Summary / check",
        "Rassemble ce qui a été dit, ou vérifie comment une chose a été comprise.",
        "Gathers what was said, or checks how something was understood.",
    ),
    _A.metacommunication: _l(
        "metacommunication",
        "Métacommunication",
        "Metacommunication",
        "Parle de la relation ou du déroulement de l'échange : rôles, façon de se parler, autonomie.",
        "Talks about the relationship or the process itself: roles, how the talk is going, autonomy.",
    ),
    _A.information: _l(
        "information",
        "Information",
        "Information",
        "Donne des faits, des résultats, des explications ou une justification.",
        "Gives facts, results, explanations or a rationale.",
    ),
    _A.advice_directive: _l(
        "advice_directive",
        "Conseil / directive",
        "Advice / directive",
        "Conseille, dirige, met en garde ou planifie, avec ou sans permission.",
        "Advises, directs, warns or plans, with or without permission.",
    ),
    _A.self_disclosure: _l(
        "self_disclosure",
        "Dévoilement de soi",
        "Self-disclosure",
        "Partage sa propre expérience, ses émotions, ses intentions ou ses raisons.",
        "Shares one's own experience, feelings, intentions or reasons.",
    ),
    _A.agreement: _l(
        "agreement",
        "Accord",
        "Agreement",
        "Se dit d'accord avec le point de vue ou la proposition de l'autre, ou l'accepte.",
        "Agrees with or accepts the other's view or proposal.",
    ),
    _A.disagreement: _l(
        "disagreement",
        "Désaccord / critique",
        "Disagreement / criticism",
        "Exprime un désaccord, critique, argumente ou confronte.",
        "Disagrees, criticises, argues or confronts.",
    ),
    _A.minimal_reply: _l(
        "minimal_reply",
        "Réponse minimale",
        "Minimal reply",
        "Acquiescement bref ou réponse minimale (« ok », « ouais », « je sais pas »).",
        "A backchannel or minimal answer (“ok”, “yeah”, “I guess”).",
    ),
    _A.topic_shift: _l(
        "topic_shift",
        "Changement de sujet",
        "Topic shift",
        "S'éloigne du sujet en cours.",
        "Moves away from the current topic.",
    ),
    _A.social: _l(
        "social",
        "Social",
        "Social",
        "Salutation, remerciement, prise de congé, politesse.",
        "Greeting, thanks, leave-taking, pleasantries.",
    ),
    _A.other: _l(
        "other",
        "Autre",
        "Other",
        "Tout le reste (hésitations, fragments, hors sujet).",
        "Anything else (fillers, fragments, off-task).",
    ),
}


@dataclass(frozen=True)
class ArticleLink:
    """An act can carry one of the article's notions (Tables I-III), under a condition.

    ``notion`` is a taxonomy id: a rupture type (Table I), a rupture marker (Table II), a repair
    principle or a metacommunication function (Table III). The condition is the alliance layer's
    job; the act alone never makes a rupture or a repair.
    """

    table: str  # "I", "II" or "III"
    notion: str
    when_fr: str
    when_en: str

    def when(self, lang: Lang) -> str:
        return self.when_fr if lang == "fr" else self.when_en


_OPEN_FR, _OPEN_EN = "quand une rupture est ouverte", "when a rupture is open"
_W, _C = RuptureType.withdrawal.value, RuptureType.confrontation.value
_META = RepairPrinciple.metacommunication.value
_F = MetacommFunction

ACT_ARTICLE_LINKS: dict[CommunicativeAct, tuple[ArticleLink, ...]] = {
    _A.open_question: (
        ArticleLink(
            "III",
            _F.exploratory.value,
            "quand elle porte sur la relation, les buts ou les tâches, " + _OPEN_FR,
            "when it bears on the relationship, goals or tasks, " + _OPEN_EN,
        ),
        ArticleLink(
            "III",
            RepairPrinciple.explore_perspectives.value,
            "quand elle explore la vision du patient des buts, tâches et rôles",
            "when it explores the patient's view of goals, tasks and roles",
        ),
    ),
    _A.complex_reflection: (
        ArticleLink(
            "III",
            _F.emotional.value,
            "quand il nomme une émotion présente dans l'échange, " + _OPEN_FR,
            "when it names a feeling present in the exchange, " + _OPEN_EN,
        ),
    ),
    _A.validation: (
        ArticleLink(
            "III",
            _F.emotional.value,
            "quand elle porte sur la tension, " + _OPEN_FR,
            "when it bears on the tension, " + _OPEN_EN,
        ),
    ),
    _A.summary_check: (
        ArticleLink("III", _F.clarifying.value, "quand elle vise un malentendu", "when it targets a misunderstanding"),
    ),
    _A.metacommunication: (
        ArticleLink("III", _META, "toujours (principe de métacommunication)", "always (metacommunication principle)"),
        ArticleLink(
            "III",
            _F.reflective.value,
            "quand elle nomme la dynamique relationnelle",
            "when it names the relational dynamic",
        ),
    ),
    _A.advice_directive: (
        ArticleLink(
            "II",
            "power_struggle",
            "clinicien : quand elle s'impose contre la vision exprimée du patient",
            "clinician: when it imposes over the patient's stated view",
        ),
    ),
    _A.agreement: (
        ArticleLink(
            "II",
            "surface_compliance",
            "accord soudain et de surface après une tension (retrait)",
            "sudden surface agreement after a tension (withdrawal)",
        ),
    ),
    _A.disagreement: (
        ArticleLink("I", _C, "toujours un candidat à la confrontation", "always a confrontation candidate"),
        ArticleLink("II", "marked_disagreement", "désaccord marqué", "marked disagreement"),
        ArticleLink("II", "complaints", "plainte sur le clinicien ou les soins", "complaint about clinician or care"),
    ),
    _A.minimal_reply: (
        ArticleLink(
            "I", _W, "en contexte seulement (après une question ouverte)", "in context only (after an open question)"
        ),
        ArticleLink("II", "lowered_engagement", "baisse d'engagement en contexte", "lowered engagement in context"),
    ),
    _A.topic_shift: (
        ArticleLink("II", "avoidance", "quand il évite un sujet chargé", "when it avoids a charged topic"),
    ),
}


def act_label(value: str) -> Label:
    """The label of a communicative act id."""
    return ACTS[CommunicativeAct(value)]
