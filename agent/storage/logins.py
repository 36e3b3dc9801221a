"""Login generations: one counter per user, kept in the database, so that a logout ends every token of
that user at once, in every process that serves the app.

Each login token carries the generation it was issued under; a token whose generation is no longer the
user's is refused. A logout bumps the counter. (A removed user, or a changed password, is told by the
users file itself: see `Account.fingerprint`.) The table is ours, created on first use, beside
Chainlit's tables and the kept sessions, in SQLite or PostgreSQL alike.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LOGINS_TABLE = "alliance_logins"


class LoginGenerations:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._ready = False
        self._lock: asyncio.Lock | None = None

    async def _ensure(self) -> None:
        if self._ready:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._ready:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        text(
                            f"CREATE TABLE IF NOT EXISTS {LOGINS_TABLE} "
                            '("identifier" TEXT PRIMARY KEY, "generation" INTEGER NOT NULL)'
                        )
                    )
                self._ready = True

    async def current(self, identifier: str) -> int:
        """The user's generation now: 0 until their first logout."""
        await self._ensure()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f'SELECT "generation" FROM {LOGINS_TABLE} WHERE "identifier" = :name'), {"name": identifier}
                )
            ).first()
        return int(row[0]) if row is not None else 0

    async def bump(self, identifier: str) -> int:
        """End every token issued so far to this user; returns the new generation."""
        await self._ensure()
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
