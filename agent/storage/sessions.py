"""Where sessions are kept: the database, its schema, and the store of full sessions.

One database holds two things. Chainlit's tables (users, threads, steps, elements,
feedbacks) keep what the learner saw; Chainlit does not create them, so we do, for SQLite
and PostgreSQL. Our own table, `alliance_sessions`, keeps the full Session (the patient's
hidden states included) keyed by the Chainlit thread id. Chainlit never reads that table,
so nothing in it can reach the browser through Chainlit's HTTP API; every read of it goes
through `SessionStore.read`, which applies the access rule.

SQLite by default (`DATA_DIR/alliance.db`); PostgreSQL when DATABASE_URL says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from agent.config import Settings
from agent.domain.session import Session
from agent.domain.visit import VisitState
from agent.storage.access import AccessDenied, Requester, can_view

log = logging.getLogger(__name__)

DB_FILE = "alliance.db"
SESSIONS_TABLE = "alliance_sessions"
CHAINLIT_TABLES = ("users", "threads", "steps", "elements", "feedbacks")


class StorageError(RuntimeError):
    """The database URL or the database itself cannot be used; the message says why."""


class StaleSession(RuntimeError):
    """The kept session changed since the saver last read or wrote it (another tab, another process).

    Nothing was written: the saver reads the row again, puts its own new turns on top, and saves that.
    """

    def __init__(self, thread_id: str, expected: int, found: int):
        super().__init__(f"thread {thread_id}: kept version {found}, expected {expected}")
        self.expected, self.found = expected, found


# --------------------------------------------------------------------------- the database URL


def database_url(settings: Settings) -> str:
    """The SQLAlchemy async URL: DATABASE_URL when set (PostgreSQL or SQLite), else the SQLite file."""
    raw = settings.database_url.get_secret_value().strip() if settings.database_url else ""
    if not raw:
        return f"sqlite+aiosqlite:///{(settings.data_dir / DB_FILE).resolve()}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        # asyncpg names libpq's `sslmode` `ssl` (same values: disable, require, verify-full...).
        query = urlencode([("ssl" if k == "sslmode" else k, v) for k, v in parse_qsl(parts.query)])
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, query, parts.fragment))
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return "sqlite+aiosqlite" + raw[len(parts.scheme) :]  # urlunsplit would drop the empty host of sqlite:///
    raise StorageError(f"DATABASE_URL must be postgresql://... or sqlite:///...; got a {scheme or 'schemeless'} URL")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def _set_sqlite_pragmas(dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer; busy_timeout: writers queue instead of failing;
    # foreign keys: the same integrity as PostgreSQL.
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def prepare_sqlite_file(url: str) -> None:
    """Create the folder and an empty database file readable by the owner only (it holds conversations)."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process made it first
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def configure_engine(engine: AsyncEngine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)


def make_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        prepare_sqlite_file(url)
    engine = create_async_engine(url)
    configure_engine(engine)
    return engine


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class _Types:
    uuid: str
    json: str
    text_array: str
    thread_id_check: str


_SQLITE = _Types(
    uuid="TEXT",
    json="TEXT",  # JSON as text: Chainlit writes json.dumps() strings
    text_array="TEXT",  # tags as a JSON list (see AllianceDataLayer)
    # Chainlit splices thread ids into one SQL string; PostgreSQL's UUID type refuses anything else, this does here.
    thread_id_check=""" CHECK (length("id") = 36 AND "id" NOT GLOB '*[^0-9a-fA-F-]*')""",
)
_POSTGRES = _Types(uuid="UUID", json="JSONB", text_array="TEXT[]", thread_id_check="")

