"""Two faculty members label the same kept session in a real Chromium, see their agreement (Cohen's kappa), and
the agreed labels exported by `alliance labels export` run through `alliance eval` (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import REPO_ROOT
from agent.devtools.loadtest import Served, running, serve_chainlit, serve_stub, stub_env
from agent.domain.visit import VisitState
from agent.storage.sessions import SessionStore, make_engine
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS
from tests.support.storage import flagged_rich_session

pytestmark = pytest.mark.e2e

THREAD = str(uuid.uuid4())
# Turns: 0 "Bonjour, question 0 ?", 1 "Réponse 0.", 2 "Bonjour, question 1 ?", 3 "Réponse 1."
RATERS = {
    "ann": {0: "exploratory", 1: "withdrawal", 2: "none", 3: "none"},
    "ben": {0: "exploratory", 1: "confrontation", 2: "none", 3: "none"},
}


async def _seed(data: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{data / 'alliance.db'}")
    session = flagged_rich_session()
    await SessionStore(engine).save(THREAD, "alice", session, VisitState(ended=True))
    await engine.dispose()


@pytest.fixture(scope="module")
def faculty_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    from agent.storage.users import Account, hash_password, write_users_file

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (the e2e target does)")
    work = tmp_path_factory.mktemp("e2e-labels")
    users = work / "users.toml"
    accounts = {name: Account(name, "faculty", hash_password(f"{name}-pass-123")) for name in RATERS}
    accounts["alice"] = Account("alice", "learner", hash_password("alice-pass-123"))
    write_users_file(users, accounts)
    asyncio.run(_seed(work / "data"))
    with running(serve_stub(work / "stub.log")) as stub:
        env = stub_env(stub, work / "data", ALLIANCE_USERS_FILE=str(users))
        with running(serve_chainlit("agent/web/app.py", env, work / "app.log")) as app:
            yield app, work


def _alliance(args: list[str], work: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALLIANCE_DATA_DIR": str(work / "data"), "LANG": "C.UTF-8"}
    env["ALLIANCE_PERSONAS_DIR"] = str(REPO_ROOT / "personas")
    command = [sys.executable, "-m", "agent.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, timeout=300, check=False)


async def test_two_faculty_label_a_session_see_kappa_and_the_export_runs_through_eval(
    faculty_app: tuple[Served, Path],
) -> None:
    from playwright.async_api import async_playwright, expect

    app, work = faculty_app
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, labels in RATERS.items():
            page = await (await browser.new_context(locale="en-US")).new_page()
            await page.goto(app.url)
            await page.fill("#email", name)
            await page.fill("#password", f"{name}-pass-123")
            await page.get_by_role("button", name="Sign In").click()
            await page.wait_for_selector("#chat-input", timeout=60_000)
            # From the review list to the labelling page of the session: labels given blind.
            await page.goto(f"{app.url}/alliance/review?lang=en")
            await page.locator(f"a[href^='/alliance/label/{THREAD}']").click()
            await expect(page.get_by_text("Réponse 0.")).to_be_visible(timeout=30_000)
            assert "Monitor" not in await page.inner_text("body")
            for turn, label in labels.items():
                await page.select_option(f"select[name=label_{turn}]", label)
            await page.get_by_role("button", name="Save my labels").click()
            await expect(page.get_by_role("heading", name="Agreement on the session: Mme Bertrand")).to_be_visible(
                timeout=30_000
            )
            await page.screenshot(path=str(SHOTS / f"7-agreement-{name}.png"), full_page=True)
        # The second rater sees the pair's kappa, each against the monitor, and the turn they disagree on.
        pairs = page.get_by_test_id("pairs")
        await expect(pairs).to_contain_text("ann")
        await expect(pairs.locator("td.kappa")).to_have_text("0.64")  # (3/4 - 5/16) / (11/16)
        await expect(page.get_by_test_id("with-monitor")).to_contain_text("Monitor")
        await expect(page.locator("#turn-1")).to_have_class("disagreed")
        await browser.close()

    out = work / "labels.jsonl"
    exported = _alliance(["labels", "export", "--out", str(out)], work)
    assert exported.returncode == 0, exported.stderr
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [item["gold_label"] for item in items] == ["exploratory", "none", "none"]  # turn 1 has no consensus yet
    scored = _alliance(["eval", "--dataset", str(out), "--quiet"], work)
    assert scored.returncode == 0, scored.stderr
    assert "n=3" in scored.stdout.splitlines()[-1], scored.stdout
