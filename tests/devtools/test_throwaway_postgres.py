"""The throwaway PostgreSQL of `make unit`: it serves, the command sees its URL, and nothing is left behind."""

from __future__ import annotations

import asyncio
import glob
import sys

import pytest
from sqlalchemy import text

from agent.config import Settings
from agent.devtools.throwaway_postgres import PostgresMissing, binaries, main, throwaway_postgres
from agent.storage.sessions import database_url, make_engine


def _installed() -> bool:
    try:
        binaries()
    except PostgresMissing:
        return False
    return True


needs_server = pytest.mark.skipif(not _installed(), reason="no PostgreSQL server installed (`make postgres`)")


@needs_server
def test_a_throwaway_server_answers_and_its_directory_goes_away() -> None:
    before = set(glob.glob("/tmp/alliance-pg-*"))
    with throwaway_postgres() as url:
        engine = make_engine(database_url(Settings(_env_file=None, DATABASE_URL=url)))  # type: ignore[call-arg]

        async def ask() -> int:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT 41 + 1"))).scalar_one())

        assert asyncio.run(ask()) == 42
        asyncio.run(engine.dispose())
    assert set(glob.glob("/tmp/alliance-pg-*")) == before


@needs_server
def test_the_command_gets_the_url_and_its_exit_status_is_returned() -> None:
    check = "import os, sys; sys.exit(0 if os.environ['TEST_POSTGRES_URL'].startswith('postgresql://') else 5)"
    assert main(["--", sys.executable, "-c", check]) == 0
    assert main(["--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
