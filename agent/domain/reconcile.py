"""Two writers, one visit: put this writer's new turns on top of what the other kept, losing none.

Used when a save finds that the kept session moved on since this writer last read it (a second tab
served by another process). The kept state wins where the two agree; this writer's turns that the
kept state lacks go on top of it, or, where that would change history (the other writer rewound,
or ended the visit), into a kept branch that faculty see in the debrief.
"""

from __future__ import annotations

from agent.domain.session import Session, Turn
from agent.domain.visit import VisitState


def _common_prefix(kept: list[Turn], ours: list[Turn]) -> int:
    count = 0
    for a, b in zip(kept, ours, strict=False):
        if a.speaker is not b.speaker or a.text != b.text:
            break
        count += 1
    return count


def reconcile(kept: Session, kept_view: VisitState, ours: Session, our_view: VisitState) -> tuple[Session, VisitState]:
    """The session and visit state to save now. Neither input is changed.

    - Same session, visit open: our turns past the shared history are appended after the kept ones, the
      other writer's included (new ids; their monitor flags are dropped: the turn ids they named are gone).
    - Our readings of the patient about the shared turns join the kept ones (issue 15).
    - Otherwise (the kept visit was ended, or one side tried again from an earlier turn): the kept state
      stays as it is and our session joins its branches, whole, when it holds turns the kept one lacks.
    """
    session = kept.model_copy(deep=True)
    view = kept_view.model_copy(deep=True)
    view.level = our_view.level or view.level
    shared = _common_prefix(kept.turns, ours.turns)
    # Our readings of the patient about the turns both sides share stay true of the kept session: kept too.
    known = {(r.turn_id, r.moment, r.at) for r in view.readings}
    view.readings += [
        r.model_copy() for r in our_view.readings if r.turn_id < shared and (r.turn_id, r.moment, r.at) not in known
    ]
    extra = ours.turns[shared:]
    if not extra:
        return session, view
    if ours.id == kept.id and not kept_view.ended:
        for turn in extra:
            moved = turn.model_copy(deep=True, update={"id": len(session.turns)})
            session.turns.append(moved)
        moved_ids = {turn.id: len(kept.turns) + i for i, turn in enumerate(extra)}
        ours_shared = {m: t for m, t in our_view.message_turns.items() if t < shared}  # the same turns on both sides
        ours_moved = {m: moved_ids[t] for m, t in our_view.message_turns.items() if t in moved_ids}
        view.message_turns = ours_shared | view.message_turns | ours_moved
        return session, view
    if all(branch.id != ours.id or len(branch.turns) < len(ours.turns) for branch in view.branches):
        view.branches = [b for b in view.branches if b.id != ours.id] + [ours.model_copy(deep=True)]
    return session, view
