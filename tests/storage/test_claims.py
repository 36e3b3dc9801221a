"""Who asks the patient for a visit's next reply, across processes (agent.storage.claims), on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.config import Settings
from agent.storage.claims import AnswerClaims
from agent.storage.sessions import database_url, make_engine
from tests.support.storage import DATABASES, POSTGRES_URL, drop_tables

THREAD = "0b7c5a7e-3a52-4c6e-9f0e-4d1c2b3a4f51"
OTHER = "0b7c5a7e-3a52-4c6e-9f0e-4d1c2b3a4f52"


@pytest.fixture(params=DATABASES)
async def claims(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnswerClaims]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'alliance.db'}"
    else:
        url = database_url(Settings(_env_file=None, DATABASE_URL=POSTGRES_URL))  # type: ignore[call-arg]
        await drop_tables(url)
    engine = make_engine(url)
    yield AnswerClaims(engine)
    await engine.dispose()


async def test_a_claimed_visit_is_refused_to_another_process_until_it_is_let_go(claims: AnswerClaims) -> None:
    assert await claims.claim(THREAD, "process-a")
    assert await claims.holder(THREAD) == "process-a"
    assert not await claims.claim(THREAD, "process-b")
    assert await claims.claim(OTHER, "process-b")  # another visit is free
    assert await claims.claim(THREAD, "process-a")  # its holder renews it
    await claims.release(THREAD, "process-b")  # not b's: nothing changes
    assert await claims.holder(THREAD) == "process-a"
    await claims.release(THREAD, "process-a")
    assert await claims.holder(THREAD) is None
    assert await claims.claim(THREAD, "process-b")


async def test_a_lease_that_ran_out_frees_the_visit_and_its_old_holder_cannot_renew_it(claims: AnswerClaims) -> None:
    """A process that died while answering: its claim holds nothing once the lease has run out."""
    assert await claims.claim(THREAD, "process-a", lease=timedelta(seconds=-1))  # already run out
    assert await claims.holder(THREAD) is None
    assert await claims.claim(THREAD, "process-b")
    assert not await claims.renew(THREAD, "process-a")
    assert await claims.holder(THREAD) == "process-b"


async def test_of_many_processes_claiming_at_once_exactly_one_wins(claims: AnswerClaims) -> None:
    won = await asyncio.gather(*(claims.claim(THREAD, f"process-{n}") for n in range(8)))
    assert sum(won) == 1
    assert await claims.holder(THREAD) == f"process-{won.index(True)}"
