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
from agent.i18n.catalog import t


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


# Written for any case (no persona's details), so they fit every patient of the library. The repair move
# each one makes is fixed here; its words, in both languages, are the catalog's `hint.<rupture>.<n>`.
_MOVES: dict[RuptureType | None, tuple[str, ...]] = {
    RuptureType.withdrawal: ("emotional", "exploratory", "reflective"),
    RuptureType.confrontation: ("emotional", "clarifying", "explore_perspectives"),
    None: ("exploratory", "explore_perspectives", "clarifying"),
}


def _bank(rupture: RuptureType | None, lang: Lang) -> tuple[Hint, ...]:
    name = rupture.value if rupture is not None else "none"
    return tuple(Hint(move, t(f"hint.{name}.{n}", lang)) for n, move in enumerate(_MOVES[rupture], 1))


def hints_for(rupture: RuptureType | None, lang: Lang) -> tuple[Hint, ...]:
    """Every hint written for one rupture type (None: no rupture pending), in the bank's order."""
    return _bank(rupture, lang)


def current_rupture(events: list[AllianceEvent]) -> RuptureType | None:
    """The rupture most recently seen in the patient's turns, if no repair followed it."""
    for event in reversed(events):
        if event.kind is EventKind.repair_attempt and event.speaker is Speaker.clinician:
            return None
        if event.kind is EventKind.rupture_marker and event.speaker is Speaker.patient and event.rupture:
            return event.rupture
    return None


def hint_for(events: list[AllianceEvent], lang: Lang, index: int = 0) -> Hint:
    options = _bank(current_rupture(events), lang)
    return options[index % len(options)]
