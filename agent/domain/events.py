"""Alliance events: what the evaluator saw in a turn, as typed data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.domain.taxonomy import SUBTYPES, EventKind, MetacommFunction, RepairPrinciple, RuptureType, Speaker


class AllianceEvent(BaseModel):
    """One flag on one turn: a rupture marker, a repair attempt or a missed repair."""

    model_config = ConfigDict(extra="forbid")

    turn: int = Field(ge=0, description="Id of the turn the event is about.")
    speaker: Speaker = Field(description="Who spoke that turn.")
    kind: EventKind
    rupture: RuptureType | None = Field(None, description="For rupture markers and missed repairs.")
    function: MetacommFunction | None = Field(None, description="For metacommunication repair attempts.")
    principle: RepairPrinciple | None = Field(None, description="For repair attempts.")
    subtype: str | None = Field(None, description="A finer 3RS-style subtype id.")
    evidence: str = Field(description="A verbatim quote from the turn (empty for a missed repair).")
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field("", description="One line, in the session's language.")
    source: str = Field("detector", description="detector | judge | rule")
    tentative: bool = Field(
        False, description="Below the threshold chosen on dev for precision: shown muted, as a possibility."
    )

    @model_validator(mode="after")
    def _consistent(self) -> AllianceEvent:
        if self.kind is EventKind.rupture_marker and self.rupture is None:
            raise ValueError("a rupture marker needs a rupture type")
        if self.kind is EventKind.repair_attempt and self.function is None and self.principle is None:
            raise ValueError("a repair attempt needs a function or a principle")
        if self.kind is EventKind.repair_attempt and self.function is not None and self.principle is None:
            self.principle = RepairPrinciple.metacommunication
        if self.subtype is not None and self.subtype not in SUBTYPES:
            raise ValueError(f"unknown subtype {self.subtype!r}")
        return self

    def label(self) -> str:
        """The single most specific label: function, principle or rupture type."""
        if self.function is not None:
            return self.function.value
        if self.principle is not None:
            return self.principle.value
        return self.rupture.value if self.rupture is not None else self.kind.value


def validate_evidence(event: AllianceEvent, turn_text: str) -> AllianceEvent | None:
    """Keep an event only if its evidence is a quote of the turn; snap near-misses to the text.

    LLM judges often change case, quotes or spacing; a quote that matches after normalising
    those is re-anchored on the turn's exact characters. Anything else is dropped.
    """
    if event.kind is EventKind.missed_repair:
        return event
    quote = event.evidence.strip().strip("\"'«»“”").strip()
    if not quote:
        return None
    if quote in turn_text:
        return event.model_copy(update={"evidence": quote})
    index = _normalised_find(turn_text, quote)
    if index is None:
        return None
    start, end = index
    return event.model_copy(update={"evidence": turn_text[start:end]})


def quote_span(text: str, quote: str) -> str | None:
    """The span of `text` a quote names, as `text` writes it (case, quote marks and spacing aside); None if absent."""
    if quote in text:
        return quote
    found = _normalised_find(text, quote)
    return text[found[0] : found[1]] if found else None


_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " "})


def _fold(text: str) -> tuple[str, list[int]]:
    """Lower-case, straight quotes, one space for any run of whitespace, none beside a quote mark
    (French puts spaces inside « guillemets »); returns the folded text and each char's origin."""
    kept: list[tuple[str, int]] = []
    for i, ch in enumerate(text.translate(_FOLD).lower()):
        if ch.isspace():
            if kept and kept[-1][0] == " ":
                continue
            ch = " "
        kept.append((ch, i))
    dropped = {
        k
        for k, (ch, _) in enumerate(kept)
        if ch == " " and ((k > 0 and kept[k - 1][0] == '"') or (k + 1 < len(kept) and kept[k + 1][0] == '"'))
    }
    kept = [item for k, item in enumerate(kept) if k not in dropped]
    return "".join(ch for ch, _ in kept), [i for _, i in kept]


def _normalised_find(text: str, quote: str) -> tuple[int, int] | None:
    """Case-, quote- and whitespace-insensitive find, returning a span of the original text."""
    folded_text, positions = _fold(text)
    folded_quote = _fold(quote.strip())[0].strip()
    at = folded_text.find(folded_quote)
    if at < 0 or not folded_quote:
        return None
    return positions[at], positions[at + len(folded_quote) - 1] + 1
