"""Who is asking the patient for a visit's next reply, across processes: a claim with a lease.

In one process, a visit's turns run one at a time under its `LiveVisit.turn_lock`. Two processes serving one
visit (two devices behind the balancer, or a page taken over while its old process was still answering) each
had their own lock, so both could ask the patient at once: the same learner turn answered twice, or a turn
sent from the second device answered before the first one's reply was kept. A process now claims the visit
in the database before it asks the patient, and lets go when the reply is kept. The claim has a lease
(`LEASE`): a process that dies while answering holds nothing once its lease runs out, and one that is still
answering renews it (`renew`) well before then.

Times are UTC ISO strings with microseconds (one width: they compare as text on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.storage.database import CLAIMS_TABLE, SchemaGuard

LEASE = timedelta(seconds=20)  # renewed every third of it while the reply is written (agent.web.claim)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class AnswerClaims:
    def __init__(self, engine: AsyncEngine, guard: SchemaGuard | None = None):
        self.engine = engine
        self._guard = guard or SchemaGuard(engine)  # the table is part of the schema (agent.storage.database)

    async def claim(self, thread_id: str, holder: str, lease: timedelta = LEASE) -> bool:
        """Claim `thread_id` for `holder` until the lease runs out. True if it is ours now: it was free, its
        lease had run out, or `holder` held it already (renewed). One statement: two processes claiming at
        once cannot both win."""
        await self._guard.ensure()
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            won = (
                await conn.execute(
                    text(
                        f'INSERT INTO {CLAIMS_TABLE} ("thread_id", "holder", "until") VALUES (:thread, :holder, :until) '
                        'ON CONFLICT ("thread_id") DO UPDATE SET "holder" = EXCLUDED."holder", "until" = EXCLUDED."until" '
                        f'WHERE {CLAIMS_TABLE}."until" < :now OR {CLAIMS_TABLE}."holder" = EXCLUDED."holder" '
                        'RETURNING "holder"'
                    ),
                    {"thread": thread_id, "holder": holder, "until": _stamp(now + lease), "now": _stamp(now)},
                )
            ).first()
        return won is not None

    async def renew(self, thread_id: str, holder: str, lease: timedelta = LEASE) -> bool:
        """Push `holder`'s lease on `thread_id` back; False if the claim is no longer `holder`'s (it ran out and
        another process took it)."""
        return await self.claim(thread_id, holder, lease)

    async def release(self, thread_id: str, holder: str) -> None:
        """Let go of `thread_id` if `holder` holds it (a claim taken over meanwhile is left to its new holder)."""
        await self._guard.ensure()
        async with self.engine.begin() as conn:
            await conn.execute(
                text(f'DELETE FROM {CLAIMS_TABLE} WHERE "thread_id" = :thread AND "holder" = :holder'),
                {"thread": thread_id, "holder": holder},
            )

    async def holder(self, thread_id: str) -> str | None:
        """Who holds `thread_id` now (None: nobody, or a lease that ran out)."""
        await self._guard.ensure()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f'SELECT "holder" FROM {CLAIMS_TABLE} WHERE "thread_id" = :thread AND "until" >= :now'),
                    {"thread": thread_id, "now": _stamp(datetime.now(UTC))},
                )
            ).first()
        return str(row[0]) if row is not None else None
