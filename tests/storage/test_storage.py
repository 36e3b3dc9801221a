"""Keeping sessions: the database URL, the schema we create for Chainlit, and our session store.

Everything runs on a fresh SQLite file under tmp_path. PostgreSQL is covered by the URL
mapping and the DDL text only (no server here).
"""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from chainlit.context import ChainlitContext, context_var
from chainlit.session import HTTPSession
from chainlit.types import Pagination, ThreadFilter
from chainlit.user import User
from pydantic import SecretStr
from sqlalchemy import inspect, text

from agent.config import Settings
from agent.domain.visit import VisitState
from agent.storage.access import AccessDenied, Requester, Role
from agent.storage.database import CONSENSUS_TABLE, LABELS_TABLE, LOGINS_TABLE, TABS_TABLE
from agent.storage.sessions import (
    CHAINLIT_TABLES,
    SESSIONS_TABLE,
    SessionStore,
    StorageError,
    create_schema,
    database_url,
    make_engine,
    schema_statements,
    with_learner_turn,
)
from agent.web.datalayer import AllianceDataLayer
from tests.support.storage import DATABASES, KEPT_MARKER, POSTGRES_URL, drop_tables, make_rich_session, sqlite_tables

ALICE = Requester("alice", "learner")
BOB = Requester("bob", "learner")
PROF = Requester("prof", "faculty")

SCHEMA_TABLES = {*CHAINLIT_TABLES, SESSIONS_TABLE, LABELS_TABLE, CONSENSUS_TABLE, TABS_TABLE, LOGINS_TABLE}


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def http_context() -> None:
    """What Chainlit sets up around an HTTP call: step writes then run at once, not queued for a socket."""
    context_var.set(ChainlitContext(HTTPSession(id=str(uuid.uuid4()), client_type="webapp")))


# --------------------------------------------------------------------------- the database URL


def test_database_url_defaults_to_a_sqlite_file_in_the_data_dir(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(data_dir=tmp_path / "data")
    assert database_url(settings) == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'alliance.db').resolve()}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db.example:5432/alliance", "postgresql+asyncpg://u:p@db.example:5432/alliance"),
        ("postgres://u:p@db/alliance?sslmode=require", "postgresql+asyncpg://u:p@db/alliance?ssl=require"),
        ("postgresql+asyncpg://u@db/a", "postgresql+asyncpg://u@db/a"),
        ("sqlite:////var/lib/alliance/x.db", "sqlite+aiosqlite:////var/lib/alliance/x.db"),
    ],
)
def test_database_url_maps_database_url_to_async_drivers(
    make_settings: Callable[..., Settings], given: str, expected: str
) -> None:
    assert database_url(make_settings(database_url=SecretStr(given))) == expected


def test_database_url_refuses_other_databases(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(StorageError, match="postgresql://"):
        database_url(make_settings(database_url=SecretStr("mysql://u:secret@db/a")))


def test_postgres_ddl_uses_native_types_and_sqlite_ddl_guards_thread_ids() -> None:
    pg = "\n".join(schema_statements("postgresql"))
    lite = "\n".join(schema_statements("sqlite"))
    assert '"id" UUID PRIMARY KEY' in pg and '"metadata" JSONB' in pg and '"tags" TEXT[]' in pg
    assert "GLOB" not in pg and "UUID" not in lite and "JSONB" not in lite
    assert "GLOB" in lite  # Chainlit splices thread ids into SQL: only UUID-shaped ids get in
    for statements in (pg, lite):
        for table in (*CHAINLIT_TABLES, SESSIONS_TABLE):
            assert f"CREATE TABLE IF NOT EXISTS {table} (" in statements


# --------------------------------------------------------------------------- the schema


ROLES: dict[str, Role] = {"prof": "faculty"}


@pytest.fixture(params=DATABASES)
async def layer(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AllianceDataLayer]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "data" / "alliance.db")
    else:
        url = database_url(Settings(_env_file=None, DATABASE_URL=POSTGRES_URL))  # type: ignore[call-arg]
        await drop_tables(url)
    data_layer = AllianceDataLayer(url, role_of=lambda name: ROLES.get(name, "learner"))
    yield data_layer
    await data_layer.engine.dispose()


async def layer_tables(layer: AllianceDataLayer) -> set[str]:
    async with layer.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def cells_with(layer: AllianceDataLayer, tables: Sequence[str], needle: str) -> list[str]:
    """Every cell (any column, any type) of these tables that contains the needle, as 'table.column'."""
    found = []
    async with layer.engine.connect() as conn:
        for table in tables:
            result = await conn.execute(text(f"SELECT * FROM {table}"))
            found += [f"{table}.{c}" for row in result.mappings() for c, v in row.items() if needle in str(v)]
    return found


