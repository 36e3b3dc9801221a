"""The faculty's agreed labels as eval items (`evals/datasets/` format, see `agent.eval.dataset`), so that
`alliance eval` and the gate can score the monitor on real sessions.

One item per agreed turn: the turns before it as context (the last `CONTEXT_TURNS`), the turn itself, its label
as `gold_label`, `rupture`/`repair` filled as the gold sets fill them, the evidence span, and a `provenance`
(session, raters, how the label was agreed, the date of the export). The learner's login is added only when
asked (`with_learner`): an exported dataset leaves the class, the learner's identity need not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.domain.annotation import RUPTURE_LABELS, TurnAnnotation
from agent.domain.session import Session
from agent.eval.rater_agreement import agreed_labels

CONTEXT_TURNS = 4


@dataclass(frozen=True)
class LabelledSession:
    """One kept session with its labels, as the store gives them."""

    thread_id: str
    learner: str
    session: Session
    ratings: dict[str, dict[int, TurnAnnotation]]
    consensus: dict[int, TurnAnnotation]


def export_items(
    labelled: list[LabelledSession], consensus_only: bool = False, with_learner: bool = False
) -> list[dict[str, Any]]:
    """The agreed labels of these sessions as eval items (JSON-ready dicts), session by session, turn by turn."""
    date = datetime.now(UTC).date().isoformat()
    items: list[dict[str, Any]] = []
    for each in labelled:
        ratings = {rater: {t: a.label for t, a in given.items()} for rater, given in each.ratings.items()}
        agreed = agreed_labels(ratings, {t: a.label for t, a in each.consensus.items()}, consensus_only)
        turns = {turn.id: turn for turn in each.session.turns}
        for turn_id in sorted(t for t in agreed if isinstance(t, int) and t in turns):
            turn, label = turns[turn_id], agreed[turn_id]
            source = each.consensus.get(turn_id) or next(g[turn_id] for g in each.ratings.values() if turn_id in g)
            before = [t for t in each.session.turns if t.id < turn_id][-CONTEXT_TURNS:]
            item: dict[str, Any] = {
                "id": f"label-{each.thread_id[:8]}-{turn_id:03d}",
                "lang": each.session.language,
                "context": [{"speaker": t.speaker.value, "text": t.text} for t in before],
                "speaker": turn.speaker.value,
                "text": turn.text,
                "gold_label": label,
                "rupture": label if label in RUPTURE_LABELS else None,
                "repair": [] if label in RUPTURE_LABELS or label == "none" else [label],
                "subtype": None,
                "party": source.party.value if source.party else None,
                "evidence": source.evidence or turn.text,
                "provenance": {
                    "session": each.thread_id,
                    "raters": sorted(r for r, given in each.ratings.items() if turn_id in given),
                    "agreed": "consensus" if turn_id in each.consensus else "unanimous",
                    "date": date,
                },
            }
            if with_learner:
                item["provenance"]["learner"] = each.learner
            items.append(item)
    return items
