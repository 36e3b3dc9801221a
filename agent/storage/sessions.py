"""The store of full sessions, one row per Chainlit thread in our own table, `alliance_sessions`.

Chainlit never reads that table, so nothing in it can reach the browser through Chainlit's HTTP API;
every read of it goes through `SessionStore.read`, which applies the access rule. The database itself
(URL, engine, schema) is `agent.storage.database`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.domain.session import Session
from agent.domain.visit import VisitState
from agent.storage.access import AccessDenied, Requester, can_view
from agent.storage.database import (
    CHAINLIT_TABLES,
    DB_FILE,
    SESSIONS_TABLE,
    SchemaGuard,
    StorageError,
    configure_engine,
    create_schema,
    database_url,
    is_sqlite,
    make_engine,
    prepare_sqlite_file,
    schema_statements,
    sqlite_path,
)

__all__ = [  # the database's names, still importable from here as before
    "CHAINLIT_TABLES",
    "DB_FILE",
    "SESSIONS_TABLE",
    "SchemaGuard",
    "SessionStore",
    "SessionSummary",
    "StaleSession",
    "StorageError",
    "StoredSession",
    "configure_engine",
    "create_schema",
    "database_url",
    "is_sqlite",
    "make_engine",
    "prepare_sqlite_file",
    "schema_statements",
    "sqlite_path",
    "with_learner_turn",
]

log = logging.getLogger(__name__)


class StaleSession(RuntimeError):
    """The kept session changed since the saver last read or wrote it (another tab, another process).

    Nothing was written: the saver reads the row again, puts its own new turns on top, and saves that.
    """

    def __init__(self, thread_id: str, expected: int, found: int):
        super().__init__(f"thread {thread_id}: kept version {found}, expected {expected}")
        self.expected, self.found = expected, found


# --------------------------------------------------------------------------- the session store


@dataclass(frozen=True)
class SessionSummary:
    """One kept session as a list shows it: no turn text, no hidden state."""

    thread_id: str
    owner: str
    persona_id: str
    updated_at: str
    turns: int
    ended: bool
    attempt: int = 1


@dataclass(frozen=True)
class StoredSession:
    thread_id: str
    owner: str
    session: Session
    view: VisitState
    updated_at: str
    version: int = 1  # what to pass as `expected_version` to save on top of this state


def with_learner_turn(session: Session, text: str) -> Session:
    """A copy of the session with the learner's next turn in it: what to keep before the patient is asked."""
    pending = session.model_copy(deep=True)
    pending.add_learner_turn(text)
    return pending


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SessionStore:
    """The full sessions, hidden states included, one row per Chainlit thread.

    Saves of one thread are serialised, and each save takes its snapshot of the session once
    it holds the lock, so a slow earlier write can never overwrite a later state.
    """

    def __init__(self, engine: AsyncEngine, guard: SchemaGuard | None = None):
        self.engine = engine
        self._guard = guard or SchemaGuard(engine)
        # Weak: a thread's lock lives while a save holds or awaits it, then goes.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock_for(self, thread_id: str) -> asyncio.Lock:
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[thread_id] = lock
        return lock

    async def save(
        self,
        thread_id: str,
        owner: str,
        session: Session,
        view: VisitState | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Insert or replace the thread's session; returns the version now kept.

        With `expected_version` (the version the saver last read or wrote), a row that has moved on since is
        left alone and StaleSession raised: two tabs or two processes never overwrite each other's turns.
        Without it, the save is unconditional (one writer: the CLI, imports). A thread kept for someone else is
        refused (AccessDenied).
        """
        await self._guard.ensure()
        async with self._lock_for(thread_id):
            now = _now()
            row = {
                "thread_id": thread_id,
                "owner": owner,
                "session_id": session.id,
                "persona_id": session.persona_id,
                "session_json": session.to_json(),
                "view_json": (view or VisitState()).to_json(),
                "created_at": now,
                "updated_at": now,
                "expected": expected_version,
            }
            guard = "" if expected_version is None else f' AND {SESSIONS_TABLE}."version" = :expected'
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    text(
                        f"""INSERT INTO {SESSIONS_TABLE}
                        ("thread_id", "owner", "session_id", "persona_id", "session_json", "view_json",
                         "created_at", "updated_at", "version")
                        VALUES (:thread_id, :owner, :session_id, :persona_id, :session_json, :view_json,
                                :created_at, :updated_at, 1)
                        ON CONFLICT ("thread_id") DO UPDATE SET
                            "session_id" = EXCLUDED."session_id", "persona_id" = EXCLUDED."persona_id",
                            "session_json" = EXCLUDED."session_json", "view_json" = EXCLUDED."view_json",
                            "updated_at" = EXCLUDED."updated_at", "version" = {SESSIONS_TABLE}."version" + 1
                        WHERE {SESSIONS_TABLE}."owner" = EXCLUDED."owner"{guard}
                        RETURNING "version"
                        """
                    ),
                    row,
                )
                saved = result.scalar()
                if saved is not None:
                    return int(saved)
                found = await conn.execute(
                    text(f'SELECT "owner", "version" FROM {SESSIONS_TABLE} WHERE "thread_id" = :thread_id'),
                    {"thread_id": thread_id},
                )
                kept = found.first()
            if kept is not None and kept[0] == owner and expected_version is not None:
                raise StaleSession(thread_id, expected_version, int(kept[1]))
            raise AccessDenied(f"thread {thread_id} is kept for another user")

    async def read(self, thread_id: str, requester: Requester) -> StoredSession | None:
        """The one way to read a kept session: None if there is none, AccessDenied if not the requester's to see."""
        await self._guard.ensure()
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    f"""SELECT "owner", "session_json", "view_json", "updated_at", "version"
                    FROM {SESSIONS_TABLE} WHERE "thread_id" = :thread_id"""
                ),
                {"thread_id": thread_id},
            )
            row = result.first()
        if row is None:
            return None
        owner, session_json, view_json, updated_at, version = row
        if not can_view(requester, owner):
            raise AccessDenied(f"{requester.identifier} may not read the session of thread {thread_id}")
        try:
            session = Session.from_json(session_json)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise StorageError(f"the kept session of thread {thread_id} cannot be read") from exc
        view = VisitState.from_json(view_json)
        return StoredSession(thread_id, owner, session, view, str(updated_at), int(version))

    async def list_visible(self, requester: Requester, limit: int = 500) -> list[SessionSummary]:
        """The kept sessions the requester may see (their own; faculty: everyone's), newest first."""
        await self._guard.ensure()
        where = "" if requester.role == "faculty" else 'WHERE "owner" = :owner'
        query = f"""SELECT "thread_id", "owner", "persona_id", "updated_at", "session_json", "view_json"
            FROM {SESSIONS_TABLE} {where} ORDER BY "updated_at" DESC LIMIT :limit"""
        params: dict[str, object] = {"limit": limit, "owner": requester.identifier}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(query), params)).all()
        summaries = []
        for thread_id, owner, persona_id, updated_at, session_json, view_json in rows:
            if can_view(requester, owner):
                turns = len(json.loads(session_json).get("turns") or [])
                view = VisitState.from_json(view_json)
                summary = SessionSummary(
                    str(thread_id), owner, persona_id, str(updated_at), turns, view.ended, view.attempt
                )
                summaries.append(summary)
        return summaries

    async def delete(self, thread_id: str) -> None:
        """Called once the caller has checked the right to delete the thread (see AllianceDataLayer)."""
        await self._guard.ensure()
        async with self.engine.begin() as conn:
            await conn.execute(text(f'DELETE FROM {SESSIONS_TABLE} WHERE "thread_id" = :id'), {"id": thread_id})
