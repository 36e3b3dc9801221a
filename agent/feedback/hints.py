"""Coaching hints: a repair move that fits the current rupture, in the persona's language.

Deterministic on purpose: a hint must be instant and trustworthy, so it is drawn from
moves written by the team for each rupture type, each naming its repair function.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain.events import AllianceEvent
from agent.domain.taxonomy import (
    FUNCTIONS,
    PRINCIPLES,
    EventKind,
    Lang,
    MetacommFunction,
    RepairPrinciple,
    RuptureType,
    Speaker,
)


@dataclass(frozen=True)
class Hint:
    move: str  # MetacommFunction or RepairPrinciple value
    example: str

    def render(self, lang: Lang) -> str:
        functions = {f.value for f in MetacommFunction}
        label = (
            FUNCTIONS[MetacommFunction(self.move)] if self.move in functions else PRINCIPLES[RepairPrinciple(self.move)]
        )
        return f"**{label.name(lang)}** — {label.definition(lang)}\n\n> {self.example}"


# Written for any case (no persona's details), so they fit every patient of the library.
_HINTS: dict[RuptureType | None, dict[Lang, list[Hint]]] = {
    RuptureType.withdrawal: {
        "fr": [
            Hint(
                "emotional",
                "Je remarque que vous parlez moins depuis ce que je viens de dire. Ça vous a peut-être touché ?",
            ),
            Hint("exploratory", "Qu'est-ce qui se passe pour vous, là, pendant qu'on en parle ?"),
            Hint(
                "reflective",
                "J'ai l'impression d'avoir avancé vite, sans vous laisser de place. "
                "Est-ce que c'est ce que vous avez ressenti ?",
            ),
        ],
        "en": [
            Hint("emotional", "You've gone quieter since what I just said. Did that land hard for you?"),
            Hint("exploratory", "What's going on for you right now, as we talk about this?"),
            Hint("reflective", "I think I moved fast and didn't leave you much room. Is that how it felt?"),
        ],
    },
    RuptureType.confrontation: {
        "fr": [
            Hint(
                "emotional",
                "Je vois que ça vous met en colère, et ça se comprend si vous avez l'impression "
                "qu'on ne vous écoute pas.",
            ),
            Hint(
                "clarifying",
                "Je crois que mon explication n'était pas claire. Qu'avez-vous compris de ce que je propose ?",
            ),
            Hint(
                "explore_perspectives",
                "Dites-moi ce que vous espérez de cette rencontre, et je vous dirai aussi "
                "ce que je dois évaluer de mon côté. On décide ensemble ensuite ?",
            ),
        ],
        "en": [
            Hint("emotional", "I can see you're angry, and that makes sense if you feel you're not being heard."),
            Hint("clarifying", "I think I explained that badly. What did you take from what I suggested?"),
            Hint(
                "explore_perspectives",
                "Tell me what you're hoping for from this visit, and I'll tell you what "
                "I need to assess on my side. Then we decide together?",
            ),
        ],
    },
    None: {
        "fr": [
            Hint("exploratory", "Comment vivez-vous notre échange jusqu'ici ?"),
            Hint(
                "explore_perspectives",
                "Avant d'aller plus loin : qu'est-ce qui serait le plus important pour vous aujourd'hui ?",
            ),
            Hint(
                "clarifying", "Je veux m'assurer de bien vous suivre : qu'est-ce que vous retenez de ce que j'ai dit ?"
            ),
        ],
        "en": [
            Hint("exploratory", "How is this conversation going for you so far?"),
            Hint("explore_perspectives", "Before we go further: what matters most to you today?"),
            Hint("clarifying", "I want to be sure I'm following you: what did you take from what I said?"),
        ],
    },
}


def hints_for(rupture: RuptureType | None, lang: Lang) -> tuple[Hint, ...]:
    """Every hint written for one rupture type (None: no rupture pending), in the bank's order."""
    return tuple(_HINTS[rupture][lang])


def current_rupture(events: list[AllianceEvent]) -> RuptureType | None:
    """The rupture most recently seen in the patient's turns, if no repair followed it."""
    for event in reversed(events):
        if event.kind is EventKind.repair_attempt and event.speaker is Speaker.clinician:
            return None
        if event.kind is EventKind.rupture_marker and event.speaker is Speaker.patient and event.rupture:
            return event.rupture
    return None


def hint_for(events: list[AllianceEvent], lang: Lang, index: int = 0) -> Hint:
    options = _HINTS[current_rupture(events)][lang]
    return options[index % len(options)]
