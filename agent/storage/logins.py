"""Login generations: one counter per user, kept in the database, so that a logout ends every token of
that user at once, in every process that serves the app.

Each login token carries the generation it was issued under; a token whose generation is no longer the
user's is refused. A logout bumps the counter. (A removed user, or a changed password, is told by the
users file itself: see `Account.fingerprint`.) The table is part of the schema (`agent.storage.database`), beside
Chainlit's tables and the kept sessions, in SQLite or PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.storage.database import LOGINS_TABLE, SchemaGuard


class LoginGenerations:
    def __init__(self, engine: AsyncEngine, guard: SchemaGuard | None = None):
        self.engine = engine
        self._guard = guard or SchemaGuard(engine)  # the table is part of the schema (agent.storage.database)

    async def current(self, identifier: str) -> int:
        """The user's generation now: 0 until their first logout."""
        await self._guard.ensure()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f'SELECT "generation" FROM {LOGINS_TABLE} WHERE "identifier" = :name'), {"name": identifier}
                )
            ).first()
        return int(row[0]) if row is not None else 0

    async def bump(self, identifier: str) -> int:
        """End every token issued so far to this user; returns the new generation."""
        await self._guard.ensure()
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f'INSERT INTO {LOGINS_TABLE} ("identifier", "generation") VALUES (:name, 1) '
                    f'ON CONFLICT ("identifier") DO UPDATE SET "generation" = {LOGINS_TABLE}."generation" + 1'
                ),
                {"name": identifier},
            )
            row = (
                await conn.execute(
                    text(f'SELECT "generation" FROM {LOGINS_TABLE} WHERE "identifier" = :name'), {"name": identifier}
                )
            ).one()
        return int(row[0])