# The columns Chainlit's SQLAlchemyDataLayer (2.12) reads and writes: every key of a step,
# element or feedback dict it inserts must have a column, or the insert fails (and Chainlit
# only logs it).
_CHAINLIT_DDL = """
CREATE TABLE IF NOT EXISTS users (
    "id" {t.uuid} PRIMARY KEY,
    "identifier" TEXT NOT NULL UNIQUE,
    "metadata" {t.json} NOT NULL,
    "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" {t.uuid} PRIMARY KEY{t.thread_id_check},
    "createdAt" TEXT,
    "name" TEXT,
    "userId" {t.uuid} REFERENCES users("id") ON DELETE CASCADE,
    "userIdentifier" TEXT,
    "tags" {t.text_array},
    "metadata" {t.json}
);
CREATE TABLE IF NOT EXISTS steps (
    "id" {t.uuid} PRIMARY KEY,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "threadId" {t.uuid} NOT NULL REFERENCES threads("id") ON DELETE CASCADE,
    "parentId" {t.uuid},
    "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN,
    "metadata" {t.json},
    "tags" {t.text_array},
    "input" TEXT,
    "output" TEXT,
    "createdAt" TEXT,
    "command" TEXT,
    "modes" {t.json},
    "start" TEXT,
    "end" TEXT,
    "generation" {t.json},
    "showInput" TEXT,
    "language" TEXT,
    "indent" INT,
    "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN
);
CREATE TABLE IF NOT EXISTS elements (
    "id" {t.uuid} PRIMARY KEY,
    "threadId" {t.uuid} REFERENCES threads("id") ON DELETE CASCADE,
    "type" TEXT,
    "url" TEXT,
    "chainlitKey" TEXT,
    "name" TEXT NOT NULL,
    "display" TEXT,
    "objectKey" TEXT,
    "size" TEXT,
    "page" INT,
    "language" TEXT,
    "forId" {t.uuid},
    "mime" TEXT,
    "props" {t.json},
    "autoPlay" BOOLEAN,
    "playerConfig" {t.json}
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" {t.uuid} PRIMARY KEY,
    "forId" {t.uuid} NOT NULL,
    "threadId" {t.uuid} REFERENCES threads("id") ON DELETE CASCADE,
    "value" INT NOT NULL,
    "comment" TEXT
);
CREATE INDEX IF NOT EXISTS threads_user_id ON threads ("userId");
CREATE INDEX IF NOT EXISTS steps_thread_id ON steps ("threadId");
CREATE INDEX IF NOT EXISTS elements_thread_id ON elements ("threadId");
CREATE INDEX IF NOT EXISTS feedbacks_for_id ON feedbacks ("forId");
"""

# Ours. Not linked to `threads` by a foreign key: the learner's first words are kept even
# if Chainlit has not written its thread yet (or failed to).
_SESSIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SESSIONS_TABLE} (
    "thread_id" TEXT PRIMARY KEY,
    "owner" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "persona_id" TEXT NOT NULL,
    "session_json" TEXT NOT NULL,
    "view_json" TEXT NOT NULL,
    "created_at" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS {SESSIONS_TABLE}_owner ON {SESSIONS_TABLE} ("owner");
CREATE INDEX IF NOT EXISTS {SESSIONS_TABLE}_session_id ON {SESSIONS_TABLE} ("session_id");
"""


def schema_statements(dialect: str) -> list[str]:
    """The DDL, one statement each, for `sqlite` or `postgresql`."""
    types = {"sqlite": _SQLITE, "postgresql": _POSTGRES}.get(dialect)
    if types is None:
        raise StorageError(f"no schema for the {dialect} database: use SQLite or PostgreSQL")
    ddl = _CHAINLIT_DDL.format(t=types) + _SESSIONS_DDL
    return [statement.strip() for statement in ddl.split(";") if statement.strip()]


async def create_schema(engine: AsyncEngine) -> None:
    """Create every table and index that is missing; leave the rest alone. Safe to run on every start."""
    async with engine.begin() as conn:
        for statement in schema_statements(engine.dialect.name):
            await conn.execute(text(statement))
        await _add_version_column(conn)


async def _add_version_column(conn: AsyncConnection) -> None:
    """Databases made before saves were versioned get the column (every kept row starts at version 1)."""
    if conn.dialect.name == "sqlite":
        columns = {row[1] for row in (await conn.execute(text(f"PRAGMA table_info({SESSIONS_TABLE})"))).all()}
        if "version" in columns:
            return
        alter = f'ALTER TABLE {SESSIONS_TABLE} ADD COLUMN "version" INTEGER NOT NULL DEFAULT 1'
    else:
        alter = f'ALTER TABLE {SESSIONS_TABLE} ADD COLUMN IF NOT EXISTS "version" INTEGER NOT NULL DEFAULT 1'
    await conn.execute(text(alter))


class SchemaGuard:
    """Runs `create_schema` once per engine, on first use, however many tasks ask at once."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._done = False
        self._lock: asyncio.Lock | None = None

    async def ensure(self) -> None:
        if self._done:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._done:
                await create_schema(self.engine)
                self._done = True


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
