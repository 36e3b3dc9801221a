"""What the browser tests share: Debian's Chromium, its flags, and where screenshots go."""

from __future__ import annotations

from pathlib import Path

from agent.config import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO_ROOT / "reports" / "e2e"
