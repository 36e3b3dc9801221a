"""The app as a learner meets it: a real Chromium (Debian's) driven by Playwright, against
`chainlit run agent/web/app.py` on loopback, with the stub LLM behind `OPENAI_BASE_URL`.

Pick a patient, send three turns, see the reply stream and the monitor's flags appear, end
the visit, see the debrief and its plot. Screenshots are kept in `reports/e2e/` as artifacts.
Run by `make e2e` (part of `make test`); needs `/usr/bin/chromium` (`make browser` installs it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.devtools.loadtest import Served, running, serve_chainlit, serve_stub, stub_env
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-never-shown-5f3a9c"
LINES = [
    "Hello Ms. Miller, I'm the new physician taking over from Dr. Hanlon. How have you been?",
    "I'm not renewing the oxycodone, and that's final.",
    "I think I came across as harsh just now. What worries you most about all this?",
]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (the e2e target does)")
    work = tmp_path_factory.mktemp("e2e")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running(serve_stub(work / "stub.log", "--latency", "patient_turn=2.5")) as stub:
        env = stub_env(stub, work / "data", OPENAI_API_KEY=KEY)
        with running(serve_chainlit("agent/web/app.py", env, SHOTS / "app.log")) as app:
            yield app, work


@pytest.fixture
async def page(app_server: tuple[Served, Path]) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
        tab = await context.new_page()
        await tab.goto(app_server[0].url)
        await tab.wait_for_selector("#chat-input", timeout=90_000)
        yield tab
        await browser.close()


# Records, in the page, every text the newest patient message shows: each DOM change is seen (no polling).
WATCH = """(before) => {
    window.__shown = [];
    const note = () => {
        const replies = document.querySelectorAll('[data-step-type=assistant_message]');
        if (replies.length <= before) return;
        const text = replies[replies.length - 1].innerText;
        if (window.__shown[window.__shown.length - 1] !== text) window.__shown.push(text);
    };
    window.__watch?.disconnect();
    window.__watch = new MutationObserver(note);
    window.__watch.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def _send(page: object, text: str) -> list[str]:
    """Send a learner line; return every text the new patient message showed, in order, once its reply
    has ended (its "Try again from here" action has appeared). Waits on the page's events, bounded."""
    from playwright.async_api import Page

    assert isinstance(page, Page)
    replies = page.locator("[data-step-type=assistant_message]")
    retry = page.get_by_role("button", name=re.compile("Try again from here"))
    before, done_before = await replies.count(), await retry.count()
    await page.evaluate(WATCH, before)
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")
    await page.get_by_text(text, exact=True).first.wait_for(timeout=30_000)
    await page.wait_for_function(
        "(n) => [...document.querySelectorAll('button')].filter("
        "b => b.innerText.includes('Try again from here')).length > n",
        arg=done_before,
        timeout=60_000,
    )
    shown = await page.evaluate("window.__shown")
    assert isinstance(shown, list)
    return [str(each) for each in shown] + [await replies.last.inner_text()]


async def _opened(page: object, brief: str = "Case brief:") -> None:
    """Wait for the visit's brief, without reloading. Chainlit's page often opens a socket, drops it and opens
    another (on first load, on a change of patient); the app sends the opening again to the new socket
    (agent/web/reconnect.py), so the brief shows whatever the timing (issue 12, item 17)."""
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    await expect(page.get_by_text(brief).first).to_be_visible(timeout=60_000)


async def test_a_learner_visit_from_the_patient_picker_to_the_debrief(
    page: object, app_server: tuple[Served, Path]
) -> None:
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    # Pick a patient (once the default one's visit has opened: the picker starts a new one). No reload.
    await _opened(page)
    await page.click("#chat-profiles")
    await page.get_by_role("option", name="Ms. Miller (EN)").click()
    await expect(page.locator("#chat-profiles")).to_contain_text("Ms. Miller")
    await _opened(page, "Case brief: Ms. Miller")
    panel = page.locator("#side-view-content")
    await expect(panel.get_by_test_id("case-brief")).to_contain_text("Ms. Miller", timeout=30_000)
    await expect(panel.get_by_text("No flags yet.")).to_have_count(1)  # said once (issue 12, item 19)
    assert "AllianceMonitor" not in await page.inner_text("body")
    await page.screenshot(path=str(SHOTS / "1-brief.png"))

    # Three turns: each reply streams (seen growing), the monitor flags the repair attempt.
    streamed_any = False
    for index, line in enumerate(LINES):
        samples = await _send(page, line)
        final = samples[-1]
        assert final.strip(), f"no reply to turn {index + 1}"
        streamed_any = streamed_any or any(0 < len(s) < len(final) and final.startswith(s[:5]) for s in samples)
        await page.screenshot(path=str(SHOTS / f"2-turn{index + 1}.png"))
    assert streamed_any, "the reply never showed partially: it did not stream"
    monitor = page.locator("#side-view-content")
    await expect(monitor.get_by_test_id("case-brief")).to_contain_text("Ms. Miller")  # pinned (item 18)
    await expect(monitor).to_contain_text("REPAIR ATTEMPT", ignore_case=True, timeout=20_000)
    await expect(monitor).to_contain_text("What worries you most about all this?")
    await page.screenshot(path=str(SHOTS / "3-monitor.png"))

    # End the visit: the debrief and its plot.
    await page.get_by_role("button", name="End the visit").last.click()
    # First the form to read the patient (issue 15; tests/e2e/test_reading.py answers it): skipped here.
    await page.get_by_test_id("patient-reading").get_by_role("button", name="Skip").click(timeout=60_000)
    await expect(page.get_by_text("Here is what the patient lived through")).to_be_visible(timeout=30_000)
    await expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    body = await page.inner_text("body")
    assert "Alliance trajectory" in body and "In numbers" in body
    await page.screenshot(path=str(SHOTS / "4-debrief.png"))
    plot = page.locator(".js-plotly-plot").first
    await plot.scroll_into_view_if_needed()
    await plot.screenshot(path=str(SHOTS / "5-timeline-plot.png"))

    # The API key reached nothing the learner can see, and nothing the server wrote.
    assert KEY not in await page.content()
    work = app_server[1]
    assert KEY not in (SHOTS / "app.log").read_text(errors="replace")
    for path in (work / "data").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.fixture(scope="module")
def app_with_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from agent.storage.users import Account, hash_password, write_users_file

    work = tmp_path_factory.mktemp("e2e-users")
    users = work / "users.toml"
    accounts = {name: Account(name, "learner", hash_password(f"{name}-pass-123")) for name in ("alice", "bob")}
    write_users_file(users, accounts)
    with running(serve_stub(work / "stub.log")) as stub:
        env = stub_env(stub, work / "data", OPENAI_API_KEY=KEY, ALLIANCE_USERS_FILE=str(users))
        with running(serve_chainlit("agent/web/app.py", env, work / "app.log")) as app:
            yield app


async def test_a_learner_cannot_open_another_learners_thread_in_the_browser(app_with_users: Served) -> None:
    from playwright.async_api import Browser, Page, async_playwright, expect

    async def login(browser: Browser, name: str) -> Page:
        page = await (await browser.new_context(locale="en-US")).new_page()
        await page.goto(app_with_users.url)
        await page.fill("#email", name)
        await page.fill("#password", f"{name}-pass-123")
        await page.get_by_role("button", name="Sign In").click()
        await page.wait_for_selector("#chat-input", timeout=60_000)
        return page

    words = "Alice's own words, for her eyes and her teachers' only"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        alice = await login(browser, "alice")
        await _opened(alice)
        await alice.fill("#chat-input", words)
        await alice.press("#chat-input", "Enter")
        await expect(alice.get_by_role("button", name="End the visit").first).to_be_visible(timeout=30_000)
        await expect(alice).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
        thread_url = alice.url
        # Alice, in a fresh browser, reopens her thread: her words are there (the check below can fail).
        again = await login(browser, "alice")
        await again.goto(thread_url)
        await expect(again.get_by_text(words).first).to_be_visible(timeout=30_000)
        # Bob, logged in, opens the same address: nothing of Alice's.
        bob = await login(browser, "bob")
        await bob.goto(thread_url)
        await bob.wait_for_timeout(3_000)
        await bob.screenshot(path=str(SHOTS / "6-another-learners-thread.png"))
        assert words not in await bob.inner_text("body")
        api = await bob.request.get(f"{app_with_users.url}/project/thread/{thread_url.rsplit('/', 1)[1]}")
        assert api.status in (401, 403, 404)
        await browser.close()
