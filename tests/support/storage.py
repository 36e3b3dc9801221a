"""Shared by the storage, access and app tests: which databases to run on, what a SQLite file holds.

SQLite always. PostgreSQL too when TEST_POSTGRES_URL names a THROWAWAY database (its tables
are dropped before each test), e.g. postgresql://alliance@127.0.0.1:5432/alliance_test.
Read at import, so the autouse environment isolation does not hide it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from agent.domain.events import AllianceEvent
from agent.domain.session import AlliancePerception, HiddenState, Session
from agent.domain.taxonomy import Emotion, EventKind, Move, RuptureType, Speaker
from agent.storage.database import CONSENSUS_TABLE, LABELS_TABLE, LOGINS_TABLE, TABS_TABLE
from agent.storage.sessions import CHAINLIT_TABLES, SESSIONS_TABLE, make_engine

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
if os.environ.get("ALLIANCE_REQUIRE_POSTGRES") == "1" and not POSTGRES_URL:  # `make unit`: none may be skipped
    raise RuntimeError("ALLIANCE_REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set: run `make unit`")

DATABASES: list[Any] = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")),
]


async def drop_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for table in (
                LABELS_TABLE,
                CONSENSUS_TABLE,
                SESSIONS_TABLE,
                LOGINS_TABLE,
                TABS_TABLE,
                "feedbacks",
                "elements",
                "steps",
                "threads",
                "users",
            ):
                await conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    finally:
        await engine.dispose()


KEPT_MARKER = "QZV-secret-inner-3b8d"


def make_rich_session(turns: int = 2, marker: str = KEPT_MARKER) -> Session:
    session = Session(persona_id="bertrand.fr", language="fr", llm="fake")
    for n in range(turns):
        session.add_learner_turn(f"Bonjour, question {n} ?")
        hidden = HiddenState(
            inner_monologue=f"Pensée secrète {n} {marker}",
            emotions=[Emotion.anxiety, Emotion.shame],
            alliance=AlliancePerception(goals=3, tasks=2, bond=4),
            intended_move=Move.withdrawal,
            move_subtype=f"sub-{marker}",
        )
        session.add_patient_turn(f"Réponse {n}.", hidden)
    return session


def flagged_rich_session(marker: str = KEPT_MARKER) -> Session:
    """`make_rich_session(2)` with the monitor's withdrawal flag on the patient's first reply (turn 1)."""
    session = make_rich_session(2, marker=marker)
    session.events.append(
        AllianceEvent(
            turn=1,
            speaker=Speaker.patient,
            kind=EventKind.rupture_marker,
            rupture=RuptureType.withdrawal,
            evidence="Réponse 0",
            confidence=0.9,
        )
    )
    return session


def sqlite_tables(path: Path) -> set[str]:
    """The tables of a SQLite file."""
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def chainlit_cells_with(path: Path, needle: str) -> list[str]:
    """Every cell of Chainlit's tables (any column) in a SQLite file that contains the needle, as 'table.column'."""
    found = []
    with sqlite3.connect(path) as conn:
        for table in CHAINLIT_TABLES:
            cursor = conn.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                found += [f"{table}.{c}" for c, v in zip(columns, row, strict=True) if needle in str(v)]
    return found