async def test_schema_is_created_on_a_fresh_file_owner_only_and_creating_it_again_keeps_the_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh" / "alliance.db"
    engine = make_engine(sqlite_url(path))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it will hold conversations
        assert sqlite_tables(path) == set()
        await create_schema(engine)
        assert sqlite_tables(path) == SCHEMA_TABLES
        store = SessionStore(engine)
        await store.save(str(uuid.uuid4()), "alice", make_rich_session())
        await create_schema(engine)  # second start
        await create_schema(engine)
        assert sqlite_tables(path) == SCHEMA_TABLES
        with sqlite3.connect(path) as conn:
            assert conn.execute(f"SELECT count(*) FROM {SESSIONS_TABLE}").fetchone() == (1,)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await engine.dispose()


async def test_the_data_layer_creates_the_schema_on_first_use_and_chainlits_queries_work_on_it(
    layer: AllianceDataLayer,
) -> None:
    assert await layer_tables(layer) == set()
    user = await layer.create_user(User(identifier="alice", metadata={"role": "learner"}))
    assert user is not None and user.metadata == {"role": "learner"}
    assert await layer_tables(layer) == SCHEMA_TABLES

    thread_id = str(uuid.uuid4())
    # What Chainlit writes for a first message: the thread with its profile tag, then the steps.
    await layer.update_thread(thread_id, name="Bonjour", user_id=user.id, tags=["bertrand.fr"], metadata={"a": 1})
    step_id = str(uuid.uuid4())
    step: dict[str, Any] = {
        "id": step_id,
        "threadId": thread_id,
        "name": "Mme Bertrand",
        "type": "assistant_message",
        "output": "Bonjour docteur.",
        "streaming": False,
        "isError": False,
        "waitForAnswer": False,
        "createdAt": "2026-01-01T00:00:00Z",
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T00:00:01Z",
        "metadata": {},
        "tags": ["x"],
        "modes": {"mode": "a"},  # a dict: neither SQLite nor asyncpg's JSONB bind it as is
        "command": None,
        "language": None,
    }
    http_context()
    await layer.create_step(step)  # type: ignore[arg-type]
    thread = await layer.get_thread(thread_id)
    assert thread is not None
    assert thread["userIdentifier"] == "alice" and thread["tags"] == ["bertrand.fr"]
    assert [s["output"] for s in thread["steps"]] == ["Bonjour docteur."]
    assert await layer.get_thread_author(thread_id) == "alice"
    assert await layer.get_thread_author(str(uuid.uuid4())) == ""  # unknown: Chainlit then answers 404

    listed = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
    assert [t["id"] for t in listed.data] == [thread_id]


async def test_a_thread_id_that_is_not_a_uuid_never_gets_into_the_threads_table(layer: AllianceDataLayer) -> None:
    # Chainlit's thread list builds `IN ('id1','id2')` by string concatenation: a quote in an id
    # would be SQL injection into every later listing of that user.
    user = await layer.create_user(User(identifier="mallory"))
    assert user is not None
    good = str(uuid.uuid4())
    for thread_id in ("x') OR 1=1 --", good):
        await layer.update_thread(thread_id, name="visit", user_id=user.id)
    rows = await layer.execute_sql('SELECT "id" FROM threads', {})
    assert rows == [{"id": good}]


async def test_faculty_list_every_thread_with_the_authors_name_and_learners_only_theirs(
    layer: AllianceDataLayer,
) -> None:
    ids = {}
    for name in ("alice", "bob", "prof"):
        user = await layer.create_user(User(identifier=name))
        assert user is not None
        ids[name] = user.id
        await layer.update_thread(str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), name=f"visit of {name}", user_id=user.id)

    async def names(viewer: str) -> list[str]:
        page = await layer.list_threads(Pagination(first=20), ThreadFilter(userId=ids[viewer]))
        return sorted(str(t["name"]) for t in page.data)

    assert await names("alice") == ["visit of alice"]
    assert await names("bob") == ["visit of bob"]
    assert await names("prof") == ["alice · visit of alice", "bob · visit of bob", "visit of prof"]


# --------------------------------------------------------------------------- the session store


async def test_session_round_trip_keeps_hidden_states_and_nothing_of_them_reaches_chainlits_tables(
    layer: AllianceDataLayer,
) -> None:
    user = await layer.create_user(User(identifier="alice"))
    assert user is not None
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="visit", user_id=user.id, metadata={"level": "coach"})
    session = make_rich_session(turns=3)
    await layer.sessions.save(thread_id, "alice", session, VisitState(level="coach", unavailable=[2, 0]))

    stored = await layer.sessions.read(thread_id, ALICE)
    assert stored is not None and stored.owner == "alice"
    assert stored.session == session  # every field, hidden states included
    hidden = [t.hidden for t in stored.session.turns if t.hidden is not None]
    assert len(hidden) == 3 and all(KEPT_MARKER in h.inner_monologue for h in hidden)
    assert stored.view == VisitState(level="coach", unavailable=[0, 2])

    # The scan looks at a database that does hold the secret, in our table only.
    assert await cells_with(layer, [SESSIONS_TABLE], KEPT_MARKER) == [f"{SESSIONS_TABLE}.session_json"]
    assert await cells_with(layer, CHAINLIT_TABLES, KEPT_MARKER) == []
    assert await cells_with(layer, CHAINLIT_TABLES, "coach") == ["threads.metadata"]  # it does read them
    thread = await layer.get_thread(thread_id)
    assert thread is not None and KEPT_MARKER not in str(thread)


