"""Which thread each open page shows, kept in the database, so that any process can take a page over.

A Chainlit page names itself with a session id it made up when it loaded, and sends it again each time its
socket reconnects. The process that served it keeps that session in memory only. When that process is gone
(stopped, crashed, its machine lost), the page reconnects through the balancer to another process, which
has never heard of that id: Chainlit would open a new chat there, and the learner's visit would seem lost.
So the app records `page id → thread` here at the page's first kept turn, and the process that receives an
unknown page id looks it up and resumes that thread from the kept session (`agent.web.failover`).

A row says nothing about access by itself: it is read only for the user who owns it, and Chainlit's own
resume checks the thread's author again. Rows older than `KEEP` are removed as new ones are written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.storage.database import TABS_TABLE, SchemaGuard

KEEP = timedelta(days=2)  # a page left open longer than this starts a new visit on its next reconnect


class PageRecord(NamedTuple):
    thread_id: str
    owner: str


class TabThreads:
    def __init__(self, engine: AsyncEngine, guard: SchemaGuard | None = None):
        self.engine = engine
        self._guard = guard or SchemaGuard(engine)  # the table is part of the schema (agent.storage.database)

    async def remember(self, page_id: str, thread_id: str, owner: str) -> None:
        """The page `page_id` of `owner` shows `thread_id` (a later call for the same page replaces it)."""
        await self._guard.ensure()
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f'INSERT INTO {TABS_TABLE} ("page_id", "thread_id", "owner", "updated_at") '
                    "VALUES (:page, :thread, :owner, :now) "
                    'ON CONFLICT ("page_id") DO UPDATE SET "thread_id" = EXCLUDED."thread_id", '
                    '"updated_at" = EXCLUDED."updated_at" '
                    f'WHERE {TABS_TABLE}."owner" = EXCLUDED."owner"'  # another user's page id changes nothing
                ),
                {"page": page_id, "thread": thread_id, "owner": owner, "now": now.isoformat()},
            )
            await conn.execute(
                text(f'DELETE FROM {TABS_TABLE} WHERE "updated_at" < :cutoff'), {"cutoff": (now - KEEP).isoformat()}
            )

    async def page(self, page_id: str) -> PageRecord | None:
        """The thread page `page_id` showed, and its owner; None if unknown or too old. The row grants nothing by
        itself: the caller compares its owner with the user of the socket that names the page."""
        await self._guard.ensure()
        cutoff = (datetime.now(UTC) - KEEP).isoformat()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        f'SELECT "thread_id", "owner" FROM {TABS_TABLE} '
                        'WHERE "page_id" = :page AND "updated_at" >= :cutoff'
                    ),
                    {"page": page_id, "cutoff": cutoff},
                )
            ).first()
        return PageRecord(str(row[0]), str(row[1])) if row is not None else None
