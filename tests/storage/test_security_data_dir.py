"""The data folder (ALLIANCE_DATA_DIR: the database, the login secret, the users file) is created
owner-only, whichever of the app or `alliance users` creates it first (issue 12, "held": 0700)."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli import users as users_command
from agent.cli.arguments import build_parser
from agent.config import Settings
from agent.storage.sessions import database_url, prepare_sqlite_file
from agent.storage.users import ensure_auth_secret


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, so that a folder made with default modes would be 0755 here too."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_the_data_folder_is_created_owner_only(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    by_command = make_settings(data_dir=tmp_path / "one" / "data")
    args = build_parser().parse_args(["users", "add", "alice", "--password-stdin"])
    assert users_command.run(args, by_command, stdin=io.StringIO("alice-pass-1\n"), out=io.StringIO()) == 0
    assert mode(by_command.data_dir) == 0o700 and mode(by_command.users_path()) == 0o600

    by_secret = make_settings(data_dir=tmp_path / "two" / "data")
    ensure_auth_secret(by_secret, {})
    assert mode(by_secret.data_dir) == 0o700

    by_database = make_settings(data_dir=tmp_path / "three" / "data")
    prepare_sqlite_file(database_url(by_database))
    assert mode(by_database.data_dir) == 0o700


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_data_folder_keeps_its_mode(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    chosen = tmp_path / "shared"
    chosen.mkdir(mode=0o750)
    settings = make_settings(data_dir=chosen)
    ensure_auth_secret(settings, {})
    assert mode(chosen) == 0o750  # a folder the operator chose and made is theirs: only what we create is ours
