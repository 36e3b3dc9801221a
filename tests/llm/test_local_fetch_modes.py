"""The model download creates the data folder owner-only, like the app does (issue 12, held: 0700)."""

from __future__ import annotations

import stat
from pathlib import Path

from agent.llm.local_fetch import private_dir


def test_the_download_folders_are_created_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "data" / "wheels"
    private_dir(target)
    for folder in (tmp_path / "data", target):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    private_dir(target)  # already there: nothing changes, nothing fails
