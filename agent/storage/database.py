"""The database: its URL, its engine, and its schema (ours and Chainlit's), for SQLite and PostgreSQL.

One database holds Chainlit's tables (users, threads, steps, elements, feedbacks: what the learner saw;
Chainlit does not create them, so we do) and our own: `alliance_sessions` (the full sessions, hidden
states included; see `agent.storage.sessions`), the faculty's labels (`agent.storage.labels`) and which thread each open
page shows (`agent.storage.tabs`).
SQLite by default (`DATA_DIR/alliance.db`); PostgreSQL when DATABASE_URL says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from agent.config import Settings

DB_FILE = "alliance.db"
SESSIONS_TABLE = "alliance_sessions"
LABELS_TABLE = "alliance_labels"
CONSENSUS_TABLE = "alliance_consensus"
TABS_TABLE = "alliance_tabs"
LOGINS_TABLE = "alliance_logins"
CHAINLIT_TABLES = ("users", "threads", "steps", "elements", "feedbacks")


class StorageError(RuntimeError):
    """The database URL or the database itself cannot be used; the message says why."""


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


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    """The engine for `url`. PostgreSQL: a pool of `pool_size` connections (+ `max_overflow` at busy times), each
    checked before use (a restarted server costs no failed request). SQLite: one file, its own pool."""
    if is_sqlite(url):
        prepare_sqlite_file(url)
        engine = create_async_engine(url)
    else:
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
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


# The faculty's labels, one row per session, turn and rater; and the label a consensus pass agreed on. They
# go with their session (a deleted session takes its labels along).
_LABELS_DDL = f"""
CREATE TABLE IF NOT EXISTS {LABELS_TABLE} (
    "thread_id" TEXT NOT NULL REFERENCES {SESSIONS_TABLE}("thread_id") ON DELETE CASCADE,
    "turn_id" INTEGER NOT NULL,
    "rater" TEXT NOT NULL,
    "label_json" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL,
    PRIMARY KEY ("thread_id", "turn_id", "rater")
);
CREATE TABLE IF NOT EXISTS {CONSENSUS_TABLE} (
    "thread_id" TEXT NOT NULL REFERENCES {SESSIONS_TABLE}("thread_id") ON DELETE CASCADE,
    "turn_id" INTEGER NOT NULL,
    "label_json" TEXT NOT NULL,
    "decided_by" TEXT NOT NULL,
    "decided_at" TEXT NOT NULL,
    PRIMARY KEY ("thread_id", "turn_id")
);
"""


# Which thread each open page shows, for the process that takes a page over (`agent.storage.tabs`). Not linked to
# `threads`: a page is recorded at its chat start, before Chainlit writes its thread.
_TABS_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABS_TABLE} (
    "page_id" TEXT PRIMARY KEY,
    "thread_id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABS_TABLE}_updated ON {TABS_TABLE} ("updated_at");
"""


# Login generations: a logout ends every token of the user, in every process (`agent.storage.logins`).
_LOGINS_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOGINS_TABLE} (
    "identifier" TEXT PRIMARY KEY,
    "generation" INTEGER NOT NULL
);
"""


def schema_statements(dialect: str) -> list[str]:
    """The DDL, one statement each, for `sqlite` or `postgresql`."""
    types = {"sqlite": _SQLITE, "postgresql": _POSTGRES}.get(dialect)
    if types is None:
        raise StorageError(f"no schema for the {dialect} database: use SQLite or PostgreSQL")
    ddl = _CHAINLIT_DDL.format(t=types) + _SESSIONS_DDL + _LABELS_DDL + _TABS_DDL + _LOGINS_DDL
    return [statement.strip() for statement in ddl.split(";") if statement.strip()]


async def create_schema(engine: AsyncEngine) -> None:
    """Create every table and index that is missing; leave the rest alone. Safe to run on every start."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several app processes starting at once: PostgreSQL's CREATE ... IF NOT EXISTS is not safe against a
            # concurrent one (a duplicate pg_type row), so the schema is made by one process at a time.
            await conn.execute(text("SELECT pg_advisory_xact_lock(7243901)"))
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
