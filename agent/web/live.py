"""The visits open in this process, one per thread, shared by every tab that shows it.

Two tabs on one thread once kept two copies of the visit and saved over each other: turns were lost,
and a second tab could undo "End the visit". Now a tab that opens a thread already open here joins the
same `LiveVisit`: one session, one visit state, one lock that lets one learner turn (or end, or retry)
run at a time, whichever tab sent it. Across processes, every save names the version it builds on
(`SessionStore.save(expected_version=...)`); a save that finds the row moved on reconciles (see
`agent.domain.reconcile`) and saves again, so nothing is overwritten there either.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field

from agent.conversation import Conversation
from agent.domain.reconcile import reconcile
from agent.domain.session import Session
from agent.domain.visit import VisitState
from agent.storage.access import Requester
from agent.storage.sessions import SessionStore, StaleSession, with_learner_turn

log = logging.getLogger(__name__)

_MAX_RECONCILE = 5  # a save that keeps losing the race this often is a fault, not contention


@dataclass(eq=False)
class LiveVisit:
    thread_id: str
    owner: Requester
    conversation: Conversation
    visit: VisitState
    version: int = 0  # the kept row's version this process last read or wrote; 0: none kept yet
    turn_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one learner turn, end or retry at a time
    _save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def adopt(self, session: Session, view: VisitState) -> None:
        """Go on from a reconciled state: the same patient, backend and evaluator around it."""
        self.conversation = self.conversation.on_session(session)
        self.visit = view

    async def sync(self, store: SessionStore) -> bool:
        """Catch up with a save made elsewhere (another process) before a turn; True if there was one."""
        async with self._save_lock:
            kept = await store.read(self.thread_id, self.owner)
            if kept is None or kept.version == self.version:
                return False
            session, view = reconcile(kept.session, kept.view, self.conversation.session, self.visit)
            self.adopt(session, view)
            self.version = kept.version
            return True

    async def save(self, store: SessionStore, learner_text: str | None = None, message_id: str | None = None) -> bool:
        """Keep the visit; with `learner_text`, a copy with the learner's next turn (kept before the patient is
        asked), and with `message_id` the chat message that turn is (so that a process taking the page over knows
        the message is kept, by its id). True if another writer's save had to be reconciled first (this tab's
        screen lacks its turns)."""
        async with self._save_lock:
            reconciled = False
            for _ in range(_MAX_RECONCILE):
                session, visit = self.conversation.session, self.visit
                if learner_text is not None:
                    session = with_learner_turn(session, learner_text)
                    if message_id:
                        turns = {**visit.message_turns, message_id: session.turns[-1].id}
                        visit = visit.model_copy(update={"message_turns": turns})
                if not session.turns:
                    return reconciled
                try:
                    self.version = await store.save(
                        self.thread_id, self.owner.identifier, session, visit, expected_version=self.version
                    )
                    return reconciled
                except StaleSession:
                    kept = await store.read(self.thread_id, self.owner)
                    if kept is None:  # deleted meanwhile: ours becomes the kept row again
                        self.version = 0
                        continue
                    self.adopt(*reconcile(kept.session, kept.view, self.conversation.session, self.visit))
                    self.version, reconciled = kept.version, True
            raise RuntimeError(f"thread {self.thread_id}: the kept session kept changing under this save")


class LiveVisits:
    """Thread id → the visit open in this process. Weak: a visit goes once no tab holds it."""

    def __init__(self) -> None:
        self._visits: weakref.WeakValueDictionary[str, LiveVisit] = weakref.WeakValueDictionary()

    def get(self, thread_id: str) -> LiveVisit | None:
        return self._visits.get(thread_id)

    def open(self, live: LiveVisit) -> LiveVisit:
        """Register `live`, unless its thread is already open here: then the one already open."""
        existing = self._visits.get(live.thread_id)
        if existing is not None:
            return existing
        self._visits[live.thread_id] = live
        return live


LIVE = LiveVisits()