async def test_reads_go_through_the_access_rule(layer: AllianceDataLayer) -> None:
    thread_id = str(uuid.uuid4())
    await layer.sessions.save(thread_id, "alice", make_rich_session())
    assert await layer.sessions.read(thread_id, ALICE) is not None
    assert await layer.sessions.read(thread_id, PROF) is not None  # faculty review any session
    with pytest.raises(AccessDenied):
        await layer.sessions.read(thread_id, BOB)
    assert await layer.sessions.read(str(uuid.uuid4()), ALICE) is None


async def test_a_thread_kept_for_one_user_cannot_be_overwritten_by_another(layer: AllianceDataLayer) -> None:
    thread_id = str(uuid.uuid4())
    original = make_rich_session(turns=1)
    await layer.sessions.save(thread_id, "alice", original)
    with pytest.raises(AccessDenied):
        await layer.sessions.save(thread_id, "bob", make_rich_session(turns=2, marker="bob"))
    stored = await layer.sessions.read(thread_id, ALICE)
    assert stored is not None and stored.session == original and stored.owner == "alice"


async def test_concurrent_saves_of_one_thread_end_with_the_latest_state(layer: AllianceDataLayer) -> None:
    thread_id = str(uuid.uuid4())
    session = make_rich_session(turns=0)

    async def turn(n: int) -> None:
        session.add_learner_turn(f"tour {n}")
        await layer.sessions.save(thread_id, "alice", session)

    await asyncio.gather(*(turn(n) for n in range(12)))
    stored = await layer.sessions.read(thread_id, ALICE)
    assert stored is not None and len(stored.session.turns) == 12


async def test_deleting_a_thread_deletes_its_kept_session(layer: AllianceDataLayer) -> None:
    user = await layer.create_user(User(identifier="alice"))
    assert user is not None
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="visit", user_id=user.id)
    await layer.sessions.save(thread_id, "alice", make_rich_session())
    await layer.delete_thread(thread_id)
    assert await layer.get_thread(thread_id) is None
    assert await layer.sessions.read(thread_id, ALICE) is None


def test_with_learner_turn_is_the_next_state_and_leaves_the_session_alone() -> None:
    session = make_rich_session(turns=1)
    pending = with_learner_turn(session, "Et le travail ?")
    assert len(session.turns) == 2
    assert [t.text for t in pending.turns[:2]] == [t.text for t in session.turns]
    assert pending.turns[-1].id == 2 and pending.turns[-1].text == "Et le travail ?"
    session.add_learner_turn("Et le travail ?")  # what Conversation.learner_says then does
    assert session.observer_transcript() == pending.observer_transcript()


async def test_10_a_save_on_a_stale_version_writes_nothing_and_says_what_it_found(tmp_path: Path) -> None:
    from agent.storage.sessions import StaleSession, make_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}")
    store = SessionStore(engine)
    first = make_rich_session(1)
    assert await store.save("t-1", "alice", first, expected_version=0) == 1
    assert await store.save("t-1", "alice", first, expected_version=1) == 2
    other = make_rich_session(2)
    with pytest.raises(StaleSession) as stale:
        await store.save("t-1", "alice", other, expected_version=1)
    assert (stale.value.expected, stale.value.found) == (1, 2)
    kept = await store.read("t-1", Requester("alice", "learner"))
    assert kept is not None and kept.version == 2 and kept.session == first
    with pytest.raises(StaleSession):  # "must not exist yet" when it does
        await store.save("t-1", "alice", other, expected_version=0)
    with pytest.raises(AccessDenied):  # someone else's thread is refused as before, whatever the version
        await store.save("t-1", "bob", other, expected_version=2)
    await engine.dispose()


async def test_10_a_database_from_before_versions_gets_the_column(tmp_path: Path) -> None:
    from agent.storage.sessions import make_engine

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the table as it was, with one kept row
        conn.execute(
            f'CREATE TABLE {SESSIONS_TABLE} ("thread_id" TEXT PRIMARY KEY, "owner" TEXT NOT NULL, '
            '"session_id" TEXT NOT NULL, "persona_id" TEXT NOT NULL, "session_json" TEXT NOT NULL, '
            '"view_json" TEXT NOT NULL, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL)'
        )
        session = make_rich_session(1)
        conn.execute(
            f"INSERT INTO {SESSIONS_TABLE} VALUES ('t-old', 'alice', ?, 'bertrand.fr', ?, '{{}}', 'x', 'x')",
            (session.id, session.to_json()),
        )
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    store = SessionStore(engine)
    kept = await store.read("t-old", Requester("alice", "learner"))
    assert kept is not None and kept.version == 1
    assert await store.save("t-old", "alice", kept.session, expected_version=1) == 2
    await engine.dispose()
