"""The faculty's labels on kept sessions, and the consensus labels: read and written by faculty only.

Each rater keeps one label per turn (`TurnAnnotation`); saving a rater's labels of a session replaces that
rater's earlier ones, in one transaction. A consensus pass records the agreed label of a turn, with who decided.
Learners can neither read nor write labels (AccessDenied): their own sessions' labels are their teachers' work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.domain.annotation import TurnAnnotation
from agent.storage.access import AccessDenied, Requester
from agent.storage.database import CONSENSUS_TABLE, LABELS_TABLE, SchemaGuard

Ratings = dict[str, dict[int, TurnAnnotation]]


def _faculty(requester: Requester) -> None:
    if requester.role != "faculty":
        raise AccessDenied(f"{requester.identifier} may not read or write labels (faculty only)")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LabelStore:
    """Labels and consensus labels, keyed by the Chainlit thread of the kept session."""

    def __init__(self, engine: AsyncEngine, guard: SchemaGuard | None = None):
        self.engine = engine
        self._guard = guard or SchemaGuard(engine)

    async def save(self, thread_id: str, requester: Requester, labels: Sequence[TurnAnnotation]) -> None:
        """The requester's labels of this session, replacing theirs of before (a turn left out: unlabelled)."""
        _faculty(requester)
        await self._guard.ensure()
        rows = [
            {"thread": thread_id, "turn": a.turn_id, "rater": requester.identifier, "json": a.model_dump_json()}
            for a in labels
        ]
        async with self.engine.begin() as conn:
            await conn.execute(
                text(f'DELETE FROM {LABELS_TABLE} WHERE "thread_id" = :thread AND "rater" = :rater'),
                {"thread": thread_id, "rater": requester.identifier},
            )
            if rows:
                now = _now()
                await conn.execute(
                    text(
                        f"""INSERT INTO {LABELS_TABLE} ("thread_id", "turn_id", "rater", "label_json", "updated_at")
                        VALUES (:thread, :turn, :rater, :json, :now)"""
                    ),
                    [{**row, "now": now} for row in rows],
                )

    async def ratings(self, thread_id: str, requester: Requester) -> Ratings:
        """Every rater's labels of this session: rater -> turn -> label."""
        _faculty(requester)
        await self._guard.ensure()
        query = f'SELECT "rater", "label_json" FROM {LABELS_TABLE} WHERE "thread_id" = :thread ORDER BY "turn_id"'
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(query), {"thread": thread_id})).all()
        out: Ratings = {}
        for rater, payload in rows:
            label = TurnAnnotation.model_validate_json(payload)
            out.setdefault(str(rater), {})[label.turn_id] = label
        return out

    async def decide(self, thread_id: str, requester: Requester, label: TurnAnnotation) -> None:
        """Record the consensus label of one turn (replacing an earlier decision)."""
        _faculty(requester)
        await self._guard.ensure()
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f"""INSERT INTO {CONSENSUS_TABLE} ("thread_id", "turn_id", "label_json", "decided_by", "decided_at")
                    VALUES (:thread, :turn, :json, :who, :now)
                    ON CONFLICT ("thread_id", "turn_id") DO UPDATE SET "label_json" = EXCLUDED."label_json",
                        "decided_by" = EXCLUDED."decided_by", "decided_at" = EXCLUDED."decided_at"
                    """
                ),
                {
                    "thread": thread_id,
                    "turn": label.turn_id,
                    "json": label.model_dump_json(),
                    "who": requester.identifier,
                    "now": _now(),
                },
            )

    async def consensus(self, thread_id: str, requester: Requester) -> dict[int, TurnAnnotation]:
        """The consensus labels of this session, by turn."""
        _faculty(requester)
        await self._guard.ensure()
        query = f'SELECT "label_json" FROM {CONSENSUS_TABLE} WHERE "thread_id" = :thread ORDER BY "turn_id"'
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(query), {"thread": thread_id})).all()
        labels = [TurnAnnotation.model_validate_json(payload) for (payload,) in rows]
        return {label.turn_id: label for label in labels}

    async def labelled_threads(self, requester: Requester) -> list[str]:
        """The sessions someone labelled or decided on, oldest label first."""
        _faculty(requester)
        await self._guard.ensure()
        query = f"""SELECT "thread_id", MIN("updated_at") AS first FROM (
                SELECT "thread_id", "updated_at" FROM {LABELS_TABLE}
                UNION ALL SELECT "thread_id", "decided_at" FROM {CONSENSUS_TABLE}
            ) AS every_label GROUP BY "thread_id" ORDER BY first"""
        async with self.engine.connect() as conn:
            return [str(row[0]) for row in (await conn.execute(text(query))).all()]
